import { performance } from 'node:perf_hooks';
import { ImError, isImError } from 'egg-im-protocol';
import { noStoreObserver, noTimerObserver, type StoreObserver, type TimerObserver } from 'egg-im-metrics';
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral, Repository } from 'typeorm';
import { normalizeBackoff, retryDelay, sleep, withTimeout } from './backoff';
import { dbErrorCode, describeDbError, isBrokenPoolError, transientKind } from './dbErrors';
import { endPool, type MysqlPoolFactory } from './MysqlPoolFactory';
import { redactDbError } from './redactDbError';
import { SessionRepository } from './repositories/SessionRepository';
import { UserRepository } from './repositories/UserRepository';
import { redactSecret } from './storeUrl';
import type { CheckResult, ImStoreBackoffConfig, ImStoreWriteConfig, StoreDriver, StoreLogger } from './types';
import { ConversationRepository } from './repositories/ConversationRepository';
import { MessageRepository } from './repositories/MessageRepository';
import { MessageWriter } from './repositories/MessageWriter';
import { OutboxRepository } from './repositories/OutboxRepository';
import { ReceiptRepository } from './repositories/ReceiptRepository';

export interface ImStoreOptions {
  dataSource: DataSource;
  driver: StoreDriver;
  /** Database name (MySQL) or file path (SQLite). */
  database: string;
  /** The url with its password replaced by `***`. */
  url: string;
  logger: StoreLogger;
  /** Defaults of `withRetry`. */
  retry: ImStoreBackoffConfig;
  /** Batched writes of messages and receipts. */
  write: ImStoreWriteConfig;
  checkTimeoutMs: number;
  /** MySQL: builds replacement pools. */
  poolFactory?: MysqlPoolFactory;
  /** A password to scrub from error texts, in case a driver echoes it. */
  secret?: string;
  /** Least time between two attempts to replace the pool. */
  recoverIntervalMs?: number;
  /** How long a replaced pool keeps serving the work that still holds its connections. */
  retireGraceMs?: number;
  /** Learns of each committed write batch of messages (egg-im-metrics); none by default. */
  observer?: StoreObserver;
  /** Learns of each run of the receipt flush (a batch of delivery receipts written); none by default. */
  timers?: TimerObserver;
}

export interface WithRetryOptions extends Partial<ImStoreBackoffConfig> {
  /** Names the unit of work in log lines (never secrets or message bodies). */
  label?: string;
  /** Run `fn` inside `dataSource.transaction()`, one transaction per try. */
  transaction?: boolean;
}

/**
 * `app.imStore`: egg-im's database access (a TypeORM DataSource) plus health and recovery.
 *
 * Recovery: mysql2 drops connections that fail, but TypeORM never rebuilds its pool, and a pool can keep
 * failing after the database restarts. After repeated connection failures (or a closed/broken pool), the
 * store opens a fresh pool with the same options, proves it with a ping, and swaps it in; the old pool is
 * ended after a grace period. So `check()` and queries recover by themselves once the database is back.
 */
export class ImStore {
  readonly dataSource: DataSource;
  readonly driver: StoreDriver;
  readonly database: string;
  /** The url with its password replaced by `***` (safe to log). */
  readonly url: string;
  /** im_users: register, find, ensure (host-app users), last seen. */
  readonly users: UserRepository;
  /** im_sessions: create, find by token hash, revoke. */
  readonly sessions: SessionRepository;
  /** im_conversations, im_groups, im_members: groups, membership, a user's conversation list. */
  readonly conversations: ConversationRepository;
  /** im_messages reads: history pages, sync, the backlog pushed on connect. */
  readonly messages: MessageRepository;
  /** Dedupe → sequence → persist, in batched transactions. */
  readonly writer: MessageWriter;
  /** Delivery and read cursors, and the per-recipient status of a message. */
  readonly receipts: ReceiptRepository;
  /** Messages committed but not routed yet. */
  readonly outbox: OutboxRepository;
  private readonly logger: StoreLogger;
  private readonly retryDefaults: ImStoreBackoffConfig;
  private readonly checkTimeoutMs: number;
  private readonly poolFactory?: MysqlPoolFactory;
  private readonly secret?: string;
  private readonly recoverIntervalMs: number;
  private readonly retireGraceMs: number;
  private closed = false;
  private consecutiveFailures = 0;
  private unavailableSince?: number;
  private recovering?: Promise<void>;
  private lastRecoveryAt = 0;
  private recoveryFailureLogged = false;
  private readonly retiredPools = new Map<unknown, NodeJS.Timeout>();
  private resets = 0;

