import type { Logger as OrmLogger, LoggerOptions, LogLevel } from 'typeorm';
import { describeDbError } from './dbErrors';
import { redactServerMessage, statementShape } from './redactDbError';
import type { StoreLogger } from './types';

/**
 * Sends TypeORM's log lines to Egg's coreLogger, prefixed `[egg-im-store]`.
 * Query parameters are never logged, nor literals in a statement, nor quoted values in a server's message:
 * they may hold token hashes, password hashes or message bodies.
 */
export class TypeormLogger implements OrmLogger {
  private readonly levels: Set<LogLevel> | 'all';

  constructor(private readonly logger: StoreLogger, options: LoggerOptions, private readonly slowQueryMs: number) {
    if (options === true || options === 'all') this.levels = 'all';
    else if (Array.isArray(options)) this.levels = new Set(options);
    else this.levels = new Set();
  }

  private on(level: LogLevel): boolean {
    return this.levels === 'all' || this.levels.has(level);
  }

  logQuery(query: string): void {
    if (this.on('query')) this.logger.info('[egg-im-store] query: %s', statementShape(query));
  }

  logQueryError(error: string | Error, query: string): void {
    if (this.on('error')) {
      this.logger.warn('[egg-im-store] query failed (%s): %s', typeof error === 'string' ? redactServerMessage(error) : describeDbError(error), statementShape(query));
    }
  }

  logQuerySlow(time: number, query: string): void {
    if (this.slowQueryMs > 0) this.logger.warn('[egg-im-store] slow query (%d ms): %s', time, statementShape(query));
  }

  logSchemaBuild(message: string): void {
    if (this.on('schema')) this.logger.info('[egg-im-store] schema: %s', message);
  }

  logMigration(message: string): void {
    if (this.on('migration')) this.logger.info('[egg-im-store] migration: %s', message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (!this.on(level)) return;
    const text = message instanceof Error ? describeDbError(message) : String(message);
    if (level === 'warn') this.logger.warn('[egg-im-store] %s', text);
    else this.logger.info('[egg-im-store] %s', text);
  }
}
