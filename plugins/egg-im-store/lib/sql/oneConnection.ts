import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource } from 'typeorm';

/**
 * TypeORM gives SQLite one connection, shared by every statement and transaction of the process. A transaction
 * begun while another is open would become a SAVEPOINT inside it (either one's rollback undoes the other's
 * statements, and the outer COMMIT makes a failed one's writes durable), and a single statement sent meanwhile
 * would join the open transaction and be rolled back with it. So on that connection a transaction
 * (`dataSource.transaction()`, `ImStore.withRetry({ transaction: true })`) holds it from its BEGIN to its end, and
 * every other statement or transaction waits its turn; only the statements of the turn running now pass (those of
 * its async context: a timer or a promise that a turn started and left behind does not pass once the turn is over).
 *
 * A transaction TypeORM would open by itself outside a turn (`save()` and `remove()` do, unless given
 * `{ transaction: false }`) is refused: its statements would come from outside the turn, so other transactions
 * could run between them. Inside `withRetry({ transaction: true })` they run in that transaction.
 */
export function takeTurnsOnOneConnection(dataSource: DataSource): void {
  const turnOf = new AsyncLocalStorage<object>();
  let running: object | undefined;
  let last: Promise<unknown> = Promise.resolve();
  const inTurn = () => running !== undefined && turnOf.getStore() === running;
  const takeTurn = <T>(work: () => Promise<T>): Promise<T> => {
    if (inTurn()) return work();
    const turn = last.then(async () => {
      const token = {};
      running = token;
      try {
        return await turnOf.run(token, work);
      } finally {
        running = undefined;
      }
    });
    last = turn.catch(() => undefined);
    return turn;
  };

  const runner = dataSource.driver.createQueryRunner('master');
  const query = runner.query.bind(runner);
  runner.query = ((...args: Parameters<typeof query>) => takeTurn(() => query(...args))) as typeof runner.query;
  for (const step of [ 'startTransaction', 'commitTransaction', 'rollbackTransaction' ] as const) {
    const original = runner[step].bind(runner) as (...args: unknown[]) => Promise<void>;
    runner[step] = (async (...args: unknown[]) => {
      if (!inTurn()) {
        throw new Error(`[egg-im-store] on SQLite a transaction runs in ImStore.withRetry({ transaction: true }) or dataSource.transaction(); ${step} was called outside one (save() and remove() start their own: pass { transaction: false } or call them inside)`);
      }
      return original(...args);
    }) as typeof runner[typeof step];
  }
  const manager = dataSource.manager;
  const transaction = manager.transaction.bind(manager);
  manager.transaction = ((...args: Parameters<typeof transaction>) => takeTurn(() => transaction(...args))) as typeof manager.transaction;
}
