import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Server as HttpServer, IncomingHttpHeaders } from 'node:http';
import type { Application } from 'egg';
import { Server } from 'socket.io';
import type { ImSocketAdapter } from 'egg-im-cache';
import { ImError, NodeMessageType, errorReply, isImError } from 'egg-im-protocol';
import type { ImSockets, ServerEvent, ServerEventArgs } from './ImSockets';
import { NodeBus, type NodeChannel } from './nodes/NodeBus';
import { Presence, type PresenceCache, type PresenceUsers } from './presence/Presence';
import { coalesceWrites } from './socket/coalesceWrites';
import { onceParser } from './socket/OnceEncoder';
import { SocketsByUser } from './socket/SocketsByUser';
import { TokenBucket } from './rate/TokenBucket';
import { clientAddress } from './socket/clientAddress';
import { tooManyRequests, type UserRate } from './rate/UserRate';
import { WarningDigest } from 'egg-im-metrics';
import { sessionRoom, type ConnectionHook, type EventHandler, type ImIo, type ImSocket } from './socket/types';

/** The socket.io server-side event that carries the packets of the node bus. */
const NODE_EVENT = 'im:nodes';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Longest close() waits for the presence writes of the sockets it disconnected, and drain() for the events being handled. */
const CLOSE_WAIT_MS = 5000;
/** How often drain() looks whether the clients have left. */
const DRAIN_POLL_MS = 20;

/** What the socket server is started with (at willReady, once the store and the cache exist). */
export interface SocketServerCollaborators {
  cache: PresenceCache & Pick<Application['imCache'], 'socketAdapter'>;
  users: PresenceUsers;
}

/**
 * socket.io on Egg's HTTP server. The server exists from boot; it is attached when Egg emits 'server', and
 * started (presence, and the other nodes joined through the cache's Redis adapter) once the cache is up.
 */
export class SocketServer implements ImSockets {
  readonly io: ImIo;
  readonly nodes: NodeBus;
  /** Identifies this process among the nodes (presence entries, logs). */
  readonly nodeId = `${process.pid}-${randomBytes(3).toString('hex')}`;
  private presenceTracker?: Presence;
  /**
   * This node's open sockets by user (not a socket.io room): the message path asks for a user's sockets on every
   * delivery, and a room's name `u:<id>` was built and hashed on each of those calls (1.7 % of a busy worker).
   */
  private readonly local = new SocketsByUser<ImSocket>(socket => socket.data.userId);
  private readonly handlers = new Map<string, EventHandler>();
  private readonly connectHooks: ConnectionHook[] = [];
  private readonly disconnectHooks: ConnectionHook[] = [];
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  /** Presence writes in flight: close() waits for them, so none runs against a closed store or cache. */
  private readonly pendingWork = new Set<Promise<unknown>>();
  /**
   * Sessions recently ended (revoked) here or on another node, until when to remember them: a handshake that
   * read its session just before the revocation may finish just after the broadcast; it is ended on arrival.
   */
  private readonly endedSessions = new Map<string, number>();
  /**
   * The headers of each connection's HTTP request, until its handshake is authenticated (the host's `verifyToken`
   * is given them); the request object itself is dropped as soon as the connection opens.
   */
  private readonly handshakeHeaders = new WeakMap<object, IncomingHttpHeaders>();
  /** Refusals any client can cause, logged as digests (the first of each interval one by one, the rest counted). */
  private readonly originsRefused: WarningDigest;
  private readonly socketsRefused: WarningDigest;
  /** Connections already logged for sending an event without an ack. */
  private readonly warnedNoAck = new WeakSet<ImSocket>();
  /** The Redis side of the adapter (the cache's), when the nodes are joined through Redis. */
  private nodeLink?: ImSocketAdapter;
  /** Set by drain(): new connections are refused, and the clients are asked to reconnect elsewhere. */
  private drainDeadlineMs?: number;
  /** Client events being handled (their acks not sent yet): drain() waits for them. */
  private eventsInFlight = 0;

