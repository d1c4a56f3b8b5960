import type { DataSource } from 'typeorm';
import type { StoreDriver } from '../types';

/**
 * The text of a script's statements, how many parameters (`?`) each takes, and the whole transaction as one
 * packet (MySQL). A caller that runs scripts of the same shape many times builds it once per shape and keeps it.
 */
export class ScriptText {
  readonly packet: string;
  readonly paramCounts: readonly number[];
  /** All the statements' parameters together. */
  readonly paramCount: number;

  constructor(readonly statements: readonly string[]) {
    this.packet = [ 'START TRANSACTION', ...statements, 'COMMIT' ].join(';\n');
    this.paramCounts = statements.map(sql => sql.split('?').length - 1);
    this.paramCount = this.paramCounts.reduce((sum, n) => sum + n, 0);
  }
}

/**
 * Runs the statements of `text` with `params` (all of them, in order) as one transaction and resolves each one's
 * result (rows for a SELECT). On MySQL the whole transaction is one multi-statement packet: one round trip
 * instead of one per statement, which on the message path is most of what a write batch costs the process
 * (each write to a socket wakes the database). On SQLite the statements run one after the other in a
 * transaction. Not retried here: wrap it in `ImStore.withRetry`.
 */
export async function runScript(dataSource: DataSource, driver: StoreDriver, text: ScriptText, params: readonly unknown[]): Promise<unknown[]> {
  if (params.length !== text.paramCount) throw new Error(`[egg-im-store] a script of ${text.paramCount} parameters was given ${params.length}`);
  if (driver !== 'mysql') {
    return dataSource.transaction(async manager => {
      const results: unknown[] = [];
      let from = 0;
      for (const [ i, sql ] of text.statements.entries()) {
        results.push(await manager.query(sql, params.slice(from, from += text.paramCounts[i])));
      }
      return results;
    });
  }
  const connection: RawConnection = await (dataSource.driver as any).obtainMasterConnection();
  const sql = text.packet;
  const started = Date.now();
  try {
    const results = await query(connection, sql, params as unknown[]);
    connection.release();
    // TypeORM's slow-query warning (slowQueryMs) for the packet, which does not go through its query runner.
    const took = Date.now() - started;
    const slowMs = dataSource.options.maxQueryExecutionTime;
    if (slowMs && took > slowMs) dataSource.logger.logQuerySlow(took, sql);
    return (results as unknown[]).slice(1, -1);
  } catch (err) {
    // The server stops at the failing statement and the transaction stays open: it must be rolled back
    // before the connection serves anyone else. A connection that cannot even do that is closed, which
    // ends the transaction on the server; the caller gets the original error either way.
    await query(connection, 'ROLLBACK', []).then(() => connection.release(), () => connection.destroy());
    throw err;
  }
}

interface RawConnection {
  query(sql: string, params: unknown[], callback: (err: Error | null, results?: unknown) => void): void;
  release(): void;
  destroy(): void;
}

function query(connection: RawConnection, sql: string, params: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => connection.query(sql, params, (err, results) => (err ? reject(err) : resolve(results))));
}
