import assert from 'node:assert/strict';
import { drivers, storeOn } from './drivers';

for (const driver of drivers) {
  describe(`egg-im-store receipts on ${driver.name}`, () => {
    const conversationId = 'd:pa:pb';
    const ids: string[] = [];
    const storeOf = storeOn(driver, 'receipts', { seed: async store => {
      for (let n = 1; n <= 4; n++) {
        const { message } = await store.writer.append({
          conversationId, kind: 'direct', directMemberIds: [ 'pa', 'pb' ], senderId: 'pa', clientMsgId: `p${n}`, type: 'text', contentJson: '{}', metaJson: '{}',
        });
        ids.push(message.id);
      }
    } });

    /** The recipient's state of message n (1-based): status and attempts. */
    async function stateOf(n: number): Promise<{ status: string; attempts: number }> {
      const result = await storeOf().receipts.statusOf(ids[n - 1]);
      const [ recipient ] = result!.recipients;
      assert.equal(recipient.userId, 'pb');
      return { status: recipient.status, attempts: recipient.attempts };
    }
    const attempted = (seq: number, attempts: number) => storeOf().receipts.attempted({ conversationId, userId: 'pb', seq, attempts });

    it('attempted: a pending delivery shows its pushes while they happen; a count never goes down', async () => {
      assert.deepEqual(await stateOf(1), { status: 'pending', attempts: 0 });
      await attempted(1, 1);
      assert.deepEqual(await stateOf(1), { status: 'pending', attempts: 1 });
      assert.deepEqual(await stateOf(2), { status: 'pending', attempts: 0 }, 'a message not pushed yet');
      // Pushes recorded out of order, and several in one batch: the most wins.
      await attempted(1, 3);
      await attempted(1, 2);
      assert.deepEqual(await stateOf(1), { status: 'pending', attempts: 3 });
      await Promise.all([ attempted(1, 4), attempted(1, 2) ]);
      assert.deepEqual(await stateOf(1), { status: 'pending', attempts: 4 });
    });

    it('attempted: never changes a recipient delivered or failed at that seq; the next message starts from 0', async () => {
      await storeOf().receipts.delivered({ conversationId, userId: 'pb', seq: 1, attempts: 4 });
      await attempted(1, 9);
      assert.deepEqual(await stateOf(1), { status: 'delivered', attempts: 4 });
      await attempted(2, 1);
      assert.deepEqual(await stateOf(2), { status: 'pending', attempts: 1 }, 'the pushes of message 1 do not carry over');

      await attempted(2, 5);
      await storeOf().receipts.failed({ conversationId, userId: 'pb', seq: 2, attempts: 5 });
      await attempted(2, 7);
      assert.deepEqual(await stateOf(2), { status: 'failed', attempts: 5 });
      assert.deepEqual(await stateOf(3), { status: 'pending', attempts: 0 });

      await storeOf().receipts.read({ conversationId, userId: 'pb', seq: 3 });
      await attempted(3, 2);
      assert.equal((await stateOf(3)).status, 'read');
      await attempted(4, 1);
      assert.deepEqual(await stateOf(4), { status: 'pending', attempts: 1 });
      await storeOf().receipts.delivered({ conversationId, userId: 'pb', seq: 4, attempts: 1 });
      assert.deepEqual(await stateOf(4), { status: 'delivered', attempts: 1 });
    });

    it('attempted: a NaN or fractional seq fails that receipt alone', async () => {
      const outcomes = await Promise.all([ attempted(NaN, 1), attempted(4, 1.5), attempted(4, 2) ].map(p => p.then(() => 'ok', (e: Error) => e.message)));
      assert.deepEqual(outcomes, [
        '[egg-im-store] seq must be an integer >= 1 (got NaN)', '[egg-im-store] attempts must be an integer >= 0 (got 1.5)', 'ok',
      ]);
    });
  });
}
