import assert from 'node:assert';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { LOG_PREFIX } from './options';
import type { ImLimitDecision, ImLimiterOptions } from './types';

/** Longest key a limiter takes (a username, an IP address, a user id): longer is a programming error. */
const MAX_KEY_LENGTH = 512;
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,39}$/;

/** Limiter options with every default filled in. */
export interface ResolvedLimiterOptions {
  points: number;
  durationMs: number;
  blockDurationMs: number;
  maxKeys: number;
}

/**
 * Runs one call against Redis for a limiter, through the cache's circuit breaker and bounded by its command
 * timeout; `undefined` when Redis is not to be used now (memory mode, degraded, closed) or the call failed
 * (the cache has logged it): the limiter then counts in memory.
 */
export type LimiterRedisRunner = <T>(op: string, call: () => Promise<T>) => Promise<{ value: T } | undefined>;

function wholeSeconds(value: unknown, name: string, allowZero: boolean): number {
  assert(typeof value === 'number' && Number.isInteger(value) && (allowZero ? value >= 0 : value >= 1000) && value % 1000 === 0,
    `${LOG_PREFIX} limiter ${name} must be ${allowZero ? '0 or ' : ''}a whole number of seconds in milliseconds (1000, 2000, ...; Redis counts in seconds), got ${String(value)}`);
  return value;
}

/** Validates a limiter's name and options; every problem is an assertion starting with `[egg-im-cache]`. */
export function resolveLimiterOptions(name: unknown, options: ImLimiterOptions, defaultMaxKeys: number): ResolvedLimiterOptions {
  assert(typeof name === 'string' && NAME.test(name), `${LOG_PREFIX} a limiter name is 1 to 40 letters, digits, "_", "." or "-", starting with a letter; got ${JSON.stringify(name)}`);
  assert(options && typeof options === 'object', `${LOG_PREFIX} limiter "${name}" needs options { points, durationMs }`);
  const { points, maxKeys = defaultMaxKeys } = options;
  assert(typeof points === 'number' && Number.isInteger(points) && points > 0,
    `${LOG_PREFIX} limiter "${name}" points must be a positive integer, got ${String(points)}`);
  assert(typeof maxKeys === 'number' && Number.isInteger(maxKeys) && maxKeys > 0,
    `${LOG_PREFIX} limiter "${name}" maxKeys must be a positive integer, got ${String(maxKeys)}`);
  return {
    points,
    durationMs: wholeSeconds(options.durationMs, `"${name}" durationMs`, false),
    blockDurationMs: wholeSeconds(options.blockDurationMs ?? 0, `"${name}" blockDurationMs`, true),
    maxKeys,
  };
}

/** A consume's outcome from either store: a RateLimiterRes, resolved (allowed) or rejected (over the limit). */
async function settle(attempt: Promise<RateLimiterRes>): Promise<{ allowed: boolean; res: RateLimiterRes }> {
  try {
    return { allowed: true, res: await attempt };
  } catch (err) {
    if (err instanceof RateLimiterRes) return { allowed: false, res: err };
    throw err;
  }
}

/**
 * rate-limiter-flexible's RateLimiterMemory, bounded: it keeps a record (and a timer) per key until the key's
 * window ends, so a flood of distinct keys (addresses, usernames) would grow it without limit. The keys are
 * tracked in an LRU of `maxKeys`; the least recently used key beyond it is deleted from the limiter too.
 */
class BoundedMemoryLimiter {
  readonly #limiter: RateLimiterMemory;
  readonly #keys: LRUCache<string, true>;

  constructor(limiter: RateLimiterMemory, maxKeys: number) {
    this.#limiter = limiter;
    this.#keys = new LRUCache<string, true>({
      max: maxKeys,
      dispose: (_value, key, reason) => {
        if (reason === 'evict') void this.#limiter.delete(key);
      },
    });
  }

  consume(key: string, points: number): Promise<RateLimiterRes> {
    this.#keys.set(key, true);
    return this.#limiter.consume(key, points);
  }

  async reward(key: string, points: number): Promise<void> {
    this.#keys.set(key, true);
    await this.#limiter.reward(key, points);
  }

  async delete(key: string): Promise<void> {
    this.#keys.delete(key);
    await this.#limiter.delete(key);
  }

  get size(): number {
    return this.#keys.size;
  }
}