  /** @param userRate the node's per-user request rate, shared with the HTTP routes (`SessionService.requireSession`) */
  constructor(private readonly app: Application, private readonly userRate: UserRate) {
    this.originsRefused = new WarningDigest(app.coreLogger, '[egg-im-connection] refused a connection from origin');
    this.socketsRefused = new WarningDigest(app.coreLogger, '[egg-im-connection] refused a socket (socket.maxPerUser)');
    const { socket } = app.config.imConnection;
    const allowed = new Set(socket.allowedOrigins);
    this.io = new Server({
      path: socket.path,
      transports: socket.transports,
      maxHttpBufferSize: socket.maxHttpBufferSize,
      pingInterval: socket.pingIntervalMs,
      pingTimeout: socket.pingTimeoutMs,
      connectTimeout: socket.connectTimeoutMs,
      serveClient: false,
      // A message encoded once is written as that text in every frame that carries it.
      parser: onceParser,
      // CORS headers do not stop non-browser clients: the origin is checked here, for every client.
      allowRequest: (req, callback) => {
        // Draining: refused at the HTTP level, which a client takes as a network failure and retries (elsewhere).
        if (this.drainDeadlineMs !== undefined) return callback('draining', false);
        const origin = req.headers.origin;
        if (allowed.size === 0 || (origin !== undefined && allowed.has(origin))) return callback(null, true);
        // JSON-quoted and cut short: the header is the client's to choose, the log line is not.
        this.originsRefused.add(JSON.stringify(origin === undefined ? '(none)' : origin.slice(0, 200)));
        callback('origin not allowed', false);
      },
    });
    this.io.use((socket, next) => { this.authenticate(socket).then(() => this.admit(socket)).then(() => next(), err => next(this.refusal(socket, err))); });
    this.io.on('connection', socket => this.onSocketOpened(socket));
    this.nodes = new NodeBus(this.nodeChannel(), this.nodeId, app.config.imConnection.nodes, app.coreLogger);
    this.nodes.subscribe(NodeMessageType.SessionEnded, ({ sessionId }) => this.endLocalSession(sessionId));
  }

  /** Routes a client event to `handler`; the ack gets `{ ok: true, ...result }` or the error body. */
  handle(event: string, handler: EventHandler): void {
    if (this.handlers.has(event)) throw new Error(`[egg-im-connection] socket event "${event}" already has a handler`);
    this.handlers.set(event, handler);
  }

  onConnect(hook: ConnectionHook): void {
    this.connectHooks.push(hook);
  }

  onDisconnect(hook: ConnectionHook): void {
    this.disconnectHooks.push(hook);
  }

  ofUser(userId: string): ImSocket[] {
    return [ ...this.local.ofUser(userId).values() ];
  }

  hasUser(userId: string): boolean {
    return this.local.ofUser(userId).size > 0;
  }

  userIds(): string[] {
    return [ ...this.local.users() ];
  }

  emitToUser<E extends ServerEvent>(userId: string, event: E, ...args: ServerEventArgs<E>): void {
    // Not a room broadcast: that would cost more than the frames it sends, and could not take an ack per socket.
    for (const socket of this.local.ofUser(userId).values()) (socket.emit as (event: string, ...values: unknown[]) => boolean)(event, ...args);
  }

  emitToSockets<E extends ServerEvent>(sockets: Iterable<ImSocket>, event: E, ...args: ServerEventArgs<E>): void {
    for (const socket of sockets) (socket.emit as (event: string, ...values: unknown[]) => boolean)(event, ...args);
  }

  attach(server: HttpServer): void {
    this.io.attach(server);
    this.io.engine.on('connection', (raw: EventEmitter & { request: { headers: IncomingHttpHeaders } | null }) => {
      // The HTTP request object is only needed during the handshake; dropping it saves ~4 KB per connection.
      // Its headers are kept until the handshake is authenticated (socket.io reads them from the request).
      if (raw.request) this.handshakeHeaders.set(raw, raw.request.headers);
      raw.request = null;
      coalesceWrites(raw);
    });
    this.app.coreLogger.info('[egg-im-connection] socket.io attached at %s (node %s)', this.app.config.imConnection.socket.path, this.nodeId);
  }

  /** Who is online (see Presence); exists once the server is started. */
  get presence(): Presence {
    if (!this.presenceTracker) throw new Error('[egg-im-connection] presence exists once the sockets are started (willReady)');
    return this.presenceTracker;
  }