  constructor(options: ImStoreOptions) {
    this.dataSource = options.dataSource;
    this.driver = options.driver;
    this.database = options.database;
    this.url = options.url;
    this.logger = options.logger;
    this.retryDefaults = options.retry;
    this.checkTimeoutMs = options.checkTimeoutMs;
    this.poolFactory = options.poolFactory;
    this.secret = options.secret;
    this.recoverIntervalMs = options.recoverIntervalMs ?? 1000;
    this.retireGraceMs = options.retireGraceMs ?? 15000;
    this.users = new UserRepository(this);
    this.sessions = new SessionRepository(this);
    this.conversations = new ConversationRepository(this);
    this.messages = new MessageRepository(this);
    this.writer = new MessageWriter(this, options.write, options.observer ?? noStoreObserver);
    const background = { maxBatch: options.write.maxBatch, lingerMs: options.write.backgroundLingerMs };
    this.receipts = new ReceiptRepository(this, background, options.timers ?? noTimerObserver);
    this.outbox = new OutboxRepository(this, background);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  getRepository<T extends ObjectLiteral>(target: EntityTarget<T>): Repository<T> {
    return this.dataSource.getRepository(target);
  }

  /** True once `close()` has been called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** How many times the MySQL pool was replaced after connection failures. */
  get poolResets(): number {
    return this.resets;
  }

  /** True from the first connection failure until the next success. */
  get unavailable(): boolean {
    return this.unavailableSince !== undefined;
  }

  /**
   * Health probe: `SELECT 1` bounded by `checkTimeoutMs`. Never throws. A failure also starts the
   * recovery of the pool, so polling `check()` is enough to bring the store back after an outage.
   */
  async check(): Promise<CheckResult> {
    if (this.closed || !this.dataSource.isInitialized) return { ok: false, driver: this.driver, error: 'store is closed' };
    const started = performance.now();
    try {
      await withTimeout(this.ping(), this.checkTimeoutMs, () => {
        const err = new Error(`[egg-im-store] health check timed out after ${this.checkTimeoutMs} ms`) as Error & { code: string };
        err.code = 'STORE_CHECK_TIMEOUT';
        return err;
      });
      this.noteSuccess();
      return { ok: true, driver: this.driver, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch (err) {
      this.noteFailure(err);
      return { ok: false, driver: this.driver, error: this.describe(err) };
    }
  }

  private async ping(): Promise<void> {
    if (this.driver !== 'mysql') {
      await this.dataSource.query('SELECT 1');
      return;
    }
    // straight on a pooled connection, so the query itself has a timeout; a connection that failed or
    // timed out may still have the command pending, so it is destroyed rather than given back
    const connection = await (this.dataSource.driver as any).obtainMasterConnection();
    let healthy = false;
    try {
      await new Promise<void>((resolve, reject) => {
        connection.query({ sql: 'SELECT 1', timeout: this.checkTimeoutMs }, (err: Error | null) => (err ? reject(err) : resolve()));
      });
      healthy = true;
    } finally {
      if (healthy) connection.release();
      else connection.destroy();
    }
  }

  /**
   * Runs one unit of work, retrying transient failures (lost or refused connections, a saturated server,
   * deadlocks, lock wait timeouts) with exponential backoff. After the last try a transient failure becomes
   * `ImError('STORE_UNAVAILABLE')` (retryable: the work was not applied); an `ImError` thrown by `fn` is
   * rethrown unchanged, and a database error as an `ImStoreQueryError` (its code, errno, sqlState and the
   * statement's shape, without any value: see `redactDbError`).
   *
   * `fn` may run more than once: make it idempotent, or pass `{ transaction: true }` so each try is one
   * transaction (a connection lost during COMMIT can still leave the outcome unknown; use natural keys,
   * such as a client message id, to make a repeat harmless). Inside a transaction, `fn` must use `manager` and await
   * nothing that needs the store from outside it (a queued write): on SQLite, whose one connection the transaction
   * holds, that would wait for ever.
   */
  async withRetry<T>(fn: (manager: EntityManager, attempt: number) => Promise<T>, options: WithRetryOptions = {}): Promise<T> {
    const policy = normalizeBackoff(
      { attempts: options.attempts, baseMs: options.baseMs, factor: options.factor, maxMs: options.maxMs },
      this.retryDefaults,
      'withRetry options',
    );
    const label = options.label || 'unit of work';
    for (let attempt = 1; ; attempt++) {
      if (this.closed || !this.dataSource.isInitialized) {
        throw new ImError('STORE_UNAVAILABLE', 'the store is unavailable, try again later', { retryable: true, reason: 'closed' });
      }
      try {
        const result = options.transaction
          ? await this.dataSource.transaction(manager => fn(manager, attempt))
          : await fn(this.dataSource.manager, attempt);
        this.noteSuccess();
        return result;
      } catch (err) {
        if (isImError(err)) throw err;
        const kind = transientKind(err);
        // Every repository call comes through here: a database error leaves the store without SQL values.
        if (!kind) throw redactDbError(err);
        if (kind === 'connection') this.noteFailure(err);
        if (attempt >= policy.attempts) {
          this.logger.warn('[egg-im-store] %s failed after %d attempts (%s): %s', label, attempt, kind, this.describe(err));
          throw new ImError('STORE_UNAVAILABLE', 'the store is unavailable, try again later', {
            retryable: true,
            reason: kind,
            attempts: attempt,
            ...(dbErrorCode(err) ? { cause: dbErrorCode(err) } : {}),
          });
        }
        const delay = retryDelay(attempt, policy);
        this.logger.warn('[egg-im-store] %s: attempt %d/%d failed (%s), retrying in %d ms', label, attempt, policy.attempts, this.describe(err), delay);
        await sleep(delay);
      }
    }
  }

  /** Closes the pool(s) or the SQLite file. Safe to call twice; problems while closing are logged. */
  /** Waits for queued writes (messages, receipts, outbox) to reach the database. */
  async flush(): Promise<void> {
    await Promise.all([ this.writer.drain(), this.receipts.drain(), this.outbox.drain(), this.users.drain() ]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(err => this.logger.warn('[egg-im-store] queued writes not flushed on close: %s', describeDbError(err)));
    this.closed = true;
    if (this.recovering) await this.recovering;
    const retired = [...this.retiredPools.entries()];
    this.retiredPools.clear();
    await Promise.all(retired.map(([pool, timer]) => {
      clearTimeout(timer);
      return endPool(pool, this.logger);
    }));
    if (this.dataSource.isInitialized) {
      try {
        await this.dataSource.destroy();
      } catch (err) {
        this.logger.warn('[egg-im-store] closing the database connection(s): %s', this.describe(err));
      }
    }
    this.logger.info('[egg-im-store] closed (driver=%s database=%s)', this.driver, this.database);
  }

  /**
   * MySQL: opens a new pool with the current options, proves it with a ping and swaps it in for TypeORM;
   * the old pool is ended after `retireGraceMs`. Resolves false when there is nothing to replace;
   * rejects when the database cannot be reached.
   */
  async resetPool(): Promise<boolean> {
    if (this.driver !== 'mysql' || !this.poolFactory?.ready || this.closed) return false;
    const fresh = await this.poolFactory.openVerifiedPool();
    const driver = this.dataSource.driver as any;
    if (this.closed || !this.dataSource.isInitialized) {
      await endPool(fresh, this.logger);
      return false;
    }
    const old = driver.pool;
    driver.pool = fresh;
    this.resets++;
    this.logger.info('[egg-im-store] replaced the database connection pool (reset %d, database=%s)', this.resets, this.database);
    if (old) {
      const timer = setTimeout(() => {
        this.retiredPools.delete(old);
        void endPool(old, this.logger);
      }, this.retireGraceMs);
      timer.unref();
      this.retiredPools.set(old, timer);
    }
    return true;
  }

  private describe(err: unknown): string {
    return redactSecret(describeDbError(err), this.secret);
  }

  private noteSuccess(): void {
    if (this.unavailableSince === undefined && this.consecutiveFailures === 0) return;
    if (this.unavailableSince !== undefined) {
      this.logger.info('[egg-im-store] database reachable again after %d ms (driver=%s database=%s)', Date.now() - this.unavailableSince, this.driver, this.database);
    }
    this.unavailableSince = undefined;
    this.consecutiveFailures = 0;
    this.recoveryFailureLogged = false;
  }

  private noteFailure(err: unknown): void {
    if (this.closed) return;
    const kind = transientKind(err);
    if (kind === 'contention') return;
    this.consecutiveFailures++;
    if (this.unavailableSince === undefined) {
      this.unavailableSince = Date.now();
      this.logger.warn('[egg-im-store] database unavailable (driver=%s database=%s): %s', this.driver, this.database, this.describe(err));
    }
    if (kind === 'connection' && (isBrokenPoolError(err) || this.consecutiveFailures >= 2)) this.scheduleRecovery();
  }

  /** One pool replacement at a time, at most one per `recoverIntervalMs`; runs in the background. */
  private scheduleRecovery(): void {
    if (this.driver !== 'mysql' || this.recovering || this.closed) return;
    if (Date.now() - this.lastRecoveryAt < this.recoverIntervalMs) return;
    this.lastRecoveryAt = Date.now();
    this.recovering = this.resetPool()
      .then(() => undefined, err => {
        // expected while the database is down: say it once per outage, the outage itself is already logged
        if (!this.recoveryFailureLogged) {
          this.recoveryFailureLogged = true;
          this.logger.warn('[egg-im-store] cannot open a new connection pool yet, will retry: %s', this.describe(err));
        }
      })
      .finally(() => {
        this.recovering = undefined;
      });
  }
}
