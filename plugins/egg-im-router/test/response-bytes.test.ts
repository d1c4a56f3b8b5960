import assert from 'node:assert';
import { request } from 'egg-im-testkit';
import { withinBytes } from '../lib/Conversations';
import { Harness } from './support/harness';

// Fixture: pages of at most 2,000 bytes of message JSON. Messages of 700 characters take ~850 bytes each: two fit.
describe('egg-im-router: pages bounded in bytes (im.limits.responseBytes)', () => {
  const h = new Harness('response-bytes');
  before(() => h.start());
  after(() => h.close());
  const long = (n: number) => `${n}`.padEnd(700, 'x');
  const seqs = (messages: Array<{ seq: number }>) => messages.map(m => m.seq);

  it('a history page ends at the bytes, newest first when read backward, oldest first when read forward; every message reached once', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const messages = [];
    for (let i = 1; i <= 5; i++) {
      messages.push((await h.post('/im/messages', { to: { type: 'user', id: bob.userId }, type: 'text', content: { text: long(i) }, clientMsgId: h.clientMsgId() }, alice.token).expect(201)).body.message);
    }
    const path = `/im/conversations/${encodeURIComponent(messages[0].conversationId)}/messages`;
    const backward: number[][] = [];
    for (let query = '?limit=50'; ;) {
      const { body } = await h.get(`${path}${query}`, bob.token).expect(200);
      backward.push(seqs(body.messages));
      if (!body.hasMore) break;
      query = `?limit=50&beforeSeq=${body.messages[0].seq}`;
    }
    assert.deepStrictEqual(backward, [ [ 4, 5 ], [ 2, 3 ], [ 1 ] ]);
    const forward: number[][] = [];
    for (let afterSeq = 0; ;) {
      const { body } = await h.get(`${path}?limit=50&afterSeq=${afterSeq}`, bob.token).expect(200);
      forward.push(seqs(body.messages));
      if (!body.hasMore) break;
      afterSeq = body.messages.at(-1).seq;
    }
    assert.deepStrictEqual(forward, [ [ 1, 2 ], [ 3, 4 ], [ 5 ] ]);
    assert.deepStrictEqual((await h.get(`${path}?limit=50`, bob.token).expect(200)).body.messages[1], messages[4], 'delivered as stored');
  });

  it('a sync ends at the bytes and goes on from its cursors; a message larger than the bytes comes alone', async () => {
    const alice = await h.user('alice2');
    const bob = await h.user('bob2');
    const { socket } = await h.online(bob);
    const to = { type: 'user' as const, id: bob.userId };
    for (let i = 1; i <= 4; i++) await h.post('/im/messages', { to, type: 'text', content: { text: long(i) }, clientMsgId: h.clientMsgId() }, alice.token).expect(201);
    await h.post('/im/messages', { to, type: 'text', content: { text: 'y'.repeat(3000) }, clientMsgId: h.clientMsgId() }, alice.token).expect(201);
    const pages: number[][] = [];
    const cursors: Record<string, number> = {};
    for (;;) {
      const reply = await request(socket, 'sync', { cursors, limit: 500 });
      assert.strictEqual(reply.ok, true, JSON.stringify(reply));
      pages.push(seqs(reply.messages));
      for (const m of reply.messages) cursors[m.conversationId] = m.seq;
      if (!reply.hasMore) break;
    }
    assert.deepStrictEqual(pages, [ [ 1, 2 ], [ 3, 4 ], [ 5 ] ]);
  });

  it('a page of the conversation list ends before a last message past the bytes', async () => {
    const carol = await h.user('carol');
    for (const name of [ 'dan', 'erin', 'fay' ]) {
      const other = await h.user(name);
      await h.post('/im/messages', { to: { type: 'user', id: carol.userId }, type: 'text', content: { text: long(1) }, clientMsgId: h.clientMsgId() }, other.token).expect(201);
      await new Promise(resolve => setTimeout(resolve, 5));
    }
    const pages: number[] = [];
    for (let query = '?limit=100'; ;) {
      const { body } = await h.get(`/im/conversations${query}`, carol.token).expect(200);
      assert.ok(body.conversations.every((c: any) => c.lastMessage?.content.text === long(1)));
      pages.push(body.conversations.length);
      if (!body.hasMore) break;
      query = `?limit=100&cursor=${encodeURIComponent(body.next)}`;
    }
    assert.deepStrictEqual(pages, [ 2, 1 ]);
  });

  it('withinBytes keeps at least one text, from the end the page is read toward', () => {
    assert.deepStrictEqual(withinBytes([ 'aaaa', 'bb', 'cc' ], 4, 'last'), [ 'bb', 'cc' ]);
    assert.deepStrictEqual(withinBytes([ 'aaaa', 'bb', 'cc' ], 4, 'first'), [ 'aaaa' ]);
    assert.deepStrictEqual(withinBytes([ 'aaaaaa', 'bb' ], 4, 'first'), [ 'aaaaaa' ]);
    assert.deepStrictEqual(withinBytes([], 4, 'last'), []);
  });
});
