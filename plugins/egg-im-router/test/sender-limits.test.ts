import assert from 'node:assert';
import { Harness } from './support/harness';

describe('egg-im-router: sends per user, across sockets and HTTP', () => {
  const h = new Harness('sender-limits');
  before(() => h.start());
  after(() => h.close());

  it('counts every socket, HTTP and batch of the user together; past the limit RATE_LIMITED, nothing stored; other users unaffected', async () => {
    const [ spammer, peer, bystander ] = await Promise.all([ h.user('spam'), h.user('peer'), h.user('by') ]);
    const sockets = await Promise.all([ h.socket(spammer), h.socket(await h.login(spammer, 'second')), h.socket(await h.login(spammer, 'third')) ]);
    const to = { type: 'user' as const, id: peer.userId };
    const body = () => ({ to, type: 'text', content: { text: 'x' }, clientMsgId: h.clientMsgId() });

    // 20 in all: 5 per socket, 3 over HTTP, a batch of 2.
    const acks = await Promise.all([
      ...sockets.flatMap(s => Array.from({ length: 5 }, () => h.send(s, body()))),
      ...Array.from({ length: 3 }, () => h.post('/im/messages', body(), spammer.token).then(res => res.body)),
    ]);
    assert.ok(acks.every(a => a.ok), JSON.stringify(acks.find(a => !a.ok)));
    const batch = (await h.post('/im/messages/batch', { messages: [ body(), body() ] }, spammer.token).expect(200)).body;
    assert.ok(batch.results.every((r: any) => r.ok));

    const over = await h.send(sockets[2], body());
    assert.equal(over.error?.code, 'RATE_LIMITED', JSON.stringify(over));
    assert.equal(over.error.details.scope, 'user');
    assert.ok(over.error.details.retryAfterMs > 0 && over.error.details.retryAfterMs <= 60_000);
    const overHttp = await h.post('/im/messages', body(), spammer.token).expect(429);
    assert.equal(overHttp.body.error.details.scope, 'user');
    // A batch is refused whole, before any of it is validated or stored.
    const overBatch = await h.post('/im/messages/batch', { messages: [ body() ] }, spammer.token).expect(429);
    assert.equal(overBatch.body.error.code, 'RATE_LIMITED');

    const rows = await h.rows<{ n: number }>('SELECT COUNT(*) AS n FROM im_messages WHERE sender_id = ?', [ spammer.userId ]);
    assert.equal(Number(rows[0].n), 20);
    // Another user writes to the same peer as if nothing happened.
    const other = await h.text(await h.socket(bystander), to, 'hello');
    assert.equal(other.ok, true, JSON.stringify(other));
  });

  it('counts a whole batch: one that would cross the limit is refused and stores nothing', async () => {
    const [ sender, peer ] = await Promise.all([ h.user('b'), h.user('p') ]);
    const body = () => ({ to: { type: 'user', id: peer.userId }, type: 'text', content: { text: 'x' }, clientMsgId: h.clientMsgId() });
    for (let i = 0; i < 3; i++) await h.post('/im/messages/batch', { messages: Array.from({ length: 5 }, body) }, sender.token).expect(200);
    for (let i = 0; i < 4; i++) await h.post('/im/messages', body(), sender.token).expect(201);
    // 19 taken: a batch of 2 crosses the limit.
    await h.post('/im/messages/batch', { messages: [ body(), body() ] }, sender.token).expect(429);
    const rows = await h.rows<{ n: number }>('SELECT COUNT(*) AS n FROM im_messages WHERE sender_id = ?', [ sender.userId ]);
    assert.equal(Number(rows[0].n), 19);
  });
});
