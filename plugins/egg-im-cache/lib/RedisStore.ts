import type { RedisClientType } from 'redis';
import type { Lease, LeaseRead, ScoredItem, Stamp } from './types';
import { createHash } from 'node:crypto';
import { withTimeout } from './errors';

const sha1 = (script: string) => createHash('sha1').update(script).digest('hex');

/** KEYS: the windows. ARGV: maxLen, ttlMs, then for each window its item count and score, value pairs. */
const WINDOW_ADD = `
local maxLen, ttl, a = tonumber(ARGV[1]), ARGV[2], 3
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    redis.call('ZADD', key, ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('ZREMRANGEBYRANK', key, 0, -maxLen - 1)
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS`;
const WINDOW_ADD_SHA = sha1(WINDOW_ADD);

/**
 * KEYS[1]: a lease set. ARGV: now, the new lease's expiry, its member, the limit, the set's TTL. Adds the lease
 * only while fewer than `limit` leases are live (expiry >= now), in one step: two nodes taking the last place
 * at once cannot both have it. Returns 1 (added) or 0.
 */
const LEASE_ACQUIRE = `
if redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf') >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;
const LEASE_ACQUIRE_SHA = sha1(LEASE_ACQUIRE);

/**
 * KEYS: the lease sets, then the stamps' keys. ARGV: the sets' TTL, the number of leases, then each lease's
 * expiry and member, then each stamp's value and TTL. ZADD + PEXPIRE per lease and SET PX per stamp.
 */
const LEASE_PUT = `
local ttl, n = ARGV[1], tonumber(ARGV[2])
for i = 1, n do
  redis.call('ZADD', KEYS[i], ARGV[1 + 2 * i], ARGV[2 + 2 * i])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
local a = 3 + 2 * n
for i = n + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[a], 'PX', ARGV[a + 1])
  a = a + 2
