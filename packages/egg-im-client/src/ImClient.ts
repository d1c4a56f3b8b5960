import type {
  ClientToServerEvents, JsonObject, LoginResult, Message, MessageStatusResult, PresenceResult, SendBody, SendTarget, UsersResult,
} from 'egg-im-protocol';
import { Connection } from './Connection';
import { Emitter } from './Emitter';
import { ImClientError, isImClientError } from './errors';
import { HttpClient, segment } from './http';
import { randomId } from './id';
import { Inbox } from './Inbox';
import { retryDelay, sleep, type Backoff } from './retry';
import type {
  AnyMessageTypes, BatchItem, BatchResult, ConversationsQuery, ConversationsResult, CreateGroupResult, GroupMembersResult, HistoryQuery,
  HistoryResult, ImClientEvents, ImClientOptions, LoginOptions, MessageTypeMap, MessageTypeName, RegisterOptions,
  RegisterResult, TypedMessage,
} from './types';

type Success<E extends keyof ClientToServerEvents> = Extract<Parameters<Parameters<ClientToServerEvents[E]>[1]>[0], { ok: true }>;

/**
 * The typed egg-im client: HTTP routes, the socket, safe retries, and in-order, de-duplicated delivery.
 * `M` is the app's message type map (see `MessageTypeMap`); it types `send` and narrows the `message` event.
 */
export class ImClient<M extends MessageTypeMap<M> = AnyMessageTypes> extends Emitter<ImClientEvents<M>> {
  readonly userId: string;
  readonly token: string;
  readonly sessionId?: string;
  readonly deviceId?: string;
  readonly expiresAt?: string;

  readonly #http: HttpClient;
  readonly #connection: Connection;
  readonly #inbox: Inbox;
  readonly #retry: Backoff;
  readonly #syncLimit: number;
  readonly #gapWaitMs: number;
  readonly #syncOnConnect: boolean;
  /** clientMsgIds of this client's own sends: their message is the result of send(), not a `message` event. */
  readonly #ownClientMsgIds = new Set<string>();
  #lifetime = new AbortController();
  #syncing?: Promise<void>;
  #syncAgain = false;
  #gapTimer?: ReturnType<typeof setTimeout>;

  /** Logs in over HTTP (`POST {prefix}/auth/login`) and returns a client for that session (not yet connected). */
  static async login<M extends MessageTypeMap<M> = AnyMessageTypes>(options: LoginOptions): Promise<ImClient<M>> {
    const { username, password, deviceId, ...rest } = options;
    const http = new HttpClient(rest);
    const body = deviceId === undefined ? { username, password } : { username, password, deviceId };
    const result = await http.request<LoginResult>({ method: 'POST', path: '/auth/login', body });
    if (typeof result?.token !== 'string' || typeof result.userId !== 'string') {
      throw new ImClientError('BAD_RESPONSE', '[egg-im-client] login answered without token or userId');
    }
    return new ImClient<M>({
      ...rest,
      token: result.token,
      userId: result.userId,
      sessionId: result.sessionId,
      deviceId: result.deviceId,
      expiresAt: result.expiresAt,
    });
  }

  /** Creates an account (`POST {prefix}/auth/register`); log in afterwards. */
  static register(options: RegisterOptions): Promise<RegisterResult> {
    const { username, password, ...endpoint } = options;
    return new HttpClient(endpoint).request<RegisterResult>({ method: 'POST', path: '/auth/register', body: { username, password } });
  }

