import { createAdapter } from '@socket.io/redis-adapter';
import type { RedisClientType } from 'redis';
import { errorMessage, withTimeout } from './errors';
import { guardPromises } from './guardPromises';
import { LOG_PREFIX, reconnectDelay } from './options';
import type { ImCacheLogger, ImSocketAdapter } from './types';

const ADAPTER_RECONNECT = { baseMs: 50, maxMs: 500 };

/**
 * `imCache.socketAdapter(channelKey)` in redis mode: socket.io's Redis adapter on two duplicates of the cache's
 * client (they inherit its URL and connect timeout; they retry a lost connection at most 600 ms apart, so
 * routing between nodes comes back within a second of Redis, whatever the cache's own backoff). The duplicates are not awaited: with
 * Redis down at start the app still starts, and they keep reconnecting in the background.
 *
 * No bound on their command queues: a publish dropped from a full queue would be a message that never reaches
 * the other nodes. The queue grows only with this process's own lag, and `ready` / `epoch` let the users of the
 * adapter stop publishing while Redis is away.
 */
export class RedisSocketAdapter implements ImSocketAdapter {
  readonly adapter: ReturnType<typeof createAdapter>;
  readonly #clients: RedisClientType[];
  readonly #logger: ImCacheLogger;
  readonly #closeTimeoutMs: number;
  readonly #onClosed: () => void;
  readonly #listeners: Array<() => void> = [];
  #epoch = 0;
  /** Both connections were up at the last change: `onReady` listeners run when this turns true. */
  #up = false;
  #closed = false;

  constructor(base: RedisClientType, channelKey: string, commandTimeoutMs: number, logger: ImCacheLogger, onClosed: () => void) {
    this.#logger = logger;
    this.#closeTimeoutMs = commandTimeoutMs * 2;
    this.#onClosed = onClosed;
    // Their own reconnection schedule, short whatever the cache's: messages between nodes wait for it.
    const duplicate = () => base.duplicate({
      socket: { ...base.options?.socket, reconnectStrategy: (retries: number) => reconnectDelay(retries, ADAPTER_RECONNECT.baseMs, ADAPTER_RECONNECT.maxMs) },
    } as Parameters<RedisClientType['duplicate']>[0]) as unknown as RedisClientType;
    const pub = duplicate();
    const sub = duplicate();
    this.#clients = [ pub, sub ];
    const failed = (err: unknown) => this.#failed(err);
    for (const client of this.#clients) {
      // Without an `error` listener node-redis crashes the process on the first lost socket.
      client.on('error', err => this.#lost(err));
      client.on('reconnecting', () => this.#lost());
      client.on('ready', () => this.#onClientReady());
    }
    for (const client of this.#clients) client.connect().catch(failed);
    const create = createAdapter(guardPromises(pub, failed), guardPromises(sub, failed), { key: channelKey });
    // A function, not an arrow: socket.io calls the factory with `new`.
    this.adapter = function(nsp: unknown) {
      return droppingOwnServerSideEmits(create(nsp));
    } as typeof create;
  }

  get ready(): boolean {
    return !this.#closed && this.#clients.every(client => client.isReady);
  }

  get epoch(): number {
    return this.#epoch;
  }

  onReady(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#up = false;
    await Promise.all(this.#clients.filter(client => client.isOpen).map(async client => {
      if (!client.isReady) return client.destroy();
      try {
        await withTimeout(client.close(), this.#closeTimeoutMs, 'close');
      } catch (err) {
        // the server took the QUIT but does not answer: let the socket go without holding the shutdown
        this.#logger.warn('%s socket.io adapter: redis did not answer while closing: %s', LOG_PREFIX, errorMessage(err));
        client.destroy();
      }
    }));
    this.#onClosed();
  }

  /** Logged once per outage as a warning (the first failure while up); the reconnection attempts after it at debug level. */
  #lost(err?: unknown): void {
    this.#epoch++;
    if (this.#closed) return;
    const reason = err === undefined ? 'reconnecting' : errorMessage(err);
    if (this.#up) this.#logger.warn('%s socket.io adapter: a redis connection was lost: %s', LOG_PREFIX, reason);
    else this.#logger.debug('%s socket.io adapter: redis: %s', LOG_PREFIX, reason);
    this.#up = false;
  }

  /** A command of the adapter failed (its promise is not handled by the adapter itself). */
  #failed(err: unknown): void {
    if (this.#closed) return;
    if (this.ready) this.#logger.warn('%s socket.io adapter: a redis command failed: %s', LOG_PREFIX, errorMessage(err));
    else this.#logger.debug('%s socket.io adapter: a redis command failed while disconnected: %s', LOG_PREFIX, errorMessage(err));
  }

  #onClientReady(): void {
    if (this.#closed || this.#up || !this.ready) return;
    this.#up = true;
    if (this.#epoch > 0) this.#logger.info('%s socket.io adapter: redis connections ready again', LOG_PREFIX);
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (err) {
        this.#logger.error('%s a socket.io adapter "ready" listener threw: %s', LOG_PREFIX, errorMessage(err));
      }
    }
  }
}

type RedisAdapterOf = ReturnType<ReturnType<typeof createAdapter>>;
/** The adapter's request type of a `serverSideEmit` (its `RequestType.SERVER_SIDE_EMIT`, not exported). */
const SERVER_SIDE_EMIT = 6;

/**
 * Redis echoes a node's publishes to its own subscriber, and the adapter parses each of its own `serverSideEmit`
 * requests (every node packet) before dropping it by its uid. Those requests start with the bytes the adapter
 * writes them with, `{"uid":"<its uid>","type":6,`: they are dropped unparsed. A request in any other shape
 * (another adapter version) is handed on as before, and the adapter drops it itself.
 */
function droppingOwnServerSideEmits(adapter: RedisAdapterOf): RedisAdapterOf {
  const own = Buffer.from(`{"uid":${JSON.stringify(adapter.uid)},"type":${SERVER_SIDE_EMIT},`);
  // Private in its typings; its subscription listener calls `this.onrequest`, so the instance's own is used.
  const target = adapter as unknown as { onrequest(channel: unknown, msg: unknown): Promise<void> };
  const onrequest = target.onrequest.bind(adapter);
  target.onrequest = async (channel, msg) => {
    if (Buffer.isBuffer(msg) && msg.length > own.length && own.equals(msg.subarray(0, own.length))) return;
    return onrequest(channel, msg);
  };
  return adapter;
}
