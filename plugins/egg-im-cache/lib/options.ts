import assert from 'node:assert';
import type { ImCacheClientConfig } from './types';
import { backoffDelay } from 'egg-im-protocol';

export const LOG_PREFIX = '[egg-im-cache]';

/** Defaults of everything but `url` (which comes from `IM_REDIS_URL`). */
export const DEFAULT_OPTIONS: Readonly<Omit<ImCacheClientConfig, 'url'>> = Object.freeze({
  prefix: 'im:',
  connectTimeoutMs: 3000,
  commandTimeoutMs: 500,
  reconnect: Object.freeze({ baseMs: 100, maxMs: 5000 }),
  breaker: Object.freeze({ consecutiveFailures: 5, halfOpenAfterMs: 5000 }),
  memory: Object.freeze({ maxEntries: 100_000, maxBytes: 64 * 1024 * 1024 }),
});

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function positiveInt(value: unknown, name: string): number {
  assert(typeof value === 'number' && Number.isInteger(value) && value > 0,
    `${LOG_PREFIX} config.imCache.client.${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** Fills in defaults and validates; every problem is an assertion starting with `[egg-im-cache]`. */
export function resolveOptions(raw: DeepPartial<ImCacheClientConfig> = {}): ImCacheClientConfig {
  const url = raw.url ?? '';
  assert(typeof url === 'string', `${LOG_PREFIX} config.imCache.client.url must be a string`);
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new assert.AssertionError({ message: `${LOG_PREFIX} config.imCache.client.url is not a valid URL (expected redis://host:port[/db])` });
    }
    assert(parsed.protocol === 'redis:' || parsed.protocol === 'rediss:',
      `${LOG_PREFIX} config.imCache.client.url must start with redis:// or rediss://, got ${parsed.protocol}//`);
  }
  const prefix = raw.prefix ?? DEFAULT_OPTIONS.prefix;
  // An empty prefix would make "every key of this cache" mean "every key of the database".
  assert(typeof prefix === 'string' && prefix.length > 0, `${LOG_PREFIX} config.imCache.client.prefix must be a non-empty string`);

  const options: ImCacheClientConfig = {
    url,
    prefix,
    connectTimeoutMs: positiveInt(raw.connectTimeoutMs ?? DEFAULT_OPTIONS.connectTimeoutMs, 'connectTimeoutMs'),
    commandTimeoutMs: positiveInt(raw.commandTimeoutMs ?? DEFAULT_OPTIONS.commandTimeoutMs, 'commandTimeoutMs'),
    reconnect: {
      baseMs: positiveInt(raw.reconnect?.baseMs ?? DEFAULT_OPTIONS.reconnect.baseMs, 'reconnect.baseMs'),
      maxMs: positiveInt(raw.reconnect?.maxMs ?? DEFAULT_OPTIONS.reconnect.maxMs, 'reconnect.maxMs'),
    },
    breaker: {
      consecutiveFailures: positiveInt(raw.breaker?.consecutiveFailures ?? DEFAULT_OPTIONS.breaker.consecutiveFailures, 'breaker.consecutiveFailures'),
      halfOpenAfterMs: positiveInt(raw.breaker?.halfOpenAfterMs ?? DEFAULT_OPTIONS.breaker.halfOpenAfterMs, 'breaker.halfOpenAfterMs'),
    },
    memory: {
      maxEntries: positiveInt(raw.memory?.maxEntries ?? DEFAULT_OPTIONS.memory.maxEntries, 'memory.maxEntries'),
      maxBytes: positiveInt(raw.memory?.maxBytes ?? DEFAULT_OPTIONS.memory.maxBytes, 'memory.maxBytes'),
    },
  };
  assert(options.reconnect.maxMs >= options.reconnect.baseMs,
    `${LOG_PREFIX} config.imCache.client.reconnect.maxMs must be >= reconnect.baseMs`);
  return options;
}

/** The URL without user name and password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

/**
 * Delay before reconnection attempt `retries` (0-based): egg-im's one backoff schedule from `baseMs`, capped at
 * `maxMs`, with up to 20% jitter so that many nodes do not reconnect in lockstep. Never gives up.
 */
export function reconnectDelay(retries: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.max(1, backoffDelay(retries + 1, { baseMs, maxMs, jitter: 0.2 }, random));
}
