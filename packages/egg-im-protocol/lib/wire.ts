/**
 * The wire protocol of egg-im: what crosses the socket and the HTTP API.
 * Server and typed client both compile against these types.
 */
import type { ErrorBody, FailedReply } from './errors';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type ConversationType = 'direct' | 'group';
export type RecipientStatus = 'pending' | 'delivered' | 'read' | 'failed';
export type MessageStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** A stored message, exactly as clients receive it. */
export interface Message<TType extends string = string, TContent extends JsonObject = JsonObject> {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  type: TType;
  content: TContent;
  meta: JsonObject;
  clientMsgId: string;
  createdAt: string;
}

export interface SendTarget {
  type: 'user' | 'group';
  id: string;
}

export interface SendBody<TType extends string = string, TContent extends JsonObject = JsonObject> {
  to: SendTarget;
  type: TType;
  content: TContent;
  meta?: JsonObject;
  clientMsgId: string;
}

export type Reply<T extends object = object> = ({ ok: true } & T) | FailedReply;
/**
 * `cursors`: to a device that asked for cursors, the recipient's delivered cursor of a one-to-one message when
 * its device acknowledged the push before the ack left (then no `message:cursors` frame brings it).
 */
export type SendReply = Reply<{ message: Message; cursors?: CursorEvent[] }>;
export type SyncReply = Reply<{ messages: Message[]; hasMore: boolean }>;

export interface ReadBody {
  conversationId: string;
  seq: number;
}

export interface SyncBody {
  cursors?: Record<string, number>;
  limit?: number;
}

export interface StatusEvent {
  messageId: string;
  conversationId: string;
  seq: number;
  userId: string;
  status: RecipientStatus;
}

/**
 * How far one member of a conversation has got, as far as this notification tells: its devices acknowledged
 * the pushes up to `deliveredSeq` (pushed in seq order, so the ones before it too), and it read up to
 * `readSeq` (reading implies delivery). A field is absent when nothing of its kind happened since the last
 * notification. Sent to the senders of the messages it covers; `GET /im/messages/:id/status` is the record.
 */
export interface CursorEvent {
  conversationId: string;
  userId: string;
  deliveredSeq?: number;
  readSeq?: number;
}

/** `message:cursors`: every cursor that moved for this user's messages in one turn of the server, one frame. */
export interface CursorsEvent {
  cursors: CursorEvent[];
}

/** The socket.io handshake's `auth` payload. */
export interface HandshakeAuth {
  token: string;
  /** A host token's device (egg-im's own sessions carry theirs). */
  deviceId?: string;
  /**
   * `true`: delivered and read statuses come as `message:cursors`, coalesced, instead of one `message:status`
   * per message and recipient (`failed` still comes as `message:status`). The typed client asks for it.
   */
  cursors?: boolean;
}

export interface SessionExpiredEvent {
  sessionId: string;
}

/**
 * The node is stopping (SIGTERM): the client finishes the calls it has made on this connection (each is answered),
 * makes no new ones on it, and reconnects (a balancer sends it to another node). The node closes the connections
 * still open `deadlineMs` after it said so (they then reconnect as after any drop).
 */
export interface ServerDrainingEvent {
  deadlineMs: number;
}

/** Events the client emits; each takes an ack callback. */
export interface ClientToServerEvents {
  'message:send': (body: SendBody, ack: (reply: SendReply) => void) => void;
  'message:read': (body: ReadBody, ack: (reply: Reply) => void) => void;
  sync: (body: SyncBody, ack: (reply: SyncReply) => void) => void;
}

/** Events the server emits. `message:new` expects the client to call the ack: that is the delivery receipt. */
export interface ServerToClientEvents {
  'message:new': (message: Message, ack: () => void) => void;
  'message:status': (event: StatusEvent) => void;
  'message:cursors': (event: CursorsEvent) => void;
  'session:expired': (event: SessionExpiredEvent) => void;
  'server:draining': (event: ServerDrainingEvent) => void;
}

/** The handshake `connect_error` data: `err.message` is the code, `err.data` this body. */
export type HandshakeError = ErrorBody;

export interface LoginResult {
  token: string;
  userId: string;
  sessionId: string;
  deviceId: string;
  expiresAt: string;
}

export interface ConversationSummary {
  conversationId: string;
  type: ConversationType;
  peerId?: string;
  groupId?: string;
  /** A group's name. */
  name?: string;
  lastSeq: number;
  readSeq: number;
  unread: number;
  /** The conversation's last message, when there is one the user may see. */
  lastMessage?: Message;
}

export interface RecipientState {
  userId: string;
  status: RecipientStatus;
  attempts: number;
  deliveredAt?: string;
  readAt?: string;
  failedAt?: string;
}

export interface MessageStatusResult {
  messageId: string;
  conversationId: string;
  seq: number;
  status: MessageStatus;
  recipients: RecipientState[];
}

/** One user of the directory (`GET {prefix}/users`): nothing but the id and the username. */
export interface DirectoryUser {
  userId: string;
  username: string;
}

export interface UsersResult {
  users: DirectoryUser[];
}

export interface PresenceResult {
  userId: string;
  online: boolean;
  devices: number;
  lastSeenAt?: string;
}

/** `draining`: the node is stopping (SIGTERM) and takes no new connections; answered with HTTP 503 like `unavailable`. */
export type ReadinessStatus = 'ready' | 'degraded' | 'unavailable' | 'draining';

export interface ReadinessCheck {
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

export interface ReadinessResult {
  status: ReadinessStatus;
  checks: Record<string, ReadinessCheck>;
}
