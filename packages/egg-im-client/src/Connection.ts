import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, CursorsEvent, Message, ServerToClientEvents, StatusEvent } from 'egg-im-protocol';
import { ImClientError } from './errors';
import { closedError, retryDelay } from './retry';
import type { ClientSessionExpiredEvent } from './types';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type AckOf<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

/** What the connection tells its owner. */
export interface ConnectionHandlers {
  connect(): void;
  disconnect(reason: string, willReconnect: boolean): void;
  messageNew(message: Message): void;
  status(event: StatusEvent): void;
  cursors(event: CursorsEvent): void;
  sessionExpired(event: ClientSessionExpiredEvent): void;
  /** The socket stopped for good for another reason (e.g. a reconnect refused with `UNAUTHORIZED`). */
  stopped(error: ImClientError): void;
  /** A reconnect was refused for a reason that passes; it is tried again in `retryInMs`. */
  refused(error: ImClientError, retryInMs: number): void;
}

export interface ConnectionOptions {
  baseUrl: string;
  token: string;
  sessionId?: string;
  path: string;
  transports: Array<'websocket' | 'polling' | 'webtransport'>;
  reconnection: { delayMs: number; maxDelayMs: number; attempts: number };
  ackTimeoutMs: number;
  connectWaitMs: number;
}

interface Waiter { resolve(): void; reject(err: ImClientError): void }

/**
 * A reconnect refused with one of these may be accepted later (a limit, the server's store or its own failure):
 * it is tried again, after `details.retryAfterMs` when the server gave one. Any other refusal stops the client.
 */
const PASSING_REFUSALS = new Set([ 'RATE_LIMITED', 'STORE_UNAVAILABLE', 'INTERNAL' ]);

/**
 * The socket's life: handshake with `auth: { token, cursors: true }`, reconnection (socket.io-client's, and ours for a
 * reconnect the server refused for a reason that passes), the end of it (close, `session:expired`, a refused
 * reconnect), and ack calls made only while connected.
 */
export class Connection {
  readonly #options: ConnectionOptions;
  readonly #handlers: ConnectionHandlers;
  #socket?: ClientSocket;
  /** Set while the socket will not connect again without `open()`: what calls waiting for it get. */
  #stopped?: ImClientError = new ImClientError('NOT_CONNECTED', '[egg-im-client] connect() was not called');
  #opening?: { resolve(): void; reject(err: ImClientError): void };
  readonly #waiters = new Set<Waiter>();
  /** Calls sent on the socket and not answered yet. */
  #pending = 0;
  /** The node said `server:draining`: no new calls on this socket; it reconnects once `#pending` is 0. */
  #moving = false;
  /** Reconnects refused in a row with a passing refusal, and the timer of the next try. */
  #refusedInARow = 0;
  #retryTimer?: ReturnType<typeof setTimeout>;

  constructor(options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.#options = options;
    this.#handlers = handlers;
  }

  get connected(): boolean {
    return this.#socket?.connected === true && !this.#moving;
  }