/**
 * `imCache.limiter(name, options)`: counts `points` per key in fixed windows of `durationMs`
 * (rate-limiter-flexible). In Redis (every node shares the count) while the cache uses Redis; in this
 * process's bounded memory in memory mode and while Redis is down, degraded or failing. Never rejects
 * because of Redis, and never waits on Redis longer than the cache's command timeout.
 */
export class ImCacheLimiter {
  readonly name: string;
  readonly points: number;
  readonly durationMs: number;
  readonly blockDurationMs: number;
  readonly #redis?: RateLimiterRedis;
  readonly #memory: BoundedMemoryLimiter;
  readonly #run: LimiterRedisRunner;

  /**
   * Made by `ImCache.limiter()`. `redisClient` is the cache's node-redis client (redis mode only); it is kept
   * inside the RateLimiterRedis and never handed out. `keyPrefix` is `<cache prefix>rl:<name>`.
   */
  constructor(name: string, options: ResolvedLimiterOptions, keyPrefix: string, redisClient: unknown, run: LimiterRedisRunner) {
    this.name = name;
    this.points = options.points;
    this.durationMs = options.durationMs;
    this.blockDurationMs = options.blockDurationMs;
    this.#run = run;
    const common = {
      keyPrefix,
      points: options.points,
      duration: options.durationMs / 1000,
      blockDuration: options.blockDurationMs / 1000,
    };
    this.#memory = new BoundedMemoryLimiter(new RateLimiterMemory(common), options.maxKeys);
    if (redisClient) {
      // node-redis 4+ (here 5) takes its arguments as objects: `useRedisPackage`. A client that is not
      // connected fails the call at once instead of queueing it (`rejectIfRedisNotReady`). No insuranceLimiter:
      // it would swallow the failure, and the cache's circuit breaker must see it (see `run`).
      this.#redis = new RateLimiterRedis({ ...common, storeClient: redisClient, useRedisPackage: true, rejectIfRedisNotReady: true });
    }
  }

  /**
   * Takes `points` (default 1) for `key`. `{ allowed: true, remaining }` while the key has taken at most
   * `points` in its window; else `{ allowed: false, retryAfterMs }`: until the window ends, or, with
   * `blockDurationMs`, until the block that the first excess started ends. Refused attempts count too.
   */
  async consume(key: string, points = 1): Promise<ImLimitDecision> {
    this.#check(key, points);
    const redis = this.#redis;
    const viaRedis = redis ? await this.#run('limiter consume', () => settle(redis.consume(key, points))) : undefined;
    const { allowed, res } = viaRedis ? viaRedis.value : await settle(this.#memory.consume(key, points));
    if (allowed) return { allowed: true, remaining: res.remainingPoints };
    // msBeforeNext is -1 only for a key without expiry, which a limiter never writes
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(res.msBeforeNext)) };
  }

  /** Gives `points` back to `key` (e.g. an attempt that turned out not to count). */
  async reward(key: string, points = 1): Promise<void> {
    this.#check(key, points);
    const redis = this.#redis;
    const viaRedis = redis ? await this.#run('limiter reward', () => redis.reward(key, points)) : undefined;
    if (!viaRedis) await this.#memory.reward(key, points);
  }

  /** Forgets `key`: its count and its block, wherever they are kept (e.g. after a successful login). */
  async delete(key: string): Promise<void> {
    this.#check(key, 1);
    // memory too: what was counted there during an outage must not outlive a success either
    await this.#memory.delete(key);
    const redis = this.#redis;
    if (redis) await this.#run('limiter delete', () => redis.delete(key));
  }

  /** Keys tracked in this process's memory (memory mode and the fallback); at most `maxKeys`. */
  get memoryKeys(): number {
    return this.#memory.size;
  }

  #check(key: string, points: number): void {
    assert(typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH,
      `${LOG_PREFIX} limiter "${this.name}" keys are strings of 1 to ${MAX_KEY_LENGTH} characters`);
    assert(Number.isInteger(points) && points > 0, `${LOG_PREFIX} limiter "${this.name}" points per call must be a positive integer`);
  }
}
