/**
 * A small stand-in for the egg-im server, for the client tests: socket.io 4 plus a tiny HTTP router on 127.0.0.1,
 * following docs/contract (auth.token handshake, message:send with clientMsgId dedupe and seq per conversation,
 * sync with cursors, message:new with acks). It keeps everything in memory and records what clients did;
 * `faults` lets a test break the next `message:send` calls.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Server, type Socket } from 'socket.io';
import type {
  ClientToServerEvents, FailedReply, Message, SendBody, SendReply, ServerToClientEvents, SyncBody,
} from 'egg-im-protocol';

type ServerSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, { userId: string; token: string; sessionId: string }>;

/** What to do with the next `message:send`: store it but lose the ack, store it then drop the transport, or answer this error. */
export type SendFault = 'drop-ack' | 'disconnect' | FailedReply;

interface Session { token: string; userId: string; sessionId: string; deviceId: string; expired: boolean }
interface Conversation { id: string; type: 'direct' | 'group'; members: string[]; groupId?: string; messages: Message[] }

export const KNOWN_TYPES = new Set([ 'text', 'location' ]);

export function failure(code: string, message: string, details?: Record<string, unknown>): FailedReply {
  return { ok: false, error: details ? { code, message, details } : { code, message } } as FailedReply;
}

export class ClientTestServer {
  baseUrl = '';
  readonly httpServer: http.Server;
  readonly io: Server<ClientToServerEvents, ServerToClientEvents>;
  readonly users = new Map<string, { userId: string; password: string }>();
  readonly sessions = new Map<string, Session>();
  readonly conversations = new Map<string, Conversation>();
  readonly #byClientMsgId = new Map<string, Message>();
  /** Every handshake, refused ones included. */
  readonly handshakes: Array<{ token: unknown; queryToken: unknown; cursors: unknown; accepted: boolean; transport: string; at: number }> = [];
  readonly sendLog: Array<{ userId: string; clientMsgId: string; at: number }> = [];
  readonly syncLog: Array<{ userId: string; body: SyncBody; at: number }> = [];
  readonly readLog: Array<{ userId: string; conversationId: string; seq: number }> = [];
  readonly acks: Array<{ userId: string; messageId: string; conversationId: string; seq: number }> = [];
  readonly faults: SendFault[] = [];
  /** The next handshakes are refused with these errors (a limit, an outage), whatever their token. */
  readonly refusals: Array<FailedReply['error']> = [];
  /** Each handshake is answered this long after it arrived; `handshaking` counts those not answered yet. */
  handshakeDelayMs = 0;
  handshaking = 0;
  /** The server's largest sync page (the contract clamps larger limits to it). */
  maxSyncLimit = 100;
  /** Like egg-im when the recipient acknowledged in time: a one-to-one send's ack carries its delivered cursor. */
  cursorInAck = false;