  /** Connects; rejects with the handshake's error (its `code` is the server's, e.g. `UNAUTHORIZED`). */
  open(): Promise<void> {
    if (this.#socket?.connected) return Promise.resolve();
    if (this.#opening) return new Promise((resolve, reject) => this.#waiters.add({ resolve, reject }));
    this.#stopped = undefined;
    // A refused reconnect's next try is this one.
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket ?? this.#createSocket();
    return new Promise<void>((resolve, reject) => {
      this.#opening = { resolve, reject };
      // Already connecting (socket.io's own reconnect): a second handshake on its connection would be one too many.
      if (!socket.active) socket.connect();
    });
  }

  /** Stops for good: disconnects, and fails whatever waits for a connection with `CLOSED`. */
  close(): void {
    this.#stop(closedError());
  }

  /** Resolves once connected: at once, or after a reconnect (at most `connectWaitMs`); rejects when it will not connect. */
  waitConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.#stopped) return Promise.reject(this.#stopped);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (err) => { clearTimeout(timer); this.#waiters.delete(waiter); reject(err); },
      };
      const timer = setTimeout(() => waiter.reject(new ImClientError('DISCONNECTED',
        `[egg-im-client] not reconnected within ${this.#options.connectWaitMs} ms`)), this.#options.connectWaitMs);
      this.#waiters.add(waiter);
    });
  }

  /** One call with an ack, only while connected; `TIMEOUT` when no ack came in `ackTimeoutMs`, `DISCONNECTED` when the socket dropped first. */
  ask<E extends keyof ClientToServerEvents>(event: E, body: Parameters<ClientToServerEvents[E]>[0]): Promise<AckOf<E>> {
    const socket = this.#socket;
    if (!socket?.connected) {
      return Promise.reject(new ImClientError('DISCONNECTED', `[egg-im-client] ${event}: not connected`));
    }
    // The node is draining: the call goes out on the next connection (to another node).
    if (this.#moving) return this.waitConnected().then(() => this.ask(event, body));
    const timeoutMs = this.#options.ackTimeoutMs;
    this.#pending++;
    return new Promise((resolve, reject) => {
      const emitter = socket.timeout(timeoutMs) as unknown as { emit(ev: string, body: unknown, ack: (err: Error | null, reply: AckOf<E>) => void): void };
      emitter.emit(event, body, (err, reply) => {
        this.#pending--;
        if (this.#moving) this.#moveWhenIdle(socket);
        if (!err) return resolve(reply);
        if (/timed out/.test(err.message)) {
          reject(new ImClientError('TIMEOUT', `[egg-im-client] ${event}: no ack within ${timeoutMs} ms`, { cause: err }));
        } else {
          reject(new ImClientError('DISCONNECTED', `[egg-im-client] ${event}: the socket dropped before the ack`, { cause: err }));
        }
      });
    });
  }

  #createSocket(): ClientSocket {
    const { baseUrl, token, path, transports, reconnection } = this.#options;
    const origin = new URL(baseUrl, globalThis.location?.href).origin;
    const socket: ClientSocket = io(origin, {
      path,
      transports,
      // Delivered and read as coalesced cursors: one frame per turn of the server, not one per message and member.
      auth: { token, cursors: true },
      autoConnect: false,
      forceNew: true,
      reconnection: true,
      reconnectionDelay: reconnection.delayMs,
      reconnectionDelayMax: reconnection.maxDelayMs,
      reconnectionAttempts: reconnection.attempts,
    });
    socket.on('connect', () => this.#onConnect());
    socket.on('connect_error', (err) => this.#onConnectError(socket, err));
    socket.on('disconnect', (reason) => this.#onDisconnect(socket, reason));
    socket.io.on('reconnect_failed', () => this.#stop(new ImClientError('DISCONNECTED',
      `[egg-im-client] gave up reconnecting after ${reconnection.attempts} attempts`), true));
    socket.on('message:new', (message, ack) => {
      // The ack is the delivery receipt: always sent, duplicates included.
      if (typeof ack === 'function') ack();
      this.#handlers.messageNew(message);
    });
    socket.on('message:status', (event) => this.#handlers.status(event));
    socket.on('message:cursors', (event) => this.#handlers.cursors(event));
    socket.on('session:expired', (event) => this.#expire(event ?? {}));
    socket.on('server:draining', () => {
      this.#moving = true;
      // Until the balancer has taken the draining node out, a reconnect may reach it and be refused: retried at the
      // first delay each time (not backing off to maxDelayMs), so the client is back as soon as the balancer knows.
      socket.io.reconnectionDelayMax(reconnection.delayMs);
      this.#moveWhenIdle(socket);
    });
    this.#socket = socket;
    return socket;
  }

  #takeWaiters(): Waiter[] {
    const waiters = [ ...this.#waiters ];
    this.#waiters.clear();
    return waiters;
  }

  /**
   * Once every call on the draining node is answered: closes the connection from this side, and socket.io-client
   * reconnects (after its first reconnection delay, so a node's clients do not all arrive at once).
   */
  #moveWhenIdle(socket: ClientSocket): void {
    if (this.#pending > 0 || socket !== this.#socket || !socket.connected) return;
    socket.io.engine?.close();
  }

  #onConnect(): void {
    this.#moving = false;
    this.#refusedInARow = 0;
    this.#socket?.io.reconnectionDelayMax(this.#options.reconnection.maxDelayMs);
    const opening = this.#opening;
    this.#opening = undefined;
    opening?.resolve();
    for (const waiter of this.#takeWaiters()) waiter.resolve();
    this.#handlers.connect();
  }

  #onConnectError(socket: ClientSocket, err: Error & { data?: unknown }): void {
    const refused = !socket.active;
    const error = handshakeError(err, refused);
    if (this.#opening) {
      // The first handshake failed: report it, and do not keep retrying in the background.
      const opening = this.#opening;
      this.#opening = undefined;
      this.#stop(error); // connect() rejects with it: no `error` event as well
      opening.reject(error);
      return;
    }
    if (!refused) return; // a transport failure: socket.io-client tries again
    if (error.code === 'SESSION_EXPIRED') this.#expire({ sessionId: this.#options.sessionId });
    else if (!this.#retryRefused(socket, error)) this.#stop(error, true);
  }

  /**
   * socket.io-client does not retry a handshake its server refused: a passing refusal is tried again here, with
   * the reconnection's backoff (or the server's `retryAfterMs`, when longer), up to `reconnection.attempts` in a row.
   */
  #retryRefused(socket: ClientSocket, error: ImClientError): boolean {
    const { delayMs, attempts } = this.#options.reconnection;
    if (!PASSING_REFUSALS.has(error.code) || ++this.#refusedInARow >= attempts) return false;
    // The manager's current ceiling: shortened to the first delay while a draining node is being left.
    const backoffMs = retryDelay({ attempts, baseDelayMs: delayMs, maxDelayMs: socket.io.reconnectionDelayMax() }, this.#refusedInARow);
    const retryInMs = Math.max(backoffMs, error.retryAfterMs ?? 0);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#stopped && socket === this.#socket) socket.connect();
    }, retryInMs);
    this.#handlers.refused(error, retryInMs);
    return true;
  }

  #onDisconnect(socket: ClientSocket, reason: string): void {
    const willReconnect = socket.active;
    this.#handlers.disconnect(reason, willReconnect);
    // e.g. the server ended the socket (logout): the `disconnect` event above already says it will not reconnect.
    if (!willReconnect && !this.#stopped) {
      this.#stop(new ImClientError('DISCONNECTED', `[egg-im-client] disconnected for good (${reason})`));
    }
  }

  #expire(event: ClientSessionExpiredEvent): void {
    if (this.#stopped?.code === 'SESSION_EXPIRED') return;
    this.#stop(new ImClientError('SESSION_EXPIRED', '[egg-im-client] the session expired'));
    this.#handlers.sessionExpired(event);
  }

  /** Ends the socket (no reconnect) and fails the waiters; `notify` tells the owner (not for close() and expiry, reported apart). */
  #stop(error: ImClientError, notify = false): void {
    if (this.#stopped === error) return;
    const wasStopped = this.#stopped !== undefined;
    this.#stopped = error;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket;
    if (socket && (socket.active || socket.connected)) socket.disconnect();
    if (error.code === 'CLOSED' && socket) {
      socket.off();
      socket.io.off();
      this.#socket = undefined;
    }
    const opening = this.#opening;
    this.#opening = undefined;
    opening?.reject(error);
    for (const waiter of this.#takeWaiters()) waiter.reject(error);
    if (notify && !wasStopped) this.#handlers.stopped(error);
  }
}

/** The `connect_error` as an `ImClientError`: the server's body from `err.data`, its code from `err.message`, else a network failure. */
function handshakeError(err: Error & { data?: unknown }, refused: boolean): ImClientError {
  const data = err.data as { code?: unknown; message?: unknown } | undefined;
  if (data && typeof data.code === 'string') {
    return ImClientError.fromBody({ message: err.message, ...data });
  }
  if (refused && /^[A-Z][A-Z_]+$/.test(err.message)) {
    return new ImClientError(err.message, `[egg-im-client] handshake refused: ${err.message}`);
  }
  return new ImClientError('NETWORK_ERROR', `[egg-im-client] cannot connect: ${err.message}`, { cause: err });
}
