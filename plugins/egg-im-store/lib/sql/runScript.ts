import type { DataSource } from 'typeorm';
import type { StoreDriver } from '../types';

export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * Runs `statements` as one transaction and resolves each one's result (rows for a SELECT). On MySQL the
 * whole transaction is one multi-statement packet (`START TRANSACTION; …; COMMIT`): one round trip instead
 * of one per statement, which on the message path is most of what a write batch costs the process (each
 * write to a socket wakes the database). On SQLite the statements run one after the other in a transaction.
 * Not retried here: wrap it in `ImStore.withRetry`.
 */
export async function runScript(dataSource: DataSource, driver: StoreDriver, statements: Statement[]): Promise<unknown[]> {
  if (driver !== 'mysql') {
    return dataSource.transaction(async manager => {
      const results: unknown[] = [];
      for (const { sql, params } of statements) results.push(await manager.query(sql, params));
      return results;
    });
  }
  const connection: RawConnection = await (dataSource.driver as any).obtainMasterConnection();
  const sql = [ 'START TRANSACTION', ...statements.map(s => s.sql), 'COMMIT' ].join(';\n');
  const started = Date.now();
  try {
    const results = await query(connection, sql, statements.flatMap(s => s.params));
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