  /** A client for an existing session (`{ baseUrl, token, userId }`, e.g. a token kept from an earlier login). */
  constructor(options: ImClientOptions) {
    super();
    if (!options.baseUrl) throw new Error('[egg-im-client] options.baseUrl is required');
    if (!options.token || !options.userId) throw new Error('[egg-im-client] options.token and options.userId are required');
    this.userId = options.userId;
    this.token = options.token;
    this.sessionId = options.sessionId;
    this.deviceId = options.deviceId;
    this.expiresAt = options.expiresAt;
    this.#http = new HttpClient(options);
    this.#inbox = new Inbox(options.cursors);
    this.#retry = {
      attempts: Math.max(1, options.retry?.attempts ?? 5),
      baseDelayMs: options.retry?.baseDelayMs ?? 300,
      maxDelayMs: options.retry?.maxDelayMs ?? 5_000,
    };
    this.#syncLimit = options.syncLimit ?? 100;
    this.#gapWaitMs = options.gapWaitMs ?? 200;
    this.#syncOnConnect = options.syncOnConnect ?? true;
    this.#connection = new Connection({
      baseUrl: options.baseUrl,
      token: options.token,
      sessionId: options.sessionId,
      path: options.socketPath ?? '/socket.io',
      transports: options.transports ?? [ 'websocket' ],
      reconnection: {
        delayMs: options.reconnection?.delayMs ?? 500,
        maxDelayMs: options.reconnection?.maxDelayMs ?? 5_000,
        attempts: options.reconnection?.attempts ?? Infinity,
      },
      ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
      connectWaitMs: options.connectWaitMs ?? 15_000,
    }, {
      connect: () => this.#onConnect(),
      disconnect: (reason, willReconnect) => this.emit('disconnect', reason, willReconnect),
      messageNew: (message) => this.#receive(message),
      status: (event) => this.emit('status', event),
      cursors: (event) => this.#receipts(event?.cursors),
      sessionExpired: (event) => this.emit('sessionExpired', event),
      stopped: (error) => this.#report(error),
      refused: (error, retryInMs) => this.emit('reconnectRefused', error, retryInMs),
    });
  }

  #receipts(cursors: unknown): void {
    for (const receipt of Array.isArray(cursors) ? cursors : []) this.emit('receipt', receipt);
  }

  /** Last contiguous seq per conversation (a copy): persist it and pass it back as `options.cursors`. */
  get cursors(): Record<string, number> {
    return this.#inbox.cursors();
  }

  get connected(): boolean {
    return this.#connection.connected;
  }

  /** Opens the socket; resolves once connected (a sync then runs in the background, see `synced`), rejects with the handshake's code. */
  connect(): Promise<void> {
    if (this.#lifetime.signal.aborted) this.#lifetime = new AbortController();
    return this.#connection.open();
  }

  /** Disconnects for good; calls waiting for a connection reject with `CLOSED`. */
  close(): void {
    this.#lifetime.abort();
    if (this.#gapTimer !== undefined) clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#connection.close();
  }

  /** Ends the session on the server (`POST {prefix}/auth/logout`), then closes the client. */
  async logout(): Promise<void> {
    try {
      await this.#http.request<void>({ method: 'POST', path: '/auth/logout', token: this.token });
    } finally {
      this.close();
    }
  }

  /**
   * Sends one message (`message:send`) and resolves with the stored message. On a lost ack or a dropped socket it
   * retries with the same `clientMsgId` (the server returns the first message for it), with backoff, after reconnecting;
   * `STORE_UNAVAILABLE` is retried, `RATE_LIMITED` after `details.retryAfterMs`; other server codes reject at once.
   */
  async send<K extends MessageTypeName<M>>(
    to: SendTarget, type: K, content: M[K], meta?: JsonObject, options: { clientMsgId?: string } = {},
  ): Promise<TypedMessage<M, K>> {
    const clientMsgId = options.clientMsgId ?? randomId();
    const body: SendBody = { to, type, content: content as unknown as JsonObject, clientMsgId };
    if (meta !== undefined) body.meta = meta;
    this.#ownClientMsgIds.add(clientMsgId);
    let reply: Success<'message:send'>;
    try {
      reply = await this.#socketCall('message:send', body);
      if (!isMessage(reply.message)) throw new ImClientError('BAD_RESPONSE', '[egg-im-client] message:send ack without a message');
    } catch (err) {
      this.#ownClientMsgIds.delete(clientMsgId);
      throw err;
    }
    this.#receive(reply.message);
    // A delivered cursor that rode in the ack: told once the caller's `await send()` has resumed, before the
    // next frame is read.
    if (Array.isArray(reply.cursors) && reply.cursors.length > 0) {
      const { cursors } = reply;
      queueMicrotask(() => queueMicrotask(() => this.#receipts(cursors)));
    }
    return reply.message as unknown as TypedMessage<M, K>;
  }

  /** Sends up to 100 messages over HTTP (`POST {prefix}/messages/batch`); one ack per item, in order. Retried like `send`. */
  async sendBatch(items: BatchItem<M>[]): Promise<BatchResult<M>[]> {
    const messages: SendBody[] = items.map((item) => {
      const body: SendBody = { to: item.to, type: item.type, content: item.content as unknown as JsonObject, clientMsgId: item.clientMsgId ?? randomId() };
      if (item.meta !== undefined) body.meta = item.meta;
      return body;
    });
    for (const body of messages) this.#ownClientMsgIds.add(body.clientMsgId);
    let results: unknown;
    try {
      const answer = await this.#retrying(() => this.#http.request<{ results: unknown }>({
        method: 'POST', path: '/messages/batch', body: { messages }, token: this.token,
      }));
      results = answer?.results;
      if (!Array.isArray(results) || results.length !== messages.length) {
        throw new ImClientError('BAD_RESPONSE', '[egg-im-client] messages/batch: results do not match the items');
      }
    } catch (err) {
      for (const body of messages) this.#ownClientMsgIds.delete(body.clientMsgId);
      throw err;
    }
    return results.map((result: BatchResult<M>, index) => {
      if (result?.ok === true && isMessage(result.message)) this.#receive(result.message as unknown as Message);
      else this.#ownClientMsgIds.delete(messages[index].clientMsgId);
      return result;
    });
  }

  /** Marks everything up to `seq` read (`message:read`). */
  async markRead(conversationId: string, seq: number): Promise<void> {
    await this.#socketCall('message:read', { conversationId, seq });
  }

  /**
   * Fetches what is new after the cursors (`sync`, until `hasMore` is false) and delivers it through `message`.
   * Runs by itself after every (re)connect and after a gap; concurrent calls share one run.
   */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#syncAgain = true;
      return this.#syncing;
    }
    const run = this.#runSync().finally(() => {
      if (this.#syncing === run) this.#syncing = undefined;
    });
    this.#syncing = run;
    return run;
  }

  /** `GET {prefix}/conversations/:id/messages`: ascending seq; `afterSeq`, `beforeSeq` or the newest; `limit` ≤ 100. */
  history(conversationId: string, query: HistoryQuery = {}): Promise<HistoryResult<M>> {
    return this.#get(`/conversations/${segment(conversationId)}/messages`, {
      afterSeq: query.afterSeq, beforeSeq: query.beforeSeq, limit: query.limit,
    });
  }

  /**
   * `GET {prefix}/conversations`: a page, most recently active first; `limit` (default 100, at most the server's
   * maximum, 500 by default), `cursor` the `next` of the page before (while `hasMore`).
   */
  conversations(page: ConversationsQuery = {}): Promise<ConversationsResult> {
    return this.#get('/conversations', { limit: page.limit, cursor: page.cursor });
  }

  /** `GET {prefix}/messages/:messageId/status`. */
  messageStatus(messageId: string): Promise<MessageStatusResult> {
    return this.#get(`/messages/${segment(messageId)}/status`);
  }

  /** `GET {prefix}/users/:userId/presence`. */
  presence(userId: string): Promise<PresenceResult> {
    return this.#get(`/users/${segment(userId)}/presence`);
  }

  /** `GET {prefix}/users?username=`: users whose username starts with `prefix` (the exact name first), at most `limit` (≤ 50, default 20). */
  findUsers(prefix: string, limit?: number): Promise<UsersResult> {
    return this.#http.request({ method: 'GET', path: '/users', query: { username: prefix, limit }, token: this.token });
  }

  /** `GET {prefix}/users?id=…`: the usernames of up to 50 users, in the order given (unknown ids are left out). */
  users(userIds: string[]): Promise<UsersResult> {
    return this.#http.request({ method: 'GET', path: '/users', query: { id: userIds }, token: this.token });
  }

  /** `POST {prefix}/groups` (the creator joins). */
  createGroup(name: string, memberIds: string[]): Promise<CreateGroupResult> {
    return this.#http.request({ method: 'POST', path: '/groups', body: { name, memberIds }, token: this.token });
  }

  /** `POST {prefix}/groups/:groupId/members`. */
  addMembers(groupId: string, userIds: string[]): Promise<GroupMembersResult> {
    return this.#http.request({ method: 'POST', path: `/groups/${segment(groupId)}/members`, body: { userIds }, token: this.token });
  }

  /** `DELETE {prefix}/groups/:groupId/members/:userId`. */
  async removeMember(groupId: string, userId: string): Promise<void> {
    await this.#http.request<void>({ method: 'DELETE', path: `/groups/${segment(groupId)}/members/${segment(userId)}`, token: this.token });
  }

  protected override listenerFailed(event: keyof ImClientEvents<M>, err: unknown): void {
    if (event !== 'error' && this.listenerCount('error') > 0) {
      this.emit('error', new ImClientError('INTERNAL', `[egg-im-client] a '${String(event)}' listener threw`, { cause: err }));
    } else {
      super.listenerFailed(event, err);
    }
  }

  #get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.#http.request<T>({ method: 'GET', path, query, token: this.token });
  }

  /** A socket call with the retry policy: waits for the connection, retries lost acks, drops and retryable codes. */
  #socketCall<E extends keyof ClientToServerEvents>(event: E, body: Parameters<ClientToServerEvents[E]>[0]): Promise<Success<E>> {
    return this.#retrying(async () => {
      const reply = await this.#connection.ask(event, body);
      if (reply?.ok === true) return reply as Success<E>;
      if (reply?.ok === false) throw ImClientError.fromBody(reply.error);
      throw new ImClientError('BAD_RESPONSE', `[egg-im-client] ${event}: the ack is not { ok, ... }`);
    }, () => this.#connection.waitConnected());
  }

  /**
   * Runs `attempt` until it succeeds, at most `retry.attempts` times, while its error is retryable: `RATE_LIMITED` waits
   * `retryAfterMs`, the others back off. `before` runs ahead of each attempt; its errors end the call (e.g. `CLOSED`).
   */
  async #retrying<T>(attempt: () => Promise<T>, before?: () => Promise<void>): Promise<T> {
    for (let n = 1; ; n++) {
      if (this.#lifetime.signal.aborted) throw new ImClientError('CLOSED', '[egg-im-client] the client was closed');
      if (before) await before();
      try {
        return await attempt();
      } catch (err) {
        if (!isImClientError(err) || !err.retryable || n >= this.#retry.attempts) throw err;
        const waitMs = err.code === 'RATE_LIMITED' && err.retryAfterMs !== undefined ? err.retryAfterMs : retryDelay(this.#retry, n);
        await sleep(waitMs, this.#lifetime.signal);
      }
    }
  }

  async #runSync(): Promise<void> {
    do {
      this.#syncAgain = false;
      for (;;) {
        const before = this.#inbox.cursors();
        const mark = this.#inbox.mark();
        const reply = await this.#socketCall('sync', { cursors: before, limit: this.#syncLimit });
        if (!Array.isArray(reply.messages)) throw new ImClientError('BAD_RESPONSE', '[egg-im-client] sync ack without messages');
        for (const message of reply.messages) this.#receive(message);
        if (!reply.hasMore) {
          this.#deliver(this.#inbox.releaseHeldBefore(mark));
          break;
        }
        if (!advanced(before, this.#inbox.cursors())) {
          throw new ImClientError('BAD_RESPONSE', '[egg-im-client] sync said hasMore but moved no cursor');
        }
      }
    } while (this.#syncAgain);
    this.emit('synced');
  }

  #onConnect(): void {
    this.emit('connect');
    if (this.#syncOnConnect || this.#inbox.hasGaps()) this.#backgroundSync();
  }

  #backgroundSync(): void {
    this.sync().catch((err: unknown) => {
      if (isImClientError(err) && err.code === 'CLOSED') return; // closed on purpose
      this.#report(err);
    });
  }

  /** One incoming message (push, sync or own send): deduplicated, ordered, then delivered; a gap schedules a sync. */
  #receive(message: Message): void {
    if (!isMessage(message)) {
      this.#report(new ImClientError('BAD_RESPONSE', '[egg-im-client] received a message without conversationId or seq'));
      return;
    }
    this.#deliver(this.#inbox.accept(message));
    if (this.#inbox.hasGaps() && this.#gapTimer === undefined) {
      this.#gapTimer = setTimeout(() => {
        this.#gapTimer = undefined;
        if (this.#inbox.hasGaps() && this.#connection.connected) this.#backgroundSync();
      }, this.#gapWaitMs);
    }
  }

  /** Hands messages that are ready, in order, to the app (one's own sends resolved `send()` already). */
  #deliver(ready: Message[]): void {
    for (const message of ready) {
      if (message.senderId === this.userId && this.#ownClientMsgIds.delete(message.clientMsgId)) continue;
      this.emit('message', message as unknown as TypedMessage<M>);
    }
  }

  /** A background failure: to the `error` listeners, or to the console when there are none. */
  #report(err: unknown): void {
    const error = isImClientError(err) ? err : new ImClientError('INTERNAL', `[egg-im-client] ${(err as Error)?.message ?? err}`, { cause: err });
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.warn(error);
  }
}

function isMessage(value: unknown): value is Message {
  const message = value as Message | undefined;
  return typeof message === 'object' && message !== null &&
    typeof message.conversationId === 'string' && Number.isInteger(message.seq);
}

function advanced(before: Record<string, number>, after: Record<string, number>): boolean {
  return Object.entries(after).some(([ conversationId, seq ]) => seq > (before[conversationId] ?? 0));
}
