import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import type { EntityManager } from 'typeorm';
import { drivers, storeOn } from './drivers';

/** A promise the test settles: `fail(err)` rejects it, `pass()` resolves it. */
function gate() {
  let pass!: () => void;
  let fail!: (err: Error) => void;
  const until = new Promise<void>((resolve, reject) => { pass = resolve; fail = reject; });
  until.catch(() => undefined);
  return { until, pass, fail };
}

for (const driver of drivers) {
  describe(`egg-im-store: each transaction's outcome is its own, on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'turns', { seed: store => store.dataSource.query('CREATE TABLE t_turns (id VARCHAR(8) PRIMARY KEY)') });
    beforeEach(() => storeOf().dataSource.query('DELETE FROM t_turns'));

    const rows = async () => (await storeOf().dataSource.query('SELECT id FROM t_turns ORDER BY id')).map((row: { id: string }) => row.id);
    /** A transaction that inserts `id`, then waits for `until` (its end: commit, or rollback if it rejects). */
    const insertThenWait = (id: string, until: Promise<void>) => storeOf().withRetry(async (manager: EntityManager) => {
      await manager.query('INSERT INTO t_turns (id) VALUES (?)', [ id ]);
      await until;
    }, { transaction: true, attempts: 1, label: `insert ${id}` });
    /** Enough turns of the event loop for work begun now to reach the database. */
    const settle = async () => {
      for (let i = 0; i < 20; i++) await tick();
    };

    it('a transaction that fails undoes only its own writes, while another transaction and a single statement come in', async () => {
      const first = gate();
      const failing = insertThenWait('a', first.until);
      failing.catch(() => undefined);
      await settle();
      // Both come while the first is open (on one SQLite connection they joined it).
      const second = insertThenWait('b', Promise.resolve());
      const single = storeOf().dataSource.query('INSERT INTO t_turns (id) VALUES (?)', [ 'c' ]);
      await settle();
      first.fail(new Error('the first one fails'));
      await assert.rejects(failing, /the first one fails/);
      await Promise.all([ second, single ]);
      assert.deepEqual(await rows(), [ 'b', 'c' ]);
    });

    it('a transaction that fails while another is open neither undoes the other\'s writes nor has its own committed by it', async () => {
      const [ first, second ] = [ gate(), gate() ];
      const failing = insertThenWait('a', first.until);
      failing.catch(() => undefined);
      await settle();
      const other = insertThenWait('b', second.until);
      await settle();
      first.fail(new Error('the first one fails'));
      await assert.rejects(failing, /the first one fails/);
      second.pass();
      await other;
      assert.deepEqual(await rows(), [ 'b' ]);
    });
  });
}