  private constructor() {
    this.httpServer = http.createServer((req, res) => {
      this.#route(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(failure('INTERNAL', String(err))));
      });
    });
    this.io = new Server(this.httpServer, { transports: [ 'websocket', 'polling' ] });
    this.io.use((socket, next) => {
      if (this.handshakeDelayMs === 0) return this.#handshake(socket, next);
      this.handshaking++;
      setTimeout(() => {
        this.handshaking--;
        this.#handshake(socket, next);
      }, this.handshakeDelayMs);
    });
    this.io.on('connection', (socket: ServerSocket) => this.#onConnection(socket));
  }

  /** Decides a handshake: refused (a queued refusal, an unknown or expired token) or accepted. */
  #handshake(socket: Socket, next: (err?: Error) => void): void {
    const token = socket.handshake.auth?.token;
    const session = typeof token === 'string' ? this.sessions.get(token) : undefined;
    const forced = this.refusals.shift();
    const refusal = forced?.code ?? (!session ? 'UNAUTHORIZED' : session.expired ? 'SESSION_EXPIRED' : undefined);
    this.handshakes.push({ token, queryToken: socket.handshake.query.token, cursors: socket.handshake.auth?.cursors, accepted: !refusal, transport: socket.conn.transport.name, at: Date.now() });
    if (forced) {
      const err = new Error(forced.code) as Error & { data?: unknown };
      err.data = forced;
      return next(err);
    }
    if (refusal || !session) {
      const err = new Error(refusal) as Error & { data?: unknown };
      err.data = { code: refusal, message: refusal === 'UNAUTHORIZED' ? 'missing or unknown token' : 'the session expired' };
      return next(err);
    }
    Object.assign(socket.data, { userId: session.userId, token: session.token, sessionId: session.sessionId });
    next();
  }

  static async start(): Promise<ClientTestServer> {
    const server = new ClientTestServer();
    await new Promise<void>((resolve) => server.httpServer.listen(0, '127.0.0.1', resolve));
    server.baseUrl = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
    return server;
  }

  async close(): Promise<void> {
    this.io.disconnectSockets(true);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    this.httpServer.closeAllConnections();
  }

  addUser(username: string, password = 'secret'): string {
    const userId = `u-${username}`;
    this.users.set(username, { userId, password });
    return userId;
  }

  /** A session as login makes it. */
  openSession(userId: string, deviceId = randomUUID()): Session {
    const session = { token: `t-${randomUUID()}`, userId, sessionId: `s-${randomUUID()}`, deviceId, expired: false };
    this.sessions.set(session.token, session);
    return session;
  }

  directId(a: string, b: string): string {
    return `d:${[ a, b ].sort().join(':')}`;
  }

  conversation(id: string, type: 'direct' | 'group', members: string[], groupId?: string): Conversation {
    let conversation = this.conversations.get(id);
    if (!conversation) this.conversations.set(id, conversation = { id, type, members, groupId, messages: [] });
    return conversation;
  }

  /** Stores a message without pushing it (as if its push was lost). */
  store(senderId: string, peerId: string, content: Record<string, string> = { text: 'x' }, type = 'text'): Message {
    return this.#append(this.conversation(this.directId(senderId, peerId), 'direct', [ senderId, peerId ]), senderId, type, content, {}, randomUUID());
  }

  socketsOf(userId: string): ServerSocket[] {
    return [ ...this.io.of('/').sockets.values() ].filter((s) => s.data.userId === userId) as ServerSocket[];
  }

  /** Pushes `message:new` to every socket of `userId`; resolves when each acked (or after 2 s). */
  push(userId: string, message: Message, except?: ServerSocket): Promise<void> {
    const sockets = this.socketsOf(userId).filter((s) => s !== except);
    return Promise.all(sockets.map((socket) => new Promise<void>((resolve) => {
      socket.timeout(2000).emit('message:new', message, (err: Error | null) => {
        if (!err) this.acks.push({ userId, messageId: message.id, conversationId: message.conversationId, seq: message.seq });
        resolve();
      });
    }))).then(() => undefined);
  }

  /** Drops the transport of every socket of `userId` (a network failure: clients reconnect). */
  dropTransport(userId: string): void {
    for (const socket of this.socketsOf(userId)) socket.conn.close();
  }

  /** Expires a session: `session:expired` to its sockets, then (unlike the real server) only a transport drop. */
  expire(token: string): void {
    const session = this.sessions.get(token);
    if (!session) throw new Error(`no session ${token}`);
    session.expired = true;
    for (const socket of this.socketsOf(session.userId).filter((s) => s.data.token === token)) {
      socket.emit('session:expired', { sessionId: session.sessionId });
      socket.conn.close();
    }
  }

  #onConnection(socket: ServerSocket): void {
    const { userId } = socket.data;
    socket.on('message:send', (body, ack) => {
      this.sendLog.push({ userId, clientMsgId: body?.clientMsgId, at: Date.now() });
      const fault = this.faults.shift();
      if (fault && typeof fault === 'object') return ack(fault);
      const reply = this.#send(userId, body, socket);
      if (fault === 'drop-ack') return;
      if (fault === 'disconnect') return socket.conn.close();
      ack(reply);
    });
    socket.on('sync', (body, ack) => {
      this.syncLog.push({ userId, body, at: Date.now() });
      ack({ ok: true, ...this.#sync(userId, body) });
    });
    socket.on('message:read', (body, ack) => {
      this.readLog.push({ userId, conversationId: body.conversationId, seq: body.seq });
      ack({ ok: true });
    });
  }

  /** The message pipeline: validate, dedupe by (sender, clientMsgId), append with the next seq, push to the others. */
  #send(userId: string, body: SendBody, from?: ServerSocket): SendReply {
    if (!body || typeof body.clientMsgId !== 'string' || !body.to || typeof body.to.id !== 'string' ||
      typeof body.content !== 'object' || body.content === null) {
      return failure('VALIDATION_FAILED', 'to, type, content and clientMsgId are required');
    }
    if (!KNOWN_TYPES.has(body.type)) return failure('UNKNOWN_MESSAGE_TYPE', `unknown type ${body.type}`, { type: body.type });
    if (body.type === 'text' && (typeof body.content.text !== 'string' || body.content.text === '')) {
      return failure('VALIDATION_FAILED', 'content.text must be a non-empty string', { field: 'content.text' });
    }
    const first = this.#byClientMsgId.get(`${userId}\n${body.clientMsgId}`);
    if (first) return { ok: true, message: first };
    let conversation: Conversation | undefined;
    if (body.to.type === 'user') {
      conversation = this.conversation(this.directId(userId, body.to.id), 'direct', [ userId, body.to.id ]);
    } else {
      conversation = this.conversations.get(`g:${body.to.id}`);
      if (!conversation?.members.includes(userId)) return failure('FORBIDDEN', 'not a member');
    }
    const message = this.#append(conversation, userId, body.type, body.content, body.meta ?? {}, body.clientMsgId);
    for (const member of conversation.members) void this.push(member, message, from);
    if (this.cursorInAck && conversation.type === 'direct') {
      return { ok: true, message, cursors: [ { conversationId: conversation.id, userId: body.to.id, deliveredSeq: message.seq } ] };
    }
    return { ok: true, message };
  }

  #append(conversation: Conversation, senderId: string, type: string, content: object, meta: object, clientMsgId: string): Message {
    const message = {
      id: `m-${randomUUID()}`, conversationId: conversation.id, seq: conversation.messages.length + 1, senderId, type,
      content, meta, clientMsgId, createdAt: new Date().toISOString(),
    } as Message;
    conversation.messages.push(message);
    this.#byClientMsgId.set(`${senderId}\n${clientMsgId}`, message);
    return message;
  }

  #sync(userId: string, body: SyncBody): { messages: Message[]; hasMore: boolean } {
    const limit = Math.min(body?.limit ?? 100, this.maxSyncLimit);
    const pending: Message[] = [];
    for (const conversation of this.conversations.values()) {
      if (!conversation.members.includes(userId)) continue;
      const cursor = body?.cursors?.[conversation.id] ?? 0;
      pending.push(...conversation.messages.filter((m) => m.seq > cursor));
    }
    return { messages: pending.slice(0, limit), hasMore: pending.length > limit };
  }

  async #route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : {};
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /im/auth/register') {
      if (this.users.has(body.username)) return send(409, failure('USERNAME_TAKEN', 'taken'));
      return send(201, { userId: this.addUser(body.username, body.password) });
    }
    if (route === 'POST /im/auth/login') {
      const user = this.users.get(body.username);
      if (!user || user.password !== body.password) return send(401, failure('INVALID_CREDENTIALS', 'wrong username or password'));
      const session = this.openSession(user.userId, body.deviceId);
      return send(200, { token: session.token, userId: session.userId, sessionId: session.sessionId, deviceId: session.deviceId, expiresAt: new Date(Date.now() + 3600e3).toISOString() });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const session = token ? this.sessions.get(token) : undefined;
    if (!session || session.expired) return send(401, failure('UNAUTHORIZED', 'missing or unknown token'));
    const { userId } = session;
    if (route === 'POST /im/auth/logout') {
      this.sessions.delete(session.token);
      for (const socket of this.socketsOf(userId).filter((s) => s.data.token === session.token)) socket.disconnect(true);
      return send(204);
    }
    if (route === 'GET /im/conversations') {
      const conversations = [ ...this.conversations.values() ].filter((c) => c.members.includes(userId)).map((c) => ({
        conversationId: c.id, type: c.type, ...(c.type === 'direct' ? { peerId: c.members.find((m) => m !== userId) } : { groupId: c.groupId }),
        lastSeq: c.messages.length, readSeq: 0, unread: c.messages.length,
      }));
      return send(200, { conversations, hasMore: false });
    }
    const history = /^GET \/im\/conversations\/([^/]+)\/messages$/.exec(route);
    if (history) {
      const conversation = this.conversations.get(decodeURIComponent(history[1]));
      if (!conversation?.members.includes(userId)) return send(404, failure('NOT_FOUND', 'no such conversation'));
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!(limit >= 1 && limit <= 100)) return send(400, failure('VALIDATION_FAILED', 'limit must be 1..100', { field: 'limit', max: 100 }));
      const after = Number(url.searchParams.get('afterSeq') ?? 0);
      const above = conversation.messages.filter((m) => m.seq > after);
      return send(200, { messages: above.slice(0, limit), hasMore: above.length > limit });
    }
    if (route === 'POST /im/messages/batch') {
      return send(200, { results: (body.messages as SendBody[]).map((item) => this.#send(userId, item)) });
    }
    if (route === 'POST /im/groups') {
      const groupId = `grp-${randomUUID()}`;
      const conversation = this.conversation(`g:${groupId}`, 'group', [ userId, ...body.memberIds ], groupId);
      return send(201, { groupId, conversationId: conversation.id });
    }
    return send(404, failure('NOT_FOUND', `no route ${route}`));
  }
}
