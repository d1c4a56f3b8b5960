import assert from 'node:assert';
import { request, waitFor } from 'egg-im-testkit';
import { arrival, Harness, sleep, statuses } from './support/harness';

/** Delivery status: the status API, `message:status` to the sender, and read receipts. */
describe('egg-im-router: delivery status and read receipts', () => {
  const h = new Harness('messaging');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });

  it('status API: sender or member only (others NOT_FOUND, as for an unknown message)', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const eve = await h.user('eve');
    const a = await h.socket(alice);
    const { message } = await h.text(a, to(bob), 'status?');
    const forAlice = await h.status(alice.token, message.id);
    const forBob = await h.status(bob.token, message.id);
    assert.deepStrictEqual(Object.keys(forAlice).sort(), [ 'conversationId', 'messageId', 'recipients', 'seq', 'status' ]);
    assert.equal(forAlice.messageId, message.id);
    assert.equal(forAlice.conversationId, message.conversationId);
    assert.equal(forAlice.seq, 1);
    assert.deepStrictEqual(forBob, forAlice);
    const denied = await h.get(`/im/messages/${message.id}/status`, eve.token).expect(404);
    assert.equal(denied.body.error.code, 'NOT_FOUND');
    const unknown = await h.get('/im/messages/m_doesnotexist/status', alice.token).expect(404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
  });

  it('message:read moves the recipient to read and tells the sender', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { socket: b, inbox: bobInbox } = await h.online(bob);
    const aliceStatus = statuses(a);
    const m1 = (await h.text(a, to(bob), 'one')).message;
    const m2 = (await h.text(a, to(bob), 'two')).message;
    const m3 = (await h.text(a, to(bob), 'three')).message;
    await arrival(bobInbox, m3.id);

    const ok = await request(b, 'message:read', { conversationId: m1.conversationId, seq: 2 });
    assert.deepStrictEqual(ok, { ok: true });
    const event = await waitFor(() => aliceStatus.find(e => e.status === 'read'), 5000, 'message:status read');
    // Statuses are cumulative by seq: the sender hears of its latest message that was read.
    assert.deepStrictEqual(event, { messageId: m2.id, conversationId: m2.conversationId, seq: 2, userId: bob.userId, status: 'read' });
    for (const m of [ m1, m2 ]) {
      const status = await h.status(alice.token, m.id);
      assert.equal(status.status, 'read');
      assert.equal(status.recipients[0].status, 'read');
      assert.ok(status.recipients[0].readAt);
      assert.ok(status.recipients[0].deliveredAt);
    }
    assert.equal((await h.waitStatus(alice.token, m3.id, 'delivered')).status, 'delivered');

    // Reading again (or lower) changes nothing and tells nobody.
    const before = aliceStatus.length;
    assert.deepStrictEqual(await request(b, 'message:read', { conversationId: m1.conversationId, seq: 1 }), { ok: true });
    await sleep(150);
    assert.equal(aliceStatus.length, before);

    // Bad reads are VALIDATION_FAILED; a conversation of others is NOT_FOUND.
    const eve = await h.user('eve');
    const e = await h.socket(eve);
    assert.equal((await request(b, 'message:read', { conversationId: m1.conversationId })).error.code, 'VALIDATION_FAILED');
    assert.equal((await request(b, 'message:read', { seq: 1 })).error.code, 'VALIDATION_FAILED');
    assert.equal((await request(b, 'message:read', { conversationId: m1.conversationId, seq: 0 })).error.code, 'VALIDATION_FAILED');
    assert.equal((await request(e, 'message:read', { conversationId: m1.conversationId, seq: 3 })).error.code, 'NOT_FOUND');
  });

});
