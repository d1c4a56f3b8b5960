import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource } from 'typeorm';

/**
 * TypeORM gives SQLite one connection, shared by every statement and transaction of the process. A transaction
 * begun while another is open would become a SAVEPOINT inside it (either one's rollback undoes the other's
 * statements, and the outer COMMIT makes a failed one's writes durable), and a single statement sent meanwhile
 * would join the open transaction and be rolled back with it. So on that connection a transaction holds it from
 * its BEGIN to its end, and everything else, a statement or another transaction, waits its turn; the transaction's
 * own statements (those of its async context) pass.
 */
export function takeTurnsOnOneConnection(dataSource: DataSource): void {
  const inTurn = new AsyncLocalStorage<true>();
  let last: Promise<unknown> = Promise.resolve();
  const takeTurn = <T>(work: () => Promise<T>): Promise<T> => {
    if (inTurn.getStore()) return work();
    const turn = last.then(() => inTurn.run(true, work));
    last = turn.catch(() => undefined);
    return turn;
  };
  const runner = dataSource.driver.createQueryRunner('master');
  const query = runner.query.bind(runner);
  runner.query = ((...args: Parameters<typeof query>) => takeTurn(() => query(...args))) as typeof runner.query;
  const manager = dataSource.manager;
  const transaction = manager.transaction.bind(manager);
  manager.transaction = ((...args: Parameters<typeof transaction>) => takeTurn(() => transaction(...args))) as typeof manager.transaction;
}
