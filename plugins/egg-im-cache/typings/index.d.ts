import 'egg';
import type { ImCache } from '../lib/ImCache';
import type { ImCacheConfig } from '../lib/types';

export type { ImCache, ImCacheEvents } from '../lib/ImCache';
export type { ImCacheLimiter } from '../lib/ImCacheLimiter';
export type {
  ImCacheCheck, ImCacheClientConfig, ImCacheConfig, ImCacheMode, ImLimitDecision, ImLimiterOptions, ImSocketAdapter, Lease, LeaseRead,
  MemoryStats, ScoredItem, Stamp,
} from '../lib/types';

declare module 'egg' {
  interface Application {
    /** egg-im's cache: Redis, or a bounded in-memory store (see egg-im-cache's README). */
    imCache: ImCache;
  }

  interface EggAppConfig {
    imCache: ImCacheConfig;
  }
}
