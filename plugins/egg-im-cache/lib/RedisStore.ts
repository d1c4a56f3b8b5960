import type { RedisClientType } from 'redis';
import type { ScoredItem } from './types';
import { createHash } from 'node:crypto';
import { withTimeout } from './errors';

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
const WINDOW_ADD_SHA = createHash('sha1').update(WINDOW_ADD).digest('hex');

/** Escapes glob characters so that a key prefix can be used in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The cache's commands on one node-redis client, each bounded by `commandTimeoutMs`
 * (node-redis' own command timeout, which also drops an unsent command, plus a race for MULTI).
 * No fallback here: failures are the caller's (ImCache's) to handle.
 */
export class RedisStore {
  readonly #client: RedisClientType;
  readonly #timed: RedisClientType;
  readonly #timeoutMs: number;

  constructor(client: RedisClientType, commandTimeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = commandTimeoutMs;
    this.#timed = client.withCommandOptions({ timeout: commandTimeoutMs }) as unknown as RedisClientType;
  }

  #bound<T>(op: string, promise: Promise<T>, ms = this.#timeoutMs): Promise<T> {
    return withTimeout(promise, ms, op);
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.#bound('GET', this.#timed.get(key));
    return value ?? undefined;
  }

  async mget(keys: readonly string[]): Promise<Array<string | undefined>> {
    const values = await this.#bound('MGET', this.#timed.mGet([ ...keys ]));
    return values.map(value => value ?? undefined);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#bound('SET', this.#timed.set(key, value, { expiration: { type: 'PX', value: ttlMs } }));
  }

  async del(keys: readonly string[]): Promise<number> {
    return this.#bound('DEL', this.#timed.del([ ...keys ]));
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
    const options = { keys: windows.map(w => w.key), arguments: args };
    await this.#bound('EVALSHA windowAdd', this.#timed.evalSha(WINDOW_ADD_SHA, options).catch(err => {
      // The first call after Redis started (or SCRIPT FLUSH): send the script itself; Redis caches it.
      if (/NOSCRIPT/.test(String(err?.message))) return this.#timed.eval(WINDOW_ADD, options);
      throw err;
    }));
  }

  async windowRange(key: string, min: number, max: number): Promise<ScoredItem[]> {
    return this.#bound('ZRANGEBYSCORE', this.#timed.zRangeByScoreWithScores(key, min, max));
  }

  async listRange(key: string, start: number, stop: number): Promise<string[]> {
    return this.#bound('LRANGE', this.#timed.lRange(key, start, stop));
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
      const reply = await this.#bound('SCAN', this.#timed.scan(cursor, { MATCH: match, COUNT: 1000 }));
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) deleted += await this.#bound('UNLINK', this.#timed.unlink(reply.keys));
    } while (cursor !== '0');
    return deleted;
  }
}