  /**
   * Starts presence and joins the other nodes through the cache's Redis adapter (none in memory mode). Synchronous:
   * whatever runs after it at willReady finds the nodes joined.
   */
  start({ cache, users }: SocketServerCollaborators): void {
    const { app } = this;
    this.presenceTracker = new Presence(cache, users, app.config.imConnection.presence, this.nodeId, app.coreLogger, app.imMetrics?.timers);
    this.presenceTracker.start();
    this.nodeLink = cache.socketAdapter(cache.key('sio'));
    if (!this.nodeLink) {
      app.coreLogger.info('[egg-im-connection] single node: no Redis, socket.io keeps its in-memory adapter');
      return;
    }
    this.io.adapter(this.nodeLink.adapter);
    this.nodes.join(this.nodeLink);
    app.coreLogger.info('[egg-im-connection] socket.io joined to the other nodes through the Redis adapter');
  }

  get connections(): number {
    return this.io.engine?.clientsCount ?? 0;
  }

  /** Tells every socket of the session, on every node, that it has ended, and disconnects them. */
  endSession(sessionId: string): void {
    this.endLocalSession(sessionId);
    this.nodes.publish({ type: NodeMessageType.SessionEnded, sessionId });
  }

  /**
   * The first step of a graceful stop (SIGTERM): new connections are refused, every client is told `server:draining`
   * (it finishes its calls, each answered here, and reconnects: a balancer sends it to another node), and the clients
   * get `deadlineMs` to leave. The connections still open then are closed (their clients reconnect as after any
   * drop). Resolves once every event being handled has been answered (at most CLOSE_WAIT_MS later).
   */
  async drain(deadlineMs: number): Promise<void> {
    if (this.drainDeadlineMs !== undefined) return;
    this.drainDeadlineMs = deadlineMs;
    const sockets = this.io.of('/').sockets;
    const startedAt = Date.now();
    const told = sockets.size;
    // This node's sockets only: a broadcast through the adapter would reach every node's.
    this.io.local.emit('server:draining', { deadlineMs });
    await pollUntil(() => sockets.size === 0, deadlineMs);
    const stayed = sockets.size;
    for (const socket of sockets.values()) socket.conn.close();
    await pollUntil(() => this.eventsInFlight === 0, CLOSE_WAIT_MS);
    this.app.coreLogger.info('[egg-im-connection] drained in %d ms: %d connection(s) told to reconnect, %d closed at the deadline (%d ms), %d event(s) unanswered',
      Date.now() - startedAt, told, stayed, deadlineMs, this.eventsInFlight);
  }

