import type {
  ConversationSummary, CursorEvent, FailedReply, JsonObject, JsonValue, LoginResult, Message, SendTarget, StatusEvent,
} from 'egg-im-protocol';
import type { ImClientError } from './errors';

/**
 * An app's message types: type name → content shape. Declare it as a `type` (or an interface), e.g.
 * `type MyTypes = BuiltinMessageTypes & { location: { lat: number; lng: number } }`, then use `ImClient<MyTypes>`.
 * Contents must be JSON objects; the server validates them, the client only types them.
 */
export type MessageTypeMap<M> = { [K in keyof M]: object };

/** Used when the app declares no map: any type name, any JSON object. */
export type AnyMessageTypes = Record<string, JsonObject>;

/** The built-in `text` type (other keys are allowed and kept by the server). */
export interface TextContent { text: string; [key: string]: JsonValue }
export type BuiltinMessageTypes = { text: TextContent };

/** The type names of a map. */
export type MessageTypeName<M> = keyof M & string;

/** A stored message of one type of the map. */
export interface TypedMessageOf<K extends string, C> extends Omit<Message, 'type' | 'content'> {
  type: K;
  content: C;
}

/** A stored message of the map: a union discriminated by `type` (narrow with `if (m.type === 'location')`). */
export type TypedMessage<M, K extends MessageTypeName<M> = MessageTypeName<M>> = {
  [T in K]: TypedMessageOf<T, M[T]>;
}[K];

/** One item of `sendBatch`: the `message:send` body, `clientMsgId` generated when absent. */
export type BatchItem<M, K extends MessageTypeName<M> = MessageTypeName<M>> = {
  [T in K]: { to: SendTarget; type: T; content: M[T]; meta?: JsonObject; clientMsgId?: string };
}[K];

/** One result of `sendBatch`, in the order of the items: the `message:send` ack. */
export type BatchResult<M> = { ok: true; message: TypedMessage<M> } | FailedReply;

/** Retry policy of the calls that are safe to repeat (send, sync, read, batch). */
export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** First backoff delay; doubles each attempt, with jitter (default 300 ms). */
  baseDelayMs?: number;
  /** Largest backoff delay (default 5000 ms). */
  maxDelayMs?: number;
}

/** How to reach the server; shared by the static `login` / `register` and the client. */
export interface EndpointOptions {
  /** e.g. `http://localhost:7001` (a path, if any, is kept for HTTP; the socket uses the origin and `socketPath`). */
  baseUrl: string;
  /** HTTP prefix of the im routes (default `/im`, the server's `config.imConnection.http.prefix`). */
  prefix?: string;
  /** HTTP request timeout (default 15000 ms). */
  httpTimeoutMs?: number;
  /** A `fetch` implementation (default the global one). */
  fetch?: typeof fetch;
}

export interface ImClientOptions extends EndpointOptions {
  token: string;
  userId: string;
  sessionId?: string;
  deviceId?: string;
  expiresAt?: string;
  /** Last contiguous seq per conversation, e.g. persisted from `client.cursors` (default: none, i.e. from 0). */
  cursors?: Record<string, number>;
  /** Socket.IO path (default `/socket.io`). */
  socketPath?: string;
  /** Socket.IO transports (default `['websocket']`). */
  transports?: Array<'websocket' | 'polling' | 'webtransport'>;
  /** Reconnection of the socket (socket.io-client's own): delays and attempts (default 500 ms … 5000 ms, unlimited). */
  reconnection?: { delayMs?: number; maxDelayMs?: number; attempts?: number };
  /** Time to wait for one socket ack (default 5000 ms). */
  ackTimeoutMs?: number;
  /** How long a call waits for the socket to (re)connect before it gives up (default 15000 ms). */
  connectWaitMs?: number;
  retry?: RetryOptions;
  /** `limit` of each `sync` call (default 100). */
  syncLimit?: number;
  /** How long a gap may wait for the missing messages to be pushed before the client syncs (default 200 ms). */
  gapWaitMs?: number;
  /** Sync after every (re)connect (default true). */
  syncOnConnect?: boolean;
}

export interface LoginOptions extends Omit<ImClientOptions, 'token' | 'userId' | 'sessionId' | 'deviceId' | 'expiresAt'> {
  username: string;
  password: string;
  deviceId?: string;
}

export interface RegisterOptions extends EndpointOptions {
  username: string;
  password: string;
}

export type { LoginResult };

export interface RegisterResult { userId: string }

export interface HistoryQuery { afterSeq?: number; beforeSeq?: number; limit?: number }
export interface HistoryResult<M> { messages: TypedMessage<M>[]; hasMore: boolean }

export interface ConversationsQuery { limit?: number; cursor?: string }
/** `next`, while `hasMore`: the `cursor` of the next page. */
export interface ConversationsResult { conversations: ConversationSummary[]; hasMore: boolean; next?: string }
export interface CreateGroupResult { groupId: string; conversationId: string }
export interface GroupMembersResult { groupId: string; memberIds: string[] }

/** Given on `sessionExpired`: from the server's `session:expired` event, or from a reconnect refused with `SESSION_EXPIRED`. */
export interface ClientSessionExpiredEvent { sessionId?: string }

/** The client's events. `message` delivers each message once, in `seq` order per conversation. */
export interface ImClientEvents<M> {
  /** The socket connected (first time and every reconnect). */
  connect: () => void;
  /** The socket dropped; `willReconnect` false when socket.io gave up or the server closed it for good. */
  disconnect: (reason: string, willReconnect: boolean) => void;
  /** A new message, deduplicated and in order; `client.cursors` already includes it. Own sends come back here too. */
  message: (message: TypedMessage<M>) => void;
  /**
   * How far a member has received (`deliveredSeq`) and read (`readSeq`) a conversation this user sent to
   * (`message:cursors`, one event per member): every message of this user at or below the seq is delivered to
   * (read by) that member. Reading implies delivery. `client.messageStatus(id)` is the exact record.
   */
  receipt: (event: CursorEvent) => void;
  /**
   * A status of one message this user sent (`message:status`): `failed` when its delivery gave up. (A server
   * older than `message:cursors` sends delivered and read here too.)
   */
  status: (event: StatusEvent) => void;
  /** The session ended; the client stopped reconnecting. Log in again. */
  sessionExpired: (event: ClientSessionExpiredEvent) => void;
  /** A sync after (re)connect or after a gap completed: cursors are caught up with the server. */
  synced: () => void;
  /**
   * A reconnect was refused for a reason that passes (`RATE_LIMITED`, e.g. scope `"sockets"` while the user's other
   * devices hold every place; `STORE_UNAVAILABLE`; `INTERNAL`): the client tries again in `retryInMs`.
   */
  reconnectRefused: (error: ImClientError, retryInMs: number) => void;
  /** A background failure (a sync, a refused reconnect, a listener that threw). */
  error: (error: ImClientError) => void;
}
