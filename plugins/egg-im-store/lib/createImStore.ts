import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { retryDelay, sleep } from './backoff';
import { dbErrorCode, describeDbError, transientKind } from './dbErrors';
import { normalizeClientConfig } from './defaults';
import { entities } from './entity';
import { ImStore } from './ImStore';
import { migrations } from './migrations';
import { endPool, MysqlPoolFactory } from './MysqlPoolFactory';
import { runMigrations } from './runMigrations';
import { noPadCollation } from './sql/collation';
import { takeTurnsOnOneConnection } from './sql/oneConnection';
import { redactDbError } from './redactDbError';
import { parseStoreUrl, redactSecret, type MysqlTarget, type StoreTarget } from './storeUrl';
import { TypeormLogger } from './TypeormLogger';
import type { StoreObserver, TimerObserver } from 'egg-im-metrics';
import type { ImStoreClientConfig, ImStoreClientConfigInput, StoreLogger } from './types';

/** Name of TypeORM's table of applied migrations. */
export const MIGRATIONS_TABLE = 'im_migrations';

/** SQLite: how long a write waits for another connection's lock before SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

interface AppLike {
  baseDir: string;
  coreLogger: StoreLogger;
}

const openStores = new WeakMap<object, Set<ImStore>>();
const aborts = new WeakMap<object, AbortController>();

function abortSignalOf(app: object): AbortSignal {
  let controller = aborts.get(app);
  if (!controller) {
    controller = new AbortController();
    aborts.set(app, controller);
  }
  return controller.signal;
}

/** Stops connection attempts still waiting, then closes every store this app opened (boot `beforeClose`). */
export async function closeStores(app: object): Promise<void> {
  aborts.get(app)?.abort(new Error('[egg-im-store] the app is closing'));
  const stores = openStores.get(app);
  if (!stores) return;
  openStores.delete(app);
  await Promise.all([...stores].map(store => store.close()));
}

/** What TypeORM is given for this target (exported for tests and tools, e.g. a migration CLI). */
export function buildDataSourceOptions(target: StoreTarget, cfg: ImStoreClientConfig, logger: StoreLogger, poolFactory?: MysqlPoolFactory): DataSourceOptions {
  const common = {
    entities,
    migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: false, // run by createImStore, under a lock
    synchronize: false, // schema changes are migrations, always
    logging: cfg.logging,
    logger: new TypeormLogger(logger, cfg.logging, cfg.slowQueryMs),
    maxQueryExecutionTime: cfg.slowQueryMs > 0 ? cfg.slowQueryMs : undefined,
  };
  if (target.driver === 'better-sqlite3') {
    return {
      ...common,
      type: 'better-sqlite3',
      database: target.file,
      enableWAL: target.file !== ':memory:',
      timeout: SQLITE_BUSY_TIMEOUT_MS,
    };
  }
  const { pool } = cfg;
  return {
    ...common,
    type: 'mysql',
    driver: poolFactory?.module,
    host: target.host,
    port: target.port,
    username: target.user,
    password: target.password,
    database: target.database,
    // utf8mb4 in the handshake, whose one byte cannot name the tables' NO PAD collation (id 1070 or 309): each
    // new connection sets it (MysqlPoolFactory), so literals and parameters compare exactly, as the columns do
    charset: 'utf8mb4_bin',
    timezone: 'Z', // DATETIME values are UTC
    supportBigNumbers: true, // BIGINT ids and seqs come back exact (as strings)
    bigNumberStrings: true,
    connectTimeout: pool.connectTimeoutMs,
    poolSize: pool.size,
    extra: {
      connectionLimit: pool.size,
      queueLimit: pool.queueLimit,
      connectTimeout: pool.connectTimeoutMs,
      waitForConnections: true,
      idleTimeout: pool.idleTimeoutMs,
      // idle connections above this are closed after idleTimeout
      maxIdle: Math.max(1, Math.ceil(pool.size / 4)),
      enableKeepAlive: true,
      keepAliveInitialDelay: 10000,
      // mysql2 captures a stack trace for every query to enrich errors; on the message path that is a few
      // per cent of the CPU. Our errors carry their own context (label, ids), so it is off.
      trace: false,
      // A write batch of messages is one packet (START TRANSACTION; …; COMMIT: see sql/runScript.ts). Every
      // statement egg-im sends is parameterized, so this opens no injection path.
      multipleStatements: true,
    },
  };
}