  async close(): Promise<void> {
    this.originsRefused.flush();
    this.socketsRefused.flush();
    this.presenceTracker?.stop();
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
    // Disconnect every socket and stop accepting new ones, then release the adapter's Redis clients.
    if (this.io.engine) await new Promise<void>(resolve => this.io.close(() => resolve()));
    else this.io.disconnectSockets(true);
    // The disconnects above started presence writes (users going offline): let them finish while the
    // store and the cache are still open (they close after this plugin).
    // Bounded: a Redis that takes commands without answering must not hold the shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([ ...this.pendingWork ]),
      new Promise(resolve => { timer = setTimeout(resolve, CLOSE_WAIT_MS); }),
    ]);
    clearTimeout(timer);
    this.nodes.close();
    await this.nodeLink?.close();
    this.app.coreLogger.info('[egg-im-connection] sockets closed');
  }

  /** The bus's packets travel as one socket.io server-side event, through the Redis adapter. */
  private nodeChannel(): NodeChannel {
    const io = this.io as unknown as Server<Record<string, never>, Record<string, never>, { [NODE_EVENT]: (packet: string) => void }>;
    return {
      send: packet => io.serverSideEmit(NODE_EVENT, packet),
      receive: listener => io.on(NODE_EVENT, listener),
    };
  }

  private async authenticate(socket: ImSocket): Promise<void> {
    // The token is read from the handshake's auth payload only: query strings end up in access logs.
    const { auth } = socket.handshake;
    const headers = this.handshakeHeaders.get(socket.conn) ?? socket.handshake.headers;
    this.handshakeHeaders.delete(socket.conn);
    const cursors = auth?.cursors === undefined ? false : auth.cursors;
    if (typeof cursors !== 'boolean') throw new ImError('VALIDATION_FAILED', 'auth.cursors must be true or false', { field: 'auth.cursors' });
    const ip = clientAddress(this.app.config, headers, socket.handshake.address);
    const session = await this.app.imSessions.authenticate(auth?.token, { transport: 'socket', headers, deviceId: auth?.deviceId, ip });
    Object.assign(socket.data, session, { cursors });
  }

  /**
   * A handshake's refusal as socket.io sends it (the code as the `connect_error` message, the error body as its
   * data). Anything but an ImError is logged here and goes out as INTERNAL: its own message stays in the log.
   */
  private refusal(socket: ImSocket, err: unknown): HandshakeRefusal {
    if (err instanceof HandshakeRefusal) return err;
    if (isImError(err)) return new HandshakeRefusal(err);
    this.app.coreLogger.error(new Error(`[egg-im-connection] handshake failed (user ${socket.data.userId ?? 'not known yet'})`, { cause: err }));
    return new HandshakeRefusal(new ImError('INTERNAL', 'could not check the connection'));
  }

  /**
   * Sockets per user, across every node (`socket.maxPerUser`): the newest socket over the cap is refused at
   * the handshake (RATE_LIMITED, `details: { scope: 'sockets', limit }`); the connected ones are never dropped.
   */
  private async admit(socket: ImSocket): Promise<void> {
    const { userId, deviceId } = socket.data;
    // A handshake is a request of its user's too (each connect reads its backlog): a connect loop is limited.
    const retryAfterMs = this.userRate.take(userId);
    if (retryAfterMs > 0) throw new HandshakeRefusal(tooManyRequests(retryAfterMs));
    const limit = this.app.config.imConnection.socket.maxPerUser;
    if (await this.presence.admit(socket.id, userId, deviceId, limit)) return;
    this.socketsRefused.add(`user ${userId} device ${deviceId}: ${limit} sockets already`);
    throw new HandshakeRefusal(new ImError('RATE_LIMITED', `too many connections for this user (at most ${limit})`, { scope: 'sockets', limit }));
  }

  private onSocketOpened(socket: ImSocket): void {
    const { userId, sessionId, deviceId, expiresAt } = socket.data;
    if ((this.endedSessions.get(sessionId) ?? 0) > Date.now()) {
      this.track(this.presence.release(socket.id)
        .catch(err => this.app.coreLogger.warn('[egg-im-connection] presence place of user %s not released: %s', userId, err.message)));
      this.endSocket(socket);
      return;
    }
    socket.join(sessionRoom(sessionId));
    this.local.set(socket.id, socket);
    this.armExpiry(socket, expiresAt);
    const { burst, perSecond } = this.app.config.imConnection.rateLimit;
    const bucket = new TokenBucket(burst, perSecond);
    for (const [ event, handler ] of this.handlers) {
      socket.on(event as any, (payload: unknown, ack: unknown) => this.dispatch(socket, bucket, event, handler, payload, ack));
    }
    socket.on('disconnect', () => this.onSocketClosed(socket));
    // Its handshake began before the drain: it is told like the others.
    if (this.drainDeadlineMs !== undefined) socket.emit('server:draining', { deadlineMs: this.drainDeadlineMs });
    this.track(this.presence.connected(socket.id, userId, deviceId)
      .catch(err => this.app.coreLogger.warn('[egg-im-connection] presence of user %s not recorded: %s', userId, err.message)));
    for (const hook of this.connectHooks) this.runHook(hook, socket, 'connect');
  }

  private onSocketClosed(socket: ImSocket): void {
    this.local.delete(socket.id);
    clearTimeout(this.expiryTimers.get(socket.id));
    this.expiryTimers.delete(socket.id);
    this.track(this.presence.disconnected(socket.id)
      .catch(err => this.app.coreLogger.warn('[egg-im-connection] presence of user %s not updated: %s', socket.data.userId, err.message)));
    for (const hook of this.disconnectHooks) this.runHook(hook, socket, 'disconnect');
  }

  private track(work: Promise<unknown>): void {
    this.pendingWork.add(work);
    work.finally(() => this.pendingWork.delete(work)).catch(() => undefined);
  }

  private runHook(hook: ConnectionHook, socket: ImSocket, phase: string): void {
    Promise.resolve()
      .then(() => hook(socket))
      .catch(err => this.app.coreLogger.error(new Error(`[egg-im-connection] ${phase} hook failed for user ${socket.data.userId} socket ${socket.id}`, { cause: err })));
  }

  private async dispatch(socket: ImSocket, bucket: TokenBucket, event: string, handler: EventHandler, payload: unknown, ack: unknown) {
    // Every event counts against the connection's rate, answered or not; one the connection admits, against its user's.
    const retryAfterMs = bucket.take();
    const userRetryAfterMs = retryAfterMs > 0 ? 0 : this.userRate.take(socket.data.userId);
    if (typeof ack !== 'function') {
      // Every client event of the protocol takes an ack: without one there is nobody to answer.
      // Logged once per connection, so a client cannot flood the log with them.
      if (!this.warnedNoAck.has(socket)) {
        this.warnedNoAck.add(socket);
        this.app.coreLogger.warn('[egg-im-connection] user %s sent "%s" without an ack callback; ignored (logged once per connection)', socket.data.userId, event);
      }
      return;
    }
    if (retryAfterMs > 0) {
      ack(new ImError('RATE_LIMITED', `too many events on this connection; retry in ${retryAfterMs} ms`, { retryAfterMs }).toReply());
      return;
    }
    if (userRetryAfterMs > 0) {
      ack(tooManyRequests(userRetryAfterMs).toReply());
      return;
    }
    this.eventsInFlight++;
    try {
      const result = await handler(socket, payload);
      ack({ ok: true, ...result });
    } catch (err) {
      if (isImError(err)) {
        ack(errorReply(err));
      } else {
        // One line with the ids, and a request id the client is told too (so a reported failure can be found).
        const requestId = randomBytes(8).toString('hex');
        this.app.coreLogger.error(new Error(`[egg-im-connection] "${event}" failed for user ${socket.data.userId} socket ${socket.id} request ${requestId}`, { cause: err }));
        ack(new ImError('INTERNAL', `internal error (request ${requestId})`, { requestId }).toReply());
      }
    } finally {
      this.eventsInFlight--;
    }
  }

  /**
   * At expiry the socket is told (`session:expired`) and closed, within the timer's precision. A host token
   * without an expiry (`Infinity`) arms nothing.
   */
  private armExpiry(socket: ImSocket, expiresAt: number): void {
    if (expiresAt === Infinity) return;
    const delay = expiresAt - Date.now();
    const timer = setTimeout(() => {
      if (Date.now() < expiresAt) return this.armExpiry(socket, expiresAt);
      this.endSocket(socket);
    }, Math.max(0, Math.min(delay, MAX_TIMER_MS)));
    this.expiryTimers.set(socket.id, timer);
  }

  private endLocalSession(sessionId: string): void {
    this.rememberEnded(sessionId);
    // A copy: each disconnect removes its socket from the room (and the room itself after the last one).
    for (const socketId of [ ...this.io.of('/').adapter.rooms.get(sessionRoom(sessionId)) ?? [] ]) {
      const socket = this.io.of('/').sockets.get(socketId);
      if (socket) this.endSocket(socket);
    }
  }

  private rememberEnded(sessionId: string): void {
    const now = Date.now();
    // Oldest first (insertion order): drop what has been forgotten.
    for (const [ id, until ] of this.endedSessions) {
      if (until > now) break;
      this.endedSessions.delete(id);
    }
    this.endedSessions.delete(sessionId);
    // A handshake cannot take longer than the connect timeout; twice that, and never under a minute.
    this.endedSessions.set(sessionId, now + Math.max(60_000, 2 * this.app.config.imConnection.socket.connectTimeoutMs));
  }

  private endSocket(socket: ImSocket): void {
    socket.emit('session:expired', { sessionId: socket.data.sessionId });
    socket.disconnect(true);
  }
}

/** Resolves once `done()` is true, or after `timeoutMs`. */
async function pollUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, DRAIN_POLL_MS));
}

/** A refused handshake: socket.io sends `message` (the code) and `data` (the error body) as the client's `connect_error`. */
class HandshakeRefusal extends Error {
  readonly data: ReturnType<ImError['toBody']>;

  constructor(error: ImError) {
    super(error.code);
    this.data = error.toBody();
  }
}
