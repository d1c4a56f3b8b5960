import assert from 'node:assert';
import mm from 'egg-mock';
import mysql from 'mysql2/promise';
import { request, waitFor } from 'egg-im-testkit';
import { Harness } from './support/harness';

/** Load shedding: past im.overload.maxInFlight unanswered sends, a node refuses new ones at once. */
describe('egg-im-router: overload (sends in flight are bounded)', () => {
  const h = new Harness('overload');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });
  const assertRefused = (error: any) => {
    assert.strictEqual(error.code, 'RATE_LIMITED', JSON.stringify(error));
    assert.strictEqual(error.details.scope, 'server');
    assert.ok(error.details.retryAfterMs >= 400 && error.details.retryAfterMs <= 600, `retryAfterMs ${error.details.retryAfterMs}`);
    assert.match(error.message, /^the server is busy \(\d+ messages in flight\); retry in \d+ ms$/);
  };

  it('refuses sends past the limit at once (HTTP, socket, batch), stores none of them, and admits again when answered', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const first = await h.post('/im/messages', { to: to(bob), type: 'text', content: { text: 'first' }, clientMsgId: 'first' }, alice.token).expect(201);
    const { conversationId } = first.body.message;
    const socket = await h.socket(alice);
    const admission = h.app.im.pipeline.admission;
    const refusedBefore = admission.refused;
    h.app.mockLog('coreLogger');

    // Hold the writer: its next transaction waits for this lock, so the sends after it stay in flight.
    const lock = await mysql.createConnection({ uri: h.database!.url });
    let held: Array<Promise<any>>;
    try {
      await lock.query('LOCK TABLES im_messages WRITE');
      held = [ 1, 2, 3 ].map(i => Promise.resolve(h.post('/im/messages', { to: to(bob), type: 'text', content: { text: `held ${i}` }, clientMsgId: `held${i}` }, alice.token)));
      await waitFor(() => admission.pending === 3, 5000, 'three sends in flight');

      const http = await h.post('/im/messages', { to: to(bob), type: 'text', content: { text: 'refused' }, clientMsgId: 'refused-http' }, alice.token).expect(429);
      assertRefused(http.body.error);
      const ack = await request(socket, 'message:send', { to: to(bob), type: 'text', content: { text: 'refused' }, clientMsgId: 'refused-socket' });
      assert.strictEqual(ack.ok, false);
      assertRefused(ack.error);
      const batch = await h.post('/im/messages/batch', { messages: [
        { to: to(bob), type: 'text', content: { text: 'b1' }, clientMsgId: 'refused-b1' },
        { to: to(bob), type: 'text', content: { text: 'b2' }, clientMsgId: 'refused-b2' },
      ] }, alice.token).expect(429);
      assertRefused(batch.body.error);
      assert.strictEqual(admission.pending, 3, 'a refusal holds nothing');
      assert.strictEqual(admission.refused - refusedBefore, 4);
    } finally {
      await lock.query('UNLOCK TABLES');
      await lock.end();
    }

    const answered = await Promise.all(held);
    assert.deepStrictEqual(answered.map(res => res.status), [ 201, 201, 201 ]);
    assert.strictEqual(admission.pending, 0);
    const after = await h.post('/im/messages', { to: to(bob), type: 'text', content: { text: 'after' }, clientMsgId: 'after' }, alice.token).expect(201);
    assert.strictEqual(after.body.message.seq, 5);

    // Only what was admitted is stored, in order; the refused clientMsgIds can be sent again.
    const rows = await h.rows('SELECT seq, client_msg_id AS c FROM im_messages WHERE conversation_id = ? ORDER BY seq', [ conversationId ]);
    assert.deepStrictEqual(rows.map(r => r.c), [ 'first', 'held1', 'held2', 'held3', 'after' ]);
    await h.post('/im/messages', { to: to(bob), type: 'text', content: { text: 'again' }, clientMsgId: 'refused-http' }, alice.token).expect(201);

    // The first refusals of an interval are logged one by one (the rest of it counted in one line).
    h.app.expectLog(/\[egg-im-router\] overloaded, sends refused \(RATE_LIMITED\): 1 with 3 in flight, limit 3/, 'coreLogger');
  });

  it('refuses a configuration under which a batch could never be admitted', async () => {
    const app = mm.app({ baseDir: 'apps/overload-bad-config', cache: false });
    await assert.rejects(app.ready(), /\[egg-im-router\] im\.overload\.maxInFlight must be 0 \(no limit\) or an integer >= im\.limits\.batchMax \(100\), got 10/);
    await app.close();
  });
});
