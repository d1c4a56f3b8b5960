import { createHash } from 'node:crypto';
import { MigrationExecutor, type DataSource, type Migration, type QueryRunner } from 'typeorm';
import { sleep } from './backoff';
import { dbErrorCode, describeDbError } from './dbErrors';
import type { StoreLogger } from './types';

export interface MigrationOutcome {
  /** Names of the migrations run now. */
  applied: string[];
  /** How many had been run before. */
  previously: number;
}

/**
 * Runs the pending migrations under a lock, so that several workers (or several app instances on one
 * database) can start at the same time and only one of them migrates:
 * - MySQL/MariaDB: `GET_LOCK()` held by the connection that runs the migrations (one migration per
 *   transaction; MySQL commits DDL implicitly anyway);
 * - SQLite: `BEGIN IMMEDIATE` (the database write lock) around all pending migrations, one transaction.
 */
export async function runMigrations(dataSource: DataSource, lockTimeoutMs: number, logger: StoreLogger, signal?: AbortSignal): Promise<MigrationOutcome> {
  const queryRunner = dataSource.createQueryRunner('master');
  try {
    if (dataSource.options.type === 'mysql') return await runMysql(dataSource, queryRunner, lockTimeoutMs, logger);
    return await runSqlite(dataSource, queryRunner, lockTimeoutMs, logger, signal);
  } finally {
    await queryRunner.release();
  }
}

async function execute(dataSource: DataSource, queryRunner: QueryRunner, transaction: 'each' | 'none'): Promise<MigrationOutcome> {
  const executor = new MigrationExecutor(dataSource, queryRunner);
  executor.transaction = transaction;
  const applied: Migration[] = await executor.executePendingMigrations();
  const executed = await executor.getExecutedMigrations();
  return { applied: applied.map(m => m.name), previously: executed.length - applied.length };
}

/** A MySQL lock name is at most 64 characters; long database names are hashed. */
function mysqlLockName(database: string): string {
  const name = `egg_im_migrations.${database}`;
  return name.length <= 64 ? name : `egg_im_migrations.${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

async function runMysql(dataSource: DataSource, queryRunner: QueryRunner, lockTimeoutMs: number, logger: StoreLogger): Promise<MigrationOutcome> {
  const lockName = mysqlLockName(String(dataSource.driver.database));
  const seconds = Math.max(1, Math.ceil(lockTimeoutMs / 1000));
  const rows: Array<{ acquired: unknown }> = await queryRunner.query('SELECT GET_LOCK(?, ?) AS acquired', [lockName, seconds]);
  if (Number(rows[0]?.acquired) !== 1) {
    throw new Error(`[egg-im-store] could not take the migration lock "${lockName}" within ${seconds} s (another process is migrating this database)`);
  }
  try {
    return await execute(dataSource, queryRunner, 'each');
  } finally {
    try {
      await queryRunner.query('SELECT RELEASE_LOCK(?)', [lockName]);
    } catch (err) {
      // the lock goes with the connection anyway; say so and keep the migration's own outcome
      logger.warn('[egg-im-store] could not release the migration lock "%s": %s', lockName, describeDbError(err));
    }
  }
}

async function runSqlite(dataSource: DataSource, queryRunner: QueryRunner, lockTimeoutMs: number, logger: StoreLogger, signal?: AbortSignal): Promise<MigrationOutcome> {
  const deadline = Date.now() + lockTimeoutMs;
  for (;;) {
    try {
      // waits up to the busy timeout by itself, then fails with SQLITE_BUSY
      await queryRunner.query('BEGIN IMMEDIATE');
      break;
    } catch (err) {
      if (!String(dbErrorCode(err)).startsWith('SQLITE_BUSY') || Date.now() > deadline) {
        throw new Error(`[egg-im-store] could not take the SQLite write lock to migrate: ${describeDbError(err)}`, { cause: err });
      }
      await sleep(100, signal);
    }
  }
  try {
    const outcome = await execute(dataSource, queryRunner, 'none');
    await queryRunner.query('COMMIT');
    return outcome;
  } catch (err) {
    try {
      await queryRunner.query('ROLLBACK');
    } catch (rollbackErr) {
      logger.warn('[egg-im-store] rollback of the failed migration failed too: %s', describeDbError(rollbackErr));
    }
    throw err;
  }
}
