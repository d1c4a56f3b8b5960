import type { createAdapter } from '@socket.io/redis-adapter';

/** Configuration of one cache client (`config.imCache.client`). */
export interface ImCacheClientConfig {
  /**
   * `redis://[user:pass@]host:port[/db]` (or `rediss://` for TLS). Empty: memory mode (single node).
   * Defaults to `process.env.IM_REDIS_URL`.
   */
  url: string;
  /** Prefix of every key this cache writes; the cache owns every key under it (see the README). */
  prefix: string;
  /** How long one connection attempt may take, and how long the app waits for Redis at start. */
  connectTimeoutMs: number;
  /** How long one Redis command may take before it counts as failed. */
  commandTimeoutMs: number;
  /** Reconnection delays: exponential from `baseMs`, capped at `maxMs`, never giving up. */
  reconnect: { baseMs: number; maxMs: number };
  /** Circuit breaker: opens after `consecutiveFailures` failed calls, probes again after `halfOpenAfterMs`. */
  breaker: { consecutiveFailures: number; halfOpenAfterMs: number };
  /** Bounds of the in-memory store (memory mode, and the fallback while Redis is down). */
  memory: { maxEntries: number; maxBytes: number };
}

/** `config.imCache` */
export interface ImCacheConfig {
  client: ImCacheClientConfig;
}

export type ImCacheMode = 'redis' | 'memory';

/** An item of a scored window (a Redis sorted set): e.g. a message scored by its seq. */
export interface ScoredItem {
  score: number;
  value: string;
}

/**
 * A lease: a member of a lease set (a Redis sorted set scored by each member's expiry), e.g. one connected
 * socket in its user's presence set. A lease counts as live while `expiresAt >= now`.
 */
export interface Lease {
  key: string;
  member: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** A plain string written in the same round trip as a lease call (e.g. a "last seen" time), with its own TTL. */
export interface Stamp {
  key: string;
  value: string;
  ttlMs: number;
}

/** What `imCache.leaseRead()` found: the live members, and the lapsed ones with their expiry (now pruned). */
export interface LeaseRead {
  live: string[];
  lapsed: ScoredItem[];
}

/**
 * The Redis side of socket.io's Redis adapter, owned by the cache (`imCache.socketAdapter(channelKey)`): two
 * connections (publisher and subscriber) duplicated from the cache's client, with their listeners and their closing.
 */
export interface ImSocketAdapter {
  /** The @socket.io/redis-adapter factory, for `io.adapter()`. */
  readonly adapter: ReturnType<typeof createAdapter>;
  /** Both connections are up: a publish made now reaches Redis. */
  readonly ready: boolean;
  /**
   * Changes whenever a connection of the adapter fails or reconnects. A publish made at one epoch is known to
   * have reached Redis once the epoch has not changed for a while after it (publishes in flight when a
   * connection drops are lost).
   */
  readonly epoch: number;
  /** `listener` runs each time both connections are up after they were not (the first time too). */
  onReady(listener: () => void): void;
  /** Closes both connections (at once when Redis does not answer); the cache closes what is left open when it closes. */
  close(): Promise<void>;
}

/** Result of `imCache.check()` (used by `/readyz`). */
export interface ImCacheCheck {
  /** False only when Redis is configured but does not answer. */
  ok: boolean;
  mode: ImCacheMode;
  /** Redis is configured but not in use right now: the cache serves from memory. */
  degraded: boolean;
  latencyMs?: number;
  error?: string;
}

export interface MemoryStats {
  entries: number;
  /** Approximate size: UTF-8 bytes of keys and values. */
  bytes: number;
  maxEntries: number;
  maxBytes: number;
}

/** The subset of Egg's logger the cache uses (`app.coreLogger`). */
export interface ImCacheLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
}

/** Options of `imCache.limiter(name, options)`. */
export interface ImLimiterOptions {
  /** Points a key may take per window (a positive integer). */
  points: number;
  /** The window, in milliseconds: a whole number of seconds (Redis counts in seconds), at least 1000. */
  durationMs: number;
  /**
   * When a key first takes more than `points`, it is refused for this long (a whole number of seconds, in
   * milliseconds) instead of until its window ends. 0 (default): no block.
   */
  blockDurationMs?: number;
  /** Most keys counted in this process's memory (memory mode and the fallback); default `memory.maxEntries`. */
  maxKeys?: number;
}

/** What `limiter.consume()` decided. */
export type ImLimitDecision =
  | { allowed: true; remaining: number }
  | { allowed: false; retryAfterMs: number };
