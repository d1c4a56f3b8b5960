import { normalizeBackoff } from './backoff';
import type { ImStoreClientConfig, ImStoreClientConfigInput, ImStorePoolConfig } from './types';

/** Defaults of `config.imStore.client` (the url comes from `IM_DATABASE_URL`, see config/config.default.ts). */
export function defaultClientConfig(): ImStoreClientConfig {
  return {
    url: '',
    pool: {
      size: 20,
      acquireTimeoutMs: 10000,
      idleTimeoutMs: 60000,
      connectTimeoutMs: 5000,
      queueLimit: 1000,
    },
    // 8 tries, waiting 200, 400, 800, 1600, 3200, 5000, 5000 ms between them (about 16 s, plus up to 10 % jitter)
    connectRetry: { attempts: 8, baseMs: 200, factor: 2, maxMs: 5000 },
    // withRetry: 3 tries, waiting 50 then 100 ms
    retry: { attempts: 3, baseMs: 50, factor: 2, maxMs: 1000 },
    write: { maxBatch: 200, shards: 1, lingerMs: 2, backgroundLingerMs: 20 },
    migrationsRun: true,
    createDatabase: false,
    slowQueryMs: 1000,
    // query errors reach the caller, which handles or logs them; 'error' adds a warning per failed query
    logging: ['warn', 'migration'],
    checkTimeoutMs: 2000,
    migrationLockTimeoutMs: 60000,
  };
}

function nonNegative(value: unknown, name: string, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`[egg-im-store] imStore.client.${name} must be a${integer ? 'n integer' : ' number'} >= 0 (got ${JSON.stringify(value)})`);
  }
  return value;
}

function positive(value: unknown, name: string): number {
  const n = nonNegative(value, name, true);
  if (n < 1) throw new Error(`[egg-im-store] imStore.client.${name} must be >= 1 (got ${n})`);
  return n;
}

/** Defaults filled in (for `createInstanceAsync` with a partial config) and every value checked. */
export function normalizeClientConfig(input: ImStoreClientConfigInput | undefined): ImStoreClientConfig {
  const defaults = defaultClientConfig();
  const cfg = input || {};
  const poolIn: Partial<ImStorePoolConfig> = { ...defaults.pool, ...(cfg.pool || {}) };
  const pool: ImStorePoolConfig = {
    size: nonNegative(poolIn.size, 'pool.size', true),
    acquireTimeoutMs: nonNegative(poolIn.acquireTimeoutMs, 'pool.acquireTimeoutMs'),
    idleTimeoutMs: nonNegative(poolIn.idleTimeoutMs, 'pool.idleTimeoutMs'),
    connectTimeoutMs: nonNegative(poolIn.connectTimeoutMs, 'pool.connectTimeoutMs'),
    queueLimit: nonNegative(poolIn.queueLimit, 'pool.queueLimit', true),
  };
  if (pool.size < 1) throw new Error(`[egg-im-store] imStore.client.pool.size must be >= 1 (got ${pool.size})`);
  if (cfg.url !== undefined && cfg.url !== null && typeof cfg.url !== 'string') {
    throw new Error('[egg-im-store] imStore.client.url must be a string');
  }
  return {
    url: cfg.url || '',
    pool,
    connectRetry: normalizeBackoff(cfg.connectRetry, defaults.connectRetry, 'imStore.client.connectRetry'),
    retry: normalizeBackoff(cfg.retry, defaults.retry, 'imStore.client.retry'),
    write: {
      maxBatch: positive(cfg.write?.maxBatch ?? defaults.write.maxBatch, 'write.maxBatch'),
      shards: positive(cfg.write?.shards ?? defaults.write.shards, 'write.shards'),
      lingerMs: nonNegative(cfg.write?.lingerMs ?? defaults.write.lingerMs, 'write.lingerMs'),
      backgroundLingerMs: nonNegative(cfg.write?.backgroundLingerMs ?? defaults.write.backgroundLingerMs, 'write.backgroundLingerMs'),
    },
    migrationsRun: cfg.migrationsRun ?? defaults.migrationsRun,
    createDatabase: cfg.createDatabase ?? defaults.createDatabase,
    slowQueryMs: nonNegative(cfg.slowQueryMs ?? defaults.slowQueryMs, 'slowQueryMs'),
    logging: cfg.logging ?? defaults.logging,
    checkTimeoutMs: nonNegative(cfg.checkTimeoutMs ?? defaults.checkTimeoutMs, 'checkTimeoutMs'),
    migrationLockTimeoutMs: nonNegative(cfg.migrationLockTimeoutMs ?? defaults.migrationLockTimeoutMs, 'migrationLockTimeoutMs'),
  };
}
