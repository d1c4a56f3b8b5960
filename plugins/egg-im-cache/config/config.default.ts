import type { EggAppConfig, PowerPartial } from 'egg';
import { DEFAULT_OPTIONS } from '../lib/options';
import type { ImCacheConfig } from '../lib/types';

export default () => {
  const config = {} as PowerPartial<EggAppConfig>;

  /**
   * egg-im-cache. Every field is documented in lib/types.ts and in the README.
   * - url: redis://host:port[/db] (env IM_REDIS_URL); empty means memory mode (single node only)
   * - prefix: every key of the cache starts with it, and the cache owns every key under it
   * - connectTimeoutMs: one connection attempt, and the longest the app waits for Redis at start
   * - commandTimeoutMs: one command; a slower answer counts as a failure
   * - reconnect: exponential backoff from baseMs, capped at maxMs, never giving up
   * - breaker: opens after consecutiveFailures failed calls, tries again after halfOpenAfterMs
   * - memory: bounds of the in-memory store (entries and UTF-8 bytes of keys and values)
   */
  const imCache: ImCacheConfig = {
    client: {
      url: process.env.IM_REDIS_URL || '',
      prefix: process.env.IM_REDIS_PREFIX || DEFAULT_OPTIONS.prefix,
      connectTimeoutMs: DEFAULT_OPTIONS.connectTimeoutMs,
      commandTimeoutMs: DEFAULT_OPTIONS.commandTimeoutMs,
      reconnect: { ...DEFAULT_OPTIONS.reconnect },
      breaker: { ...DEFAULT_OPTIONS.breaker },
      memory: { ...DEFAULT_OPTIONS.memory },
    },
  };
  config.imCache = imCache;

  return config;
};
