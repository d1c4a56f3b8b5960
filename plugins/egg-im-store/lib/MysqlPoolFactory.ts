import mysql2 from 'mysql2';
import { describeDbError } from './dbErrors';
import { SET_SESSION_COLLATION } from './sql/collation';
import type { StoreLogger } from './types';

type Callback = (err: Error | null, connection?: any) => void;

/**
 * Hands TypeORM a `mysql2` module (its `driver` option) whose pools
 * - fail `getConnection` after `acquireTimeoutMs` instead of waiting forever (mysql2 has no such option);
 * - start every new connection in UTC (`SET time_zone = '+00:00'`), to match `timezone: 'Z'`, and with the
 *   tables' NO PAD binary collation (`SET_SESSION_COLLATION`), so literals and parameters compare exactly too;
 * - give TypeORM one promise wrapper per connection, built at its first query, instead of one per query;
 * and remembers the pool options, so that `ImStore` can open a fresh, verified pool when the
 * current one does not recover after the database restarts (TypeORM never rebuilds its pool).
 */
export class MysqlPoolFactory {
  /** What TypeORM passed to `createPool` (host, credentials, limits): the recipe for a replacement pool. */
  private poolOptions?: Record<string, unknown>;
  /** The object given to TypeORM as `driver`: mysql2 with our `createPool`. */
  readonly module: typeof mysql2;

  constructor(private readonly acquireTimeoutMs: number, private readonly logger: StoreLogger) {
    const module = Object.create(mysql2) as typeof mysql2;
    Object.defineProperty(module, 'createPool', {
      value: (options: Record<string, unknown>) => {
        this.poolOptions = { ...options };
        return this.instrument(mysql2.createPool(options as any));
      },
    });
    this.module = module;
  }

  private instrument(pool: any): any {
    const acquireTimeoutMs = this.acquireTimeoutMs;
    const getConnection = pool.getConnection.bind(pool);
    pool.getConnection = (cb: Callback) => {
      if (!(acquireTimeoutMs > 0)) return getConnection(cb);
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        const err = new Error(`[egg-im-store] no database connection free within ${acquireTimeoutMs} ms`) as Error & { code: string };
        err.code = 'POOL_ACQUIRE_TIMEOUT';
        cb(err);
      }, acquireTimeoutMs);
      getConnection((err: Error | null, connection?: any) => {
        if (done) {
          // the caller gave up; give the connection back to the pool
          if (!err && connection) connection.release();
          return;
        }
        done = true;
        clearTimeout(timer);
        cb(err, connection);
      });
    };
    pool.on('connection', (connection: any) => {
      // TypeORM runs every query through `connection.promise()`, which in mysql2 resolves its promise module
      // (a require) and builds a new wrapper, an EventEmitter, each time: one wrapper per connection serves them all.
      const promise = connection.promise;
      let wrapper: unknown;
      connection.promise = (promiseImpl?: unknown) => (promiseImpl === undefined ? (wrapper ??= promise.call(connection)) : promise.call(connection, promiseImpl));
      // mysql2 removes a failed connection from the pool through a one-shot listener, and TypeORM adds its own
      // only when there is none: a lasting listener keeps a second 'error' from crashing the process. The
      // outage itself is reported by ImStore, so each connection's error is only a debug line.
      connection.on('error', (err: Error) => this.logger.debug?.('[egg-im-store] pooled connection error: %s', describeDbError(err)));
      connection.query("SET time_zone = '+00:00'", (err: Error | null) => {
        if (err) this.logger.warn('[egg-im-store] could not set the session time zone: %s', describeDbError(err));
      });
      connection.query(SET_SESSION_COLLATION, (err: Error | null) => {
        if (err) this.logger.warn('[egg-im-store] could not set the session collation: %s', describeDbError(err));
      });
    });
    return pool;
  }

  /** True once TypeORM has created its pool (so a replacement can be built the same way). */
  get ready(): boolean {
    return !!this.poolOptions;
  }

  /** Opens a new pool with the same options and proves it with one connection; ends it again on failure. */
  async openVerifiedPool(): Promise<any> {
    if (!this.poolOptions) throw new Error('[egg-im-store] no pool options yet: the store is not connected');
    const pool = this.instrument(mysql2.createPool(this.poolOptions as any));
    try {
      await new Promise<void>((resolve, reject) => {
        pool.getConnection((err: Error | null, connection?: any) => {
          if (err) return reject(err);
          connection.ping((pingErr: Error | null) => {
            connection.release();
            if (pingErr) reject(pingErr);
            else resolve();
          });
        });
      });
      return pool;
    } catch (err) {
      await endPool(pool, this.logger);
      throw err;
    }
  }
}

/** Ends a mysql2 pool; never rejects (a pool that cannot close cleanly is gone anyway): logs instead. */
export function endPool(pool: any, logger?: StoreLogger): Promise<void> {
  return new Promise<void>(resolve => {
    if (!pool || pool._closed === true) return resolve(); // already ended (by us, or by whoever broke it)
    const done = (err?: Error | null) => {
      if (err) logger?.warn('[egg-im-store] closing a database pool: %s', describeDbError(err));
      resolve();
    };
    try {
      pool.end(done);
    } catch (err) {
      done(err as Error);
    }
  });
}
