import assert from 'node:assert';
import { EventEmitter } from 'node:events';
import { BrokenCircuitError, CircuitBreakerPolicy, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import { createClient, type RedisClientType } from 'redis';
import { errorMessage, isWrongType, ImCacheWrongTypeError, withTimeout } from './errors';
import { ImCacheLimiter, resolveLimiterOptions } from './ImCacheLimiter';
import { MemoryStore } from './MemoryStore';
import { LOG_PREFIX, reconnectDelay, redactUrl } from './options';
import { RedisSocketAdapter } from './RedisSocketAdapter';
import { RedisStore } from './RedisStore';
import type {
  ImCacheCheck, ImCacheClientConfig, ImCacheLogger, ImCacheMode, ImLimiterOptions, ImSocketAdapter, Lease, LeaseRead, MemoryStats,
  ScoredItem, Stamp,
} from './types';

/** Longest a readiness check waits for PING. */
const CHECK_TIMEOUT_CAP_MS = 1000;

export interface ImCacheEvents {
  degraded: [reason: string];
  restored: [];
}

let clientOf: (cache: ImCache) => RedisClientType | undefined;

/**
 * The cache's own node-redis client (redis mode), for this package's tests only: it is not part of the cache's API,
 * and other packages may not import egg-im-cache's lib/ (a lint rule).
 */
export function redisClientOf(cache: ImCache): RedisClientType | undefined {
  return clientOf(cache);
}

/**
 * `app.imCache`: egg-im's cache. Redis when a URL is configured, a bounded in-memory store
 * otherwise, and that same memory store as the fallback while Redis is unusable ("degraded").
 *
 * Rules (see the README): every write has a TTL; keys are built with `key()` and carry the
 * prefix; failures never reach callers (reads may miss, writes go to the fallback), except
 * WRONGTYPE misuse; after an outage nothing written before or during it is served: on restore
 * the fallback is cleared and every key under the prefix is deleted from Redis.
 */
export class ImCache extends EventEmitter<ImCacheEvents> {
  /** What is configured: `redis` when a URL is set, else `memory`. */
  readonly mode: ImCacheMode;
  readonly prefix: string;
  readonly #options: ImCacheClientConfig;
  readonly #logger: ImCacheLogger;
  readonly #memory: MemoryStore;
  readonly #client?: RedisClientType;
  readonly #store?: RedisStore;
  readonly #breaker?: CircuitBreakerPolicy;
  #degraded = false;
  #started = false;
  #closed = false;
  #restoring?: Promise<void>;
  #probeTimer?: NodeJS.Timeout;
  /** socket.io adapters made by `socketAdapter()` and not closed yet: closed with the cache. */
  readonly #adapters = new Set<ImSocketAdapter>();

  static {
    clientOf = cache => cache.#client;
  }

  /** Use `ImCache.create()`: it also connects. */
  constructor(options: ImCacheClientConfig, logger: ImCacheLogger) {
    super();
    this.#options = options;
    this.#logger = logger;
    this.prefix = options.prefix;
    this.mode = options.url ? 'redis' : 'memory';
    this.#memory = new MemoryStore(options.memory);
    if (this.mode === 'redis') {
      const { reconnect } = options;
      this.#client = createClient({
        url: options.url,
        socket: {
          connectTimeout: options.connectTimeoutMs,
          reconnectStrategy: retries => reconnectDelay(retries, reconnect.baseMs, reconnect.maxMs),
        },
      }) as unknown as RedisClientType;
      // Without an `error` listener node-redis crashes the process on the first lost socket.
      this.#client.on('error', err => this.#onClientError(err));
      this.#client.on('ready', () => this.#onClientReady());
      this.#store = new RedisStore(this.#client, options.commandTimeoutMs);
      this.#breaker = circuitBreaker(handleWhen(err => !isWrongType(err)), {
        halfOpenAfter: options.breaker.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(options.breaker.consecutiveFailures),
      });
      this.#breaker.onBreak(() => this.#enterDegraded(
        `circuit breaker opened after ${options.breaker.consecutiveFailures} consecutive failed calls`));
    }
  }

  /** Creates the cache and, in redis mode, connects (waiting at most `connectTimeoutMs`; never fails on a dead Redis). */
  static async create(options: ImCacheClientConfig, logger: ImCacheLogger): Promise<ImCache> {
    const cache = new ImCache(options, logger);
    await cache.#start();
    return cache;
  }

  /** Redis is configured but not in use right now: reads and writes go to the memory fallback. */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** `prefix` + parts joined with `:`, e.g. `key('session', hash)` → `im:session:<hash>`. */
  key(...parts: string[]): string {
    assert(parts.length > 0, `${LOG_PREFIX} key() needs at least one part`);
    for (const part of parts) {
      assert(typeof part === 'string' && part.length > 0, `${LOG_PREFIX} key() parts must be non-empty strings`);
    }
    return this.prefix + parts.join(':');
  }

  async get(key: string): Promise<string | undefined> {
    this.#assertKey(key);
    return this.#read('get', key, store => store.get(key), memory => memory.get(key));
  }

  async mget(keys: readonly string[]): Promise<Array<string | undefined>> {
    assert(Array.isArray(keys), `${LOG_PREFIX} mget() takes an array of keys`);
    keys.forEach(key => this.#assertKey(key));
    if (keys.length === 0) return [];
    return this.#read('mget', keys[0], store => store.mget(keys), memory => memory.mget(keys));
  }

  /** Stores a string for `ttlMs` milliseconds (required, > 0). */
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#assertKey(key);
    assert(typeof value === 'string', `${LOG_PREFIX} set() stores strings (use setJson() for objects)`);
    const ttl = this.#ttl(ttlMs);
    await this.#write('set', key, store => store.set(key, value, ttl), memory => {
      if (!memory.set(key, value, ttl)) {
        this.#logger.debug('%s a value of kind "%s" is larger than memory.maxBytes and was not cached', LOG_PREFIX, this.#kind(key));
      }
    });
  }

  async del(...keys: string[]): Promise<void> {
    keys.forEach(key => this.#assertKey(key));
    if (keys.length === 0) return;
    await this.#write('del', keys[0], store => store.del(keys), memory => memory.del(keys));
  }

  /** Parsed JSON, or undefined when missing (a value that is not JSON is logged and read as missing). */
  async getJson<T>(key: string): Promise<T | undefined> {
    const text = await this.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      this.#logger.warn('%s a value of kind "%s" is not valid JSON; read as a miss', LOG_PREFIX, this.#kind(key));
      return undefined;
    }
  }

  async setJson(key: string, value: unknown, ttlMs: number): Promise<void> {
    const text = JSON.stringify(value);
    assert(typeof text === 'string', `${LOG_PREFIX} setJson() needs a JSON-serialisable value`);
    await this.set(key, text, ttlMs);
  }

  /**
   * Appends `items` to the list at `key`, keeps only the newest `maxLen` items and sets the list's
   * TTL, in one round trip (MULTI: RPUSH, LTRIM, PEXPIRE). Returns the list's length afterwards.
   */
  async listPush(key: string, items: readonly string[], maxLen: number, ttlMs: number): Promise<number> {
    this.#assertKey(key);
    assert(Array.isArray(items) && items.length > 0 && items.every(item => typeof item === 'string'),
      `${LOG_PREFIX} listPush() takes a non-empty array of strings`);
    assert(Number.isInteger(maxLen) && maxLen > 0, `${LOG_PREFIX} listPush() maxLen must be a positive integer`);
    const ttl = this.#ttl(ttlMs);
    let length = 0;
    await this.#write('listPush', key, async store => {
      length = await store.listPush(key, items, maxLen, ttl);
    }, memory => {
      length = memory.listPush(key, items, maxLen, ttl);
    });
    return length;
  }

  /**
   * Adds scored items to the window at `key` (a sorted set), keeps the `maxLen` highest scores and sets the
   * window's TTL, in one round trip.
   */
  async windowAdd(key: string, items: readonly ScoredItem[], maxLen: number, ttlMs: number): Promise<void> {
    await this.windowAddMany([ { key, items } ], maxLen, ttlMs);
  }

  /**
   * `windowAdd` for many windows in one round trip (one Redis command). An additive write: a failure is
   * logged and dropped (readers fill a window's holes from the database), never degrading the cache.
   */
  async windowAddMany(windows: ReadonlyArray<{ key: string; items: readonly ScoredItem[] }>, maxLen: number, ttlMs: number): Promise<void> {
    assert(Array.isArray(windows) && windows.length > 0, `${LOG_PREFIX} windowAddMany() takes a non-empty array of windows`);
    for (const { key, items } of windows) {
      this.#assertKey(key);
      assert(Array.isArray(items) && items.length > 0 && items.every(i => typeof i.value === 'string' && Number.isFinite(i.score)),
        `${LOG_PREFIX} windowAdd() takes a non-empty array of { score, value }`);
    }
    assert(Number.isInteger(maxLen) && maxLen > 0, `${LOG_PREFIX} windowAdd() maxLen must be a positive integer`);
    const ttl = this.#ttl(ttlMs);
    await this.#write('windowAdd', windows[0].key, store => store.windowAddMany(windows, maxLen, ttl),
      memory => windows.forEach(({ key, items }) => memory.windowAdd(key, items, maxLen, ttl)), true);
  }

  /** The window's items with `min <= score <= max`, lowest score first (ZRANGEBYSCORE WITHSCORES). */
  async windowRange(key: string, min: number, max: number): Promise<ScoredItem[]> {
    this.#assertKey(key);
    return this.#read('windowRange', key, store => store.windowRange(key, min, max), memory => memory.windowRange(key, min, max));
  }

  /**
   * Adds or refreshes leases (members of lease sets, scored by their expiry) and sets each set's TTL to `keyTtlMs`,
   * and writes `stamps` (plain strings with their own TTL), all in one command (a script on Redis). See `#leaseCall`.
   */
  async leasePut(leases: readonly Lease[], keyTtlMs: number, stamps: readonly Stamp[] = []): Promise<void> {
    assert(Array.isArray(leases) && leases.length > 0, `${LOG_PREFIX} leasePut() takes a non-empty array of leases`);
    leases.forEach(lease => this.#assertLease(lease));
    assert(Array.isArray(stamps), `${LOG_PREFIX} leasePut() stamps must be an array`);
    stamps.forEach(stamp => this.#assertStamp(stamp));
    const ttl = this.#ttl(keyTtlMs);
    await this.#leaseCall('leasePut', leases[0].key, store => store.leasePut(leases, ttl, stamps), memory => {
      memory.leasePut(leases, ttl);
      for (const stamp of stamps) memory.set(stamp.key, stamp.value, stamp.ttlMs);
    });
  }

  /**
   * Takes a place: adds `lease` (and sets its set's TTL) only while fewer than `limit` leases of its set are live
   * (`expiresAt >= now`), atomically (one Lua call in Redis: two nodes cannot both take the last place). True when added.
   */
  async leaseAcquire(lease: Lease, limit: number, now: number, keyTtlMs: number): Promise<boolean> {
    this.#assertLease(lease);
    assert(Number.isInteger(limit) && limit > 0, `${LOG_PREFIX} leaseAcquire() limit must be a positive integer`);
    assert(Number.isFinite(now), `${LOG_PREFIX} leaseAcquire() now must be a time in epoch milliseconds`);
    const ttl = this.#ttl(keyTtlMs);
    return this.#leaseCall('leaseAcquire', lease.key, store => store.leaseAcquire(lease, limit, now, ttl),
      memory => memory.leaseAcquire(lease, limit, now, ttl));
  }

  /**
   * Removes one lease and returns how many live leases its set still holds, with `stamp` written in the same step
   * (one MULTI). The set keeps its TTL.
   */
  async leaseRelease(key: string, member: string, now: number, stamp?: Stamp): Promise<number> {
    this.#assertKey(key);
    assert(typeof member === 'string' && member.length > 0, `${LOG_PREFIX} leaseRelease() member must be a non-empty string`);
    assert(Number.isFinite(now), `${LOG_PREFIX} leaseRelease() now must be a time in epoch milliseconds`);
    if (stamp) this.#assertStamp(stamp);
    return this.#leaseCall('leaseRelease', key, store => store.leaseRelease(key, member, now, stamp), memory => {
      const live = memory.leaseRelease(key, member, now);
      if (stamp) memory.set(stamp.key, stamp.value, stamp.ttlMs);
      return live;
    });
  }

  /** The set's live members and its lapsed leases (with their expiry, lowest first), which are removed in the same step. */
  async leaseRead(key: string, now: number): Promise<LeaseRead> {
    this.#assertKey(key);
    assert(Number.isFinite(now), `${LOG_PREFIX} leaseRead() now must be a time in epoch milliseconds`);
    return this.#leaseCall('leaseRead', key, store => store.leaseRead(key, now), memory => memory.leaseRead(key, now));
  }

  /**
   * The Redis side of socket.io's Redis adapter for the channels under `channelKey` (built with `key()`), or
   * undefined in memory mode (a single node: socket.io keeps its in-memory adapter). The cache owns its two
   * connections (duplicates of its client): their listeners, their reconnection and their closing.
   */
  socketAdapter(channelKey: string): ImSocketAdapter | undefined {
    this.#assertKey(channelKey);
    assert(!this.#closed, `${LOG_PREFIX} socketAdapter() on a closed cache`);
    if (!this.#client) return undefined;
    const adapter: ImSocketAdapter = new RedisSocketAdapter(this.#client, channelKey, this.#options.commandTimeoutMs, this.#logger,
      () => this.#adapters.delete(adapter));
    this.#adapters.add(adapter);
    return adapter;
  }

  /** Items `start`..`stop` inclusive, oldest first; negative indexes count from the end (LRANGE). */
  async listRange(key: string, start: number, stop: number): Promise<string[]> {
    this.#assertKey(key);
    assert(Number.isInteger(start) && Number.isInteger(stop), `${LOG_PREFIX} listRange() start and stop must be integers`);
    return this.#read('listRange', key, store => store.listRange(key, start, stop), memory => memory.listRange(key, start, stop));
  }

  /**
   * A rate limiter named `name` (see `ImCacheLimiter`): counted in Redis under `<prefix>rl:<name>:<key>`, so
   * every node that shares the prefix shares the count, while the cache uses Redis; in this process's bounded
   * memory in memory mode and while Redis is down, degraded or failing. Its calls never reject because of
   * Redis and never wait on it longer than `commandTimeoutMs`. Make each limiter once (at start), not per call.
   */
  limiter(name: string, options: ImLimiterOptions): ImCacheLimiter {
    const resolved = resolveLimiterOptions(name, options, this.#options.memory.maxEntries);
    const keyPrefix = this.key('rl', name);
    const client = this.#client
      ? this.#client.withCommandOptions({ timeout: this.#options.commandTimeoutMs })
      : undefined;
    return new ImCacheLimiter(name, resolved, keyPrefix, client, (op, call) => this.#limiterCall(op, keyPrefix, call));
  }

  /** For `/readyz`: PING with a short timeout. Never throws. */
  async check(): Promise<ImCacheCheck> {
    if (this.mode === 'memory') return { ok: true, mode: 'memory', degraded: false };
    const client = this.#client as RedisClientType;
    const store = this.#store as RedisStore;
    if (this.#closed) return { ok: false, mode: 'redis', degraded: true, error: 'closed' };
    if (!client.isReady) {
      this.#enterDegraded('connection lost');
      return { ok: false, mode: 'redis', degraded: true, error: 'not connected' };
    }
    try {
      const latencyMs = await store.ping(Math.min(this.#options.commandTimeoutMs, CHECK_TIMEOUT_CAP_MS));
      if (this.#degraded) this.#tryRestore();
      return { ok: true, mode: 'redis', degraded: this.#degraded, latencyMs: Math.round(latencyMs * 1000) / 1000 };
    } catch (err) {
      return { ok: false, mode: 'redis', degraded: this.#degraded, error: errorMessage(err) };
    }
  }

  memoryStats(): MemoryStats {
    return this.#memory.stats();
  }

  /** Stops probing and closes the Redis client (`close()`; `destroy()` when Redis is unusable anyway). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopProbe();
    await Promise.all([ ...this.#adapters ].map(adapter => adapter.close()));
    const client = this.#client;
    if (client?.isOpen) {
      if (client.isReady && !this.#degraded) {
        try {
          await withTimeout(client.close(), this.#options.commandTimeoutMs * 2, 'close');
        } catch (err) {
          // the server took the commands but does not answer: let the socket go without holding the process
          this.#logger.warn('%s redis did not answer while closing: %s', LOG_PREFIX, errorMessage(err));
          client.unref();
        }
      } else {
        client.destroy();
      }
    }
    this.#memory.clear();
  }

  async #start(): Promise<void> {
    const { memory } = this.#options;
    if (this.mode === 'memory') {
      this.#logger.info('%s no redis url configured: cache in memory mode (single node only; at most %d entries / %d bytes)',
        LOG_PREFIX, memory.maxEntries, memory.maxBytes);
      return;
    }
    const client = this.#client as RedisClientType;
    const { connectTimeoutMs } = this.#options;
    this.#logger.info('%s redis mode: %s, key prefix "%s"', LOG_PREFIX, redactUrl(this.#options.url), this.prefix);

    // Wait for the first attempt to succeed or fail (at most connectTimeoutMs); the connection
    // loop itself goes on in the background until it succeeds or the cache is closed.
    const firstAttempt = new Promise<string | undefined>(resolve => {
      const done = (reason?: string) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        resolve(reason);
      };
      const onReady = () => done();
      const onError = (err: unknown) => done(errorMessage(err));
      const timer = setTimeout(() => done(`no connection within ${connectTimeoutMs} ms`), connectTimeoutMs);
      client.once('ready', onReady);
      client.once('error', onError);
    });
    client.connect().catch(err => {
      if (!this.#closed) this.#logger.error('%s redis connection loop ended: %s', LOG_PREFIX, errorMessage(err));
    });
    const failure = await firstAttempt;
    this.#started = true;
    if (failure !== undefined && !client.isReady) this.#enterDegraded(`cannot connect at start: ${failure}`);
  }

  #onClientError(err: unknown): void {
    const client = this.#client as RedisClientType;
    if (this.#closed || !this.#started) {
      // after close: nothing to do; while starting: #start() reports the first failure
      this.#logger.debug('%s redis error: %s', LOG_PREFIX, errorMessage(err));
    } else if (client.isReady) {
      this.#logger.warn('%s redis client error: %s', LOG_PREFIX, errorMessage(err));
    } else if (!this.#degraded) {
      this.#enterDegraded(`connection lost: ${errorMessage(err)}`);
    } else {
      // the reconnection loop at work; the state change was logged once already
      this.#logger.debug('%s redis reconnection attempt failed: %s', LOG_PREFIX, errorMessage(err));
    }
  }

  #onClientReady(): void {
    if (this.#degraded) this.#tryRestore();
  }

  #enterDegraded(reason: string): void {
    if (this.mode !== 'redis' || this.#degraded || this.#closed) return;
    this.#degraded = true;
    this.#logger.warn('%s redis unavailable, serving from memory (degraded): %s', LOG_PREFIX, reason);
    this.#startProbe();
    this.#notify('degraded', reason);
  }

  #startProbe(): void {
    if (this.#probeTimer) return;
    const every = Math.max(25, Math.floor(this.#options.breaker.halfOpenAfterMs / 2));
    this.#probeTimer = setInterval(() => this.#tryRestore(), every);
    this.#probeTimer.unref();
  }

  #stopProbe(): void {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #tryRestore(): void {
    if (!this.#degraded || this.#closed || this.#restoring || !this.#client?.isReady) return;
    this.#restoring = this.#restore()
      .catch(err => this.#logger.error('%s restoring redis failed: %s', LOG_PREFIX, errorMessage(err)))
      .finally(() => {
        this.#restoring = undefined;
      });
  }

  /** Emits a state change; a listener that throws is logged, never allowed into the cache's own paths. */
  #notify(event: 'degraded', reason: string): void;
  #notify(event: 'restored'): void;
  #notify(event: keyof ImCacheEvents, ...args: unknown[]): void {
    try {
      (this.emit as (name: string, ...values: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.#logger.error('%s a "%s" listener threw: %s', LOG_PREFIX, event, errorMessage(err));
    }
  }

  /**
   * Leaves degraded mode once Redis answers again, without ever serving stale data: keys under
   * the prefix may have been superseded by writes that went to the fallback (or to nowhere), so
   * all of them are deleted from Redis (SCAN + UNLINK), then the fallback is cleared. Until the
   * switch, calls keep using the fallback; writes made meanwhile are dropped with it (a miss, never stale).
   */
  async #restore(): Promise<void> {
    const store = this.#store as RedisStore;
    const breaker = this.#breaker as CircuitBreakerPolicy;
    try {
      // through the breaker: refused while it is open, the half-open trial once it may be
      await breaker.execute(() => store.ping());
    } catch (err) {
      this.#logger.debug('%s redis probe failed: %s', LOG_PREFIX, errorMessage(err));
      return;
    }
    let purged: number;
    try {
      purged = await store.purge(this.prefix);
    } catch (err) {
      this.#logger.warn('%s redis answers again but deleting the keys under "%s" failed; staying degraded: %s',
        LOG_PREFIX, this.prefix, errorMessage(err));
      return;
    }
    if (this.#closed || !this.#degraded || !this.#client?.isReady) return;
    const dropped = this.#memory.clear();
    this.#degraded = false;
    this.#stopProbe();
    this.#logger.info('%s redis restored (deleted %d keys under "%s" and %d fallback entries, so nothing stale is served)',
      LOG_PREFIX, purged, this.prefix, dropped);
    this.#notify('restored');
  }

  /**
   * One limiter call on Redis, like a read: through the breaker, bounded by the command timeout, a failure
   * logged (and counted by the breaker) but never thrown. Undefined: count in memory instead.
   */
  async #limiterCall<T>(op: string, key: string, call: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (!this.#useRedis()) return undefined;
    try {
      const value = await (this.#breaker as CircuitBreakerPolicy).execute(() => withTimeout(call(), this.#options.commandTimeoutMs, op));
      return { value };
    } catch (err) {
      this.#logFailure(op, key, err);
      return undefined;
    }
  }

  /** Redis is to be used for this call; notices a lost connection that has not been reported yet. */
  #useRedis(): boolean {
    if (this.mode !== 'redis' || this.#degraded || this.#closed) return false;
    if (!this.#client?.isReady) {
      this.#enterDegraded('connection lost');
      return false;
    }
    return true;
  }

  /** Runs a memory operation; a type clash is reported with the key's kind, like Redis' WRONGTYPE. */
  #inMemory<T>(op: string, key: string, fn: (memory: MemoryStore) => T): T {
    try {
      return fn(this.#memory);
    } catch (err) {
      if (isWrongType(err)) throw new ImCacheWrongTypeError(op, this.#kind(key));
      throw err;
    }
  }

  async #read<T>(op: string, key: string, viaRedis: (store: RedisStore) => Promise<T>, viaMemory: (memory: MemoryStore) => T): Promise<T> {
    if (!this.#useRedis()) return this.#inMemory(op, key, viaMemory);
    try {
      return await (this.#breaker as CircuitBreakerPolicy).execute(() => viaRedis(this.#store as RedisStore));
    } catch (err) {
      if (isWrongType(err)) throw new ImCacheWrongTypeError(op, this.#kind(key));
      this.#logFailure(op, key, err);
      // the fallback is empty unless an outage has begun: usually a miss
      return this.#inMemory(op, key, viaMemory);
    }
  }

  /**
   * A lease call, read or write, goes like a read: through the breaker, bounded by the command timeout, and a
   * failure is logged (and counted by the breaker) and answered from memory, without degrading the cache on its
   * own. A lease carries its expiry: one that a failed call did not refresh, or did not release, lapses by itself
   * within its life, so nothing a failed lease call leaves in Redis is served for longer than that (a missed stamp
   * is overwritten by the next one).
   */
  #leaseCall<T>(op: string, key: string, viaRedis: (store: RedisStore) => Promise<T>, viaMemory: (memory: MemoryStore) => T): Promise<T> {
    return this.#read(op, key, viaRedis, viaMemory);
  }

  /**
   * `additive`: the write only adds true data (a committed message to a window), so a failed or timed-out
   * attempt cannot leave anything stale behind: it is logged and dropped, and the cache is not degraded.
   */
  async #write(op: string, key: string, viaRedis: (store: RedisStore) => Promise<unknown>, viaMemory: (memory: MemoryStore) => unknown,
    additive = false): Promise<void> {
    if (!this.#useRedis()) {
      this.#inMemory(op, key, viaMemory);
      return;
    }
    if (additive) {
      // Best effort, outside the circuit breaker: a slow additive write must not make every other call
      // skip Redis.
      await viaRedis(this.#store as RedisStore).catch(err => this.#logFailure(op, key, err));
      return;
    }
    try {
      await (this.#breaker as CircuitBreakerPolicy).execute(() => viaRedis(this.#store as RedisStore));
    } catch (err) {
      if (isWrongType(err)) throw new ImCacheWrongTypeError(op, this.#kind(key));
      this.#logFailure(op, key, err);
      // Redis may still hold the value this write replaces: from now on only the fallback is
      // trusted, until a restore has deleted everything under the prefix.
      this.#enterDegraded(`${op} failed on a key of kind "${this.#kind(key)}": ${errorMessage(err)}`);
      this.#inMemory(op, key, viaMemory);
    }
  }

  /**
   * One line per failed call while Redis is otherwise in use. Failures that belong to an outage
   * (the connection is gone, or the breaker has opened) are covered by the single state-change line:
   * a lost socket rejects every command in flight at once, and that must not flood the log.
   */
  #logFailure(op: string, key: string, err: unknown): void {
    if (err instanceof BrokenCircuitError || this.#degraded) return;
    if (!this.#client?.isReady) {
      this.#enterDegraded(`connection lost: ${errorMessage(err)}`);
      return;
    }
    this.#logger.warn('%s redis %s failed (key kind "%s"): %s', LOG_PREFIX, op, this.#kind(key), errorMessage(err));
  }

  #assertKey(key: string): void {
    assert(typeof key === 'string' && key.length > this.prefix.length && key.startsWith(this.prefix),
      `${LOG_PREFIX} keys must be built with imCache.key(...) (prefix "${this.prefix}")`);
  }

  #assertLease(lease: Lease): void {
    assert(lease && typeof lease === 'object', `${LOG_PREFIX} a lease is { key, member, expiresAt }`);
    this.#assertKey(lease.key);
    assert(typeof lease.member === 'string' && lease.member.length > 0, `${LOG_PREFIX} a lease's member must be a non-empty string`);
    assert(Number.isFinite(lease.expiresAt), `${LOG_PREFIX} a lease's expiresAt must be a time in epoch milliseconds`);
  }

  #assertStamp(stamp: Stamp): void {
    assert(stamp && typeof stamp === 'object', `${LOG_PREFIX} a stamp is { key, value, ttlMs }`);
    this.#assertKey(stamp.key);
    assert(typeof stamp.value === 'string', `${LOG_PREFIX} a stamp's value must be a string`);
    assert(Number.isInteger(stamp.ttlMs) && stamp.ttlMs > 0, `${LOG_PREFIX} a stamp's ttlMs must be a positive integer, got ${String(stamp.ttlMs)}`);
  }

  #ttl(ttlMs: number): number {
    assert(typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs > 0,
      `${LOG_PREFIX} every write needs a TTL in milliseconds > 0, got ${String(ttlMs)}`);
    return Math.ceil(ttlMs);
  }

  /**
   * The first part after the prefix (`session`, `member`, ...): all that logs may say about a key.
   * A part that does not look like a name (a hash, an id) is not logged.
   */
  #kind(key: string): string {
    const rest = key.startsWith(this.prefix) ? key.slice(this.prefix.length) : key;
    const end = rest.indexOf(':');
    const kind = end < 0 ? rest : rest.slice(0, end);
    return /^[A-Za-z][A-Za-z_.-]{0,39}$/.test(kind) ? kind : '(unnamed)';
  }
}