/** MySQL with `createDatabase`: `CREATE DATABASE IF NOT EXISTS` (utf8mb4, the server's NO PAD binary collation). */
async function ensureDatabase(target: MysqlTarget, cfg: ImStoreClientConfig, logger: StoreLogger): Promise<void> {
  const conn = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    connectTimeout: cfg.pool.connectTimeoutMs,
  });
  try {
    const [server] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
    const collation = noPadCollation(String(server[0].version));
    // the name was checked against /^[A-Za-z0-9_$-]{1,64}$/ when the url was parsed
    const [result] = await conn.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE ${collation}`);
    if ((result as { warningStatus?: number }).warningStatus === 0) {
      logger.info('[egg-im-store] created database %s', target.database);
    }
  } finally {
    await conn.end();
  }
}

/** Ends whatever a failed `initialize()` left open (TypeORM keeps the pool if a later step fails). */
async function discard(dataSource: DataSource | undefined, logger: StoreLogger): Promise<void> {
  if (!dataSource) return;
  try {
    if (dataSource.isInitialized) {
      await dataSource.destroy();
    } else if (dataSource.options.type === 'mysql') {
      await endPool((dataSource.driver as any).pool, logger);
    }
  } catch (err) {
    logger.warn('[egg-im-store] cleaning up a failed connection attempt: %s', describeDbError(err));
  }
}

async function connect(target: StoreTarget, cfg: ImStoreClientConfig, logger: StoreLogger, poolFactory: MysqlPoolFactory | undefined, signal: AbortSignal): Promise<DataSource> {
  const secret = target.driver === 'mysql' ? target.password : undefined;
  const { attempts } = cfg.connectRetry;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    let dataSource: DataSource | undefined;
    try {
      if (target.driver === 'mysql' && cfg.createDatabase) await ensureDatabase(target, cfg, logger);
      dataSource = new DataSource(buildDataSourceOptions(target, cfg, logger, poolFactory));
      await dataSource.initialize();
      if (target.driver === 'better-sqlite3') takeTurnsOnOneConnection(dataSource);
      return dataSource;
    } catch (err) {
      await discard(dataSource, logger);
      const reason = redactSecret(describeDbError(err), secret);
      // Contention is transient too: processes opening one new SQLite file at once race to switch it to WAL,
      // and SQLite answers that lock upgrade with SQLITE_BUSY without waiting its busy timeout.
      const kind = transientKind(err);
      if (!kind) {
        const hint = dbErrorCode(err) === 'ER_BAD_DB_ERROR' ? ' (create it, or set imStore.client.createDatabase: true)' : '';
        throw new Error(`[egg-im-store] cannot open the database ${target.redacted}: ${reason}${hint}`, { cause: redactDbError(err) });
      }
      if (attempt >= attempts) {
        throw new Error(`[egg-im-store] database unreachable after ${attempt} attempts: ${reason}`, { cause: redactDbError(err) });
      }
      const delay = retryDelay(attempt, cfg.connectRetry);
      logger.warn('[egg-im-store] database %s (attempt %d/%d, %s), next attempt in %d ms: %s',
        kind === 'contention' ? 'busy' : 'not reachable', attempt, attempts, dbErrorCode(err) || 'error', delay, target.redacted);
      await sleep(delay, signal);
    }
  }
}

/**
 * The async creator given to `app.addSingleton('imStore', …)`: Egg waits for it before the app is ready.
 * Parses the url, waits for the database (exponential backoff), runs the pending migrations, and returns
 * the connected `ImStore`. Throws a `[egg-im-store] …` error when it cannot. `observer` learns of each committed
 * write batch (egg-im-metrics).
 */
export async function createImStore(config: ImStoreClientConfigInput, app: AppLike, observer?: StoreObserver, timers?: TimerObserver): Promise<ImStore> {
  const logger = app.coreLogger;
  const cfg = normalizeClientConfig(config);
  const target = parseStoreUrl(cfg.url, app.baseDir);
  const signal = abortSignalOf(app);
  const secret = target.driver === 'mysql' ? target.password : undefined;

  if (target.driver === 'better-sqlite3' && target.file !== ':memory:') {
    fs.mkdirSync(path.dirname(target.file), { recursive: true });
  }
  logger.info('[egg-im-store] connecting: driver=%s url=%s%s', target.driver, target.redacted, target.driver === 'better-sqlite3' && target.embedded ? ' (embedded default: IM_DATABASE_URL is not set)' : '');

  const poolFactory = target.driver === 'mysql' ? new MysqlPoolFactory(cfg.pool.acquireTimeoutMs, logger) : undefined;
  const database = target.driver === 'mysql' ? target.database : target.file;
  const makeStore = (dataSource: DataSource) => new ImStore({
    dataSource,
    driver: target.driver,
    database,
    url: target.redacted,
    logger,
    retry: cfg.retry,
    write: cfg.write,
    checkTimeoutMs: cfg.checkTimeoutMs,
    poolFactory,
    secret,
    observer,
    timers,
  });
  // The app began closing while we were starting: no error (nobody waits for this start any more), but a
  // closed store, whose check() reports it and whose withRetry() answers STORE_UNAVAILABLE.
  const abandon = async (store: ImStore, err?: unknown) => {
    await store.close();
    const reason = err === undefined || err === signal.reason ? '' : ` (${redactSecret(describeDbError(err), secret)})`;
    logger.info('[egg-im-store] start abandoned: the app is closing%s', reason);
    return store;
  };

  let dataSource: DataSource;
  try {
    dataSource = await connect(target, cfg, logger, poolFactory, signal);
  } catch (err) {
    if (signal.aborted) return abandon(makeStore(new DataSource(buildDataSourceOptions(target, cfg, logger, poolFactory))), err);
    throw err;
  }
  const store = makeStore(dataSource);
  try {
    const version = target.driver === 'mysql' ? String((dataSource.driver as any).version || '?') : String((await dataSource.query('SELECT sqlite_version() AS v'))[0]?.v ?? '?');
    logger.info('[egg-im-store] connected: driver=%s database=%s server=%s%s', target.driver, database, version,
      target.driver === 'mysql' ? ` pool=${cfg.pool.size}` : target.file === ':memory:' ? '' : ' journal=wal');

    if (cfg.migrationsRun) {
      const outcome = await runMigrations(dataSource, cfg.migrationLockTimeoutMs, logger, signal);
      if (outcome.applied.length) {
        logger.info('[egg-im-store] migrations applied: %d (%s); %d applied before', outcome.applied.length, outcome.applied.join(', '), outcome.previously);
      } else {
        logger.info('[egg-im-store] migrations: none pending (%d applied before)', outcome.previously);
      }
    } else {
      logger.info('[egg-im-store] migrations not run at start (imStore.client.migrationsRun is false)');
    }
  } catch (err) {
    if (signal.aborted) return abandon(store, err);
    await store.close();
    const reason = redactSecret(describeDbError(err), secret).replace(/^\[egg-im-store\] /, '');
    throw new Error(`[egg-im-store] preparing ${target.redacted} failed: ${reason}`, { cause: redactDbError(err) });
  }
  if (signal.aborted) return abandon(store);

  let stores = openStores.get(app);
  if (!stores) openStores.set(app, (stores = new Set()));
  stores.add(store);
  return store;
}