end
return n`;
const LEASE_PUT_SHA = sha1(LEASE_PUT);

/** Escapes glob characters so that a key prefix can be used in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The cache's commands on one node-redis client, each bounded by `commandTimeoutMs` (a timer raced with the
 * reply). While the client is not ready, commands also carry node-redis' own command timeout, which drops a
 * command still queued when it expires, so that nothing queued during an outage is sent late. While it is
 * ready a command is written at once and that timeout would only cost: node-redis makes it an
 * `AbortSignal.timeout` per command, whose timer fires after every command (answered long before) and builds
 * a `DOMException` with a stack (measured: ~2 % of the worker at 2,000 msg/s). A command made in the instant the
 * connection drops can still be sent after the reconnect; the cache's writes may arrive late (TTLs, versioned
 * entries, adds by score).
 * No fallback here: failures are the caller's (ImCache's) to handle.
 */
export class RedisStore {
  readonly #client: RedisClientType;
  readonly #whileNotReady: RedisClientType;
  readonly #timeoutMs: number;

  constructor(client: RedisClientType, commandTimeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = commandTimeoutMs;
    this.#whileNotReady = client.withCommandOptions({ timeout: commandTimeoutMs }) as unknown as RedisClientType;
  }

  /** The client to send a command on now (see the class comment). */
  get #commands(): RedisClientType {
    return this.#client.isReady ? this.#client : this.#whileNotReady;
  }

  #bound<T>(op: string, promise: Promise<T>, ms = this.#timeoutMs): Promise<T> {
    return withTimeout(promise, ms, op);
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.#bound('GET', this.#commands.get(key));
    return value ?? undefined;
  }

  async mget(keys: readonly string[]): Promise<Array<string | undefined>> {
    const values = await this.#bound('MGET', this.#commands.mGet([ ...keys ]));
    return values.map(value => value ?? undefined);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#bound('SET', this.#commands.set(key, value, { expiration: { type: 'PX', value: ttlMs } }));
  }

  async del(keys: readonly string[]): Promise<number> {
    return this.#bound('DEL', this.#commands.del([ ...keys ]));
  }

  /** RPUSH + LTRIM to the newest `maxLen` + PEXPIRE in one MULTI (one round trip); returns the new length. */
  async listPush(key: string, items: readonly string[], maxLen: number, ttlMs: number): Promise<number> {
    const replies = await this.#bound('MULTI RPUSH/LTRIM/PEXPIRE', this.#client.multi()
      .rPush(key, [ ...items ])
      .lTrim(key, -maxLen, -1)
      .pExpire(key, ttlMs)
      .exec());
    return Math.min(Number(replies[0]), maxLen);
  }

  /**
   * For each window: ZADD + ZREMRANGEBYRANK (keep the `maxLen` highest scores) + PEXPIRE, all in one Lua
   * script call: one command and one reply for any number of windows, instead of a MULTI of five per window.
   */
  async windowAddMany(windows: ReadonlyArray<{ key: string; items: readonly ScoredItem[] }>, maxLen: number, ttlMs: number): Promise<void> {
    const args = [ String(maxLen), String(ttlMs) ];
    for (const { items } of windows) {
      args.push(String(items.length));
      for (const item of items) args.push(String(item.score), item.value);
    }
    await this.#script('windowAdd', WINDOW_ADD, WINDOW_ADD_SHA, { keys: windows.map(w => w.key), arguments: args });
  }

  /**
   * ZADD + PEXPIRE per lease, and SET PX per stamp, in one Lua script call: one command, where a pipeline was
   * three per lease (a presence heartbeat of 10,000 sockets made 3,000 a second, each a promise and a reply to
   * parse here). Redis runs a script without interleaving other clients: callers keep each call small.
   */
  async leasePut(leases: readonly Lease[], keyTtlMs: number, stamps: readonly Stamp[]): Promise<void> {
    const args = [ String(keyTtlMs), String(leases.length) ];
    for (const { member, expiresAt } of leases) args.push(String(expiresAt), member);
    for (const { value, ttlMs } of stamps) args.push(value, String(ttlMs));
    await this.#script('leasePut', LEASE_PUT, LEASE_PUT_SHA, { keys: [ ...leases.map(l => l.key), ...stamps.map(s => s.key) ], arguments: args });
  }

  /** The LEASE_ACQUIRE script: one command. */
  async leaseAcquire(lease: Lease, limit: number, now: number, keyTtlMs: number): Promise<boolean> {
    const reply = await this.#script('leaseAcquire', LEASE_ACQUIRE, LEASE_ACQUIRE_SHA, {
      keys: [ lease.key ],
      arguments: [ String(now), String(lease.expiresAt), lease.member, String(limit), String(keyTtlMs) ],
    });
    return Number(reply) === 1;
  }

  /** ZREM + ZCOUNT of the live leases (+ the stamp's SET PX) in one MULTI; returns the live count. */
  async leaseRelease(key: string, member: string, now: number, stamp?: Stamp): Promise<number> {
    const multi = this.#client.multi().zRem(key, member).zCount(key, now, '+inf');
    if (stamp) multi.set(stamp.key, stamp.value, { expiration: { type: 'PX', value: stamp.ttlMs } });
    const replies = await this.#bound('MULTI ZREM/ZCOUNT', multi.exec());
    return Number(replies[1]);
  }

  /** The lapsed leases with their expiry, the live members, and ZREMRANGEBYSCORE of the lapsed, in one MULTI. */
  async leaseRead(key: string, now: number): Promise<LeaseRead> {
    const [ lapsed, live ] = await this.#bound('MULTI ZRANGEBYSCORE/ZREMRANGEBYSCORE', this.#client.multi()
      .zRangeByScoreWithScores(key, '-inf', `(${now}`)
      .zRangeByScore(key, now, '+inf')
      .zRemRangeByScore(key, '-inf', `(${now}`)
      .exec()) as unknown as [ ScoredItem[], string[] ];
    return { live, lapsed };
  }

  /** EVALSHA of a script; the first call after Redis started (or SCRIPT FLUSH) sends the script itself, which Redis caches. */
  #script(op: string, script: string, sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#bound(`EVALSHA ${op}`, this.#commands.evalSha(sha, options).catch(err => {
      if (/NOSCRIPT/.test(String(err?.message))) return this.#commands.eval(script, options);
      throw err;
    }));
  }

  async windowRange(key: string, min: number, max: number): Promise<ScoredItem[]> {
    return this.#bound('ZRANGEBYSCORE', this.#commands.zRangeByScoreWithScores(key, min, max));
  }

  async listRange(key: string, start: number, stop: number): Promise<string[]> {
    return this.#bound('LRANGE', this.#commands.lRange(key, start, stop));
  }

  /** PING; resolves with the round trip in milliseconds. */
  async ping(timeoutMs = this.#timeoutMs): Promise<number> {
    const started = performance.now();
    await this.#bound('PING', this.#client.withCommandOptions({ timeout: timeoutMs }).ping(), timeoutMs);
    return performance.now() - started;
  }

  /** Deletes every key starting with `prefix` (SCAN + UNLINK, in batches); returns how many were deleted. */
  async purge(prefix: string): Promise<number> {
    const match = `${globEscape(prefix)}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const reply = await this.#bound('SCAN', this.#commands.scan(cursor, { MATCH: match, COUNT: 1000 }));
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) deleted += await this.#bound('UNLINK', this.#commands.unlink(reply.keys));
    } while (cursor !== '0');
    return deleted;
  }
}
