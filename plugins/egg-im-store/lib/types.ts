import type { LoggerOptions } from 'typeorm';

/** Pool of the MySQL driver (mysql2). SQLite has one connection and ignores it. */
export interface ImStorePoolConfig {
  /** Most connections open at once (mysql2 `connectionLimit`). */
  size: number;
  /** How long a unit of work waits for a free connection before it fails (transient, retryable). */
  acquireTimeoutMs: number;
  /** An idle connection above the minimum is closed after this long (mysql2 `idleTimeout`). */
  idleTimeoutMs: number;
  /** TCP + handshake timeout of one new connection (mysql2 `connectTimeout`). */
  connectTimeoutMs: number;
  /** Most units of work waiting for a connection; 0 means unbounded (mysql2 `queueLimit`). */
  queueLimit: number;
}

/** Exponential backoff: delay n (from 1) is `min(maxMs, baseMs * factor^(n-1))`, plus up to 10 % jitter. */
export interface ImStoreBackoffConfig {
  /** Tries in all, the first one included. */
  attempts: number;
  baseMs: number;
  factor: number;
  maxMs: number;
}

/** Batched writes: messages (one transaction per batch) and delivery receipts. */
export interface ImStoreWriteConfig {
  /** Most messages (or receipts) in one transaction; batches grow by themselves under load, up to this. */
  maxBatch: number;
  /** Parallel message writers; a conversation always uses the same one, so its messages commit in order. */
  shards: number;
  /** Wait this long for more messages before writing a batch (0: write as soon as the current tick ends). */
  lingerMs: number;
  /**
   * The same for background writes nobody waits on (delivery receipts, outbox clean-up): a short linger
   * turns hundreds of small transactions a second into a few larger ones.
   */
  backgroundLingerMs: number;
}

export interface ImStoreClientConfig {
  /** `mysql://user:pass@host:port/db`, `sqlite:<file>` or '' (the embedded SQLite file `<baseDir>/run/egg-im.sqlite`). */
  url: string;
  pool: ImStorePoolConfig;
  /** Waiting for the database at start. */
  connectRetry: ImStoreBackoffConfig;
  /** `ImStore.withRetry` defaults (transient errors of one unit of work). */
  retry: ImStoreBackoffConfig;
  write: ImStoreWriteConfig;
  /** Run pending migrations at start (under a lock, so several workers may start at once). */
  migrationsRun: boolean;
  /** MySQL only: create the database named in the url if it does not exist (dev and tests). */
  createDatabase: boolean;
  /** Queries slower than this are logged as warnings (0 turns it off). */
  slowQueryMs: number;
  /** TypeORM log kinds sent to `app.coreLogger` (`true`, `'all'` or a list such as `['error', 'warn', 'migration']`). Query parameters are never logged. */
  logging: LoggerOptions;
  /** Upper bound of one `check()` (health probe). */
  checkTimeoutMs: number;
  /** How long to wait for another process that is running the migrations. */
  migrationLockTimeoutMs: number;
}

export interface ImStoreConfig {
  client: ImStoreClientConfig;
}

/** Partial, as a fixture or an app writes it; merged over the defaults by Egg. */
export type ImStoreClientConfigInput = Partial<Omit<ImStoreClientConfig, 'pool' | 'connectRetry' | 'retry' | 'write'>> & {
  write?: Partial<ImStoreWriteConfig>;
  pool?: Partial<ImStorePoolConfig>;
  connectRetry?: Partial<ImStoreBackoffConfig>;
  retry?: Partial<ImStoreBackoffConfig>;
};

export type StoreDriver = 'mysql' | 'better-sqlite3';

/** A type (not an interface) so it fits `ReadinessResult.checks` of egg-im-protocol. */
export type CheckResult = {
  ok: boolean;
  driver: string;
  latencyMs?: number;
  error?: string;
};

/** Minimal logger shape (Egg's coreLogger fits). */
export interface StoreLogger {
  info(msg: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  error(msg: string | Error, ...args: unknown[]): void;
  debug?(msg: string, ...args: unknown[]): void;
}
