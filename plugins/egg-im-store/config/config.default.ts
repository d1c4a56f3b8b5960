import type { EggAppInfo } from 'egg';
import { defaultClientConfig } from '../lib/defaults';
import type { ImStoreConfig } from '../lib/types';

/**
 * `config.imStore.client` (every key and its default is described in lib/defaults.ts and the README):
 *
 * - `url`: `mysql://user:pass@host:port/db` (or `mariadb://…`), `sqlite:<file>` (relative to the app's
 *   baseDir), or '' for the embedded SQLite file `<baseDir>/run/egg-im.sqlite`. Defaults to `IM_DATABASE_URL`.
 * - `pool`: `{ size: 20, acquireTimeoutMs: 10000, idleTimeoutMs: 60000, connectTimeoutMs: 5000, queueLimit: 1000 }` (MySQL)
 * - `connectRetry`: `{ attempts: 8, baseMs: 200, factor: 2, maxMs: 5000 }`: waiting for the database at start
 * - `retry`: `{ attempts: 3, baseMs: 50, factor: 2, maxMs: 1000 }`: `withRetry` defaults
 * - `migrationsRun: true`, `createDatabase: false`, `slowQueryMs: 1000`, `logging: ['warn', 'migration']`,
 *   `checkTimeoutMs: 2000`, `migrationLockTimeoutMs: 60000`
 *
 * The environment is read inside this function (not at import), so it is current on every load.
 */
export default (_appInfo: EggAppInfo) => {
  const imStore: ImStoreConfig = {
    client: {
      ...defaultClientConfig(),
      url: process.env.IM_DATABASE_URL || '',
    },
  };
  return { imStore };
};
