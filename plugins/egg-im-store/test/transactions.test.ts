import assert from 'node:assert/strict';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import type { EntityManager } from 'typeorm';
import { ImUser } from '../lib/entity';
import type { AppendResult } from '../lib/repositories/MessageWriter';
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

    it('a statement that a finished transaction left behind (a timer it set) waits its turn like any other', async () => {
      let leftBehind: Promise<unknown> | undefined;
      await storeOf().withRetry(async manager => {
        await manager.query('INSERT INTO t_turns (id) VALUES (?)', [ 'a' ]);
        setTimeout(() => { leftBehind = storeOf().dataSource.query('INSERT INTO t_turns (id) VALUES (?)', [ 'c' ]); }, 20);
      }, { transaction: true, attempts: 1, label: 'leaves a timer' });
      const second = gate();
      const failing = insertThenWait('b', second.until);
      failing.catch(() => undefined);
      while (!leftBehind) await sleep(5);
      await settle();
      second.fail(new Error('the second one fails'));
      await assert.rejects(failing, /the second one fails/);
      await leftBehind;
      assert.deepEqual(await rows(), [ 'a', 'c' ]);
    });

    it('a write queued inside a transaction runs on its own: the transaction\'s rollback does not undo it', async () => {
      const open = gate();
      let appended: Promise<AppendResult> | undefined;
      const failing = storeOf().withRetry(async manager => {
        await manager.query('INSERT INTO t_turns (id) VALUES (?)', [ 'a' ]);
        appended = storeOf().writer.append({
          conversationId: 'd:qa:qb', kind: 'direct', directMemberIds: [ 'qa', 'qb' ], senderId: 'qa', clientMsgId: 'queued inside',
          type: 'text', contentJson: '{}', metaJson: '{}',
        });
        appended.catch(() => undefined);
        await open.until;
      }, { transaction: true, attempts: 1, label: 'queues a write' });
      failing.catch(() => undefined);
      await sleep(50); // more than the queue's linger: the run has begun (or waits its turn)
      open.fail(new Error('the transaction fails'));
      await assert.rejects(failing, /the transaction fails/);
      const { created, message } = await appended!;
      assert.equal(created, true);
      const stored = await storeOf().dataSource.query('SELECT client_msg_id FROM im_messages WHERE id = ?', [ message.id ]);
      assert.deepEqual(stored.map((row: { client_msg_id: string }) => row.client_msg_id), [ 'queued inside' ], 'answered as stored, and stored');
      assert.deepEqual(await rows(), []);
    });

    it('save() opens a transaction of its own: inside withRetry({ transaction: true }) it runs in that one; outside, refused on SQLite', async () => {
      const user = (id: string) => ({ id, username: id, passwordHash: null, createdAt: new Date(), lastSeenAt: null });
      await storeOf().withRetry(manager => manager.getRepository(ImUser).save(user('saved_inside')), { transaction: true, label: 'save inside' });
      const outside = storeOf().getRepository(ImUser).save(user('saved_outside'));
      if (driver.name === 'SQLite') {
        await assert.rejects(outside, /\[egg-im-store\] on SQLite a transaction runs in ImStore\.withRetry\(\{ transaction: true \}\)/);
        await storeOf().getRepository(ImUser).save(user('no_transaction'), { transaction: false });
      } else {
        await outside;
      }
      const saved = (await storeOf().getRepository(ImUser).find({ order: { id: 'ASC' } })).map(row => row.id);
      assert.deepEqual(saved, driver.name === 'SQLite' ? [ 'no_transaction', 'saved_inside' ] : [ 'saved_inside', 'saved_outside' ]);
    });
  });
}
