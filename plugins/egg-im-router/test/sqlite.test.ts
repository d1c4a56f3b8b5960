import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request, waitFor } from 'egg-im-testkit';
import { arrival, firstSeqs, Harness, sleep, type TestLogin } from './support/harness';

// The embedded defaults (SQLite file, in-memory cache, one node): the same message path on the other SQL dialect.
describe('egg-im-router on SQLite with the in-memory cache', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-router-sqlite-'));
  const h = new Harness('sqlite', { database: false, redis: false, env: { ROUTER_TEST_SQLITE_URL: `sqlite:${path.join(dir, 'im.sqlite')}` } });
  before(() => h.start());
  after(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('direct and group messages: delivery, receipts, read, status, conversations, history, sync, dedupe', async () => {
    assert.equal(h.app.imStore.driver, 'better-sqlite3');
    assert.equal(h.app.imCache.mode, 'memory');
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const carol = await h.user('carol');
    const a = await h.socket(alice);
    const { socket: b, inbox: bobInbox } = await h.online(bob);
    const to = { type: 'user' as const, id: bob.userId };
    const body = { to, type: 'text', content: { text: '你好 👋', n: [ 1, null ] }, clientMsgId: h.clientMsgId() };
    const first = (await h.send(a, body)).message;
    assert.deepStrictEqual((await h.send(a, body)).message, first);
    await arrival(bobInbox, first.id);
    await h.waitStatus(alice.token, first.id, 'delivered');
    const reply = (await h.text(b, { type: 'user', id: alice.userId }, 'hi')).message;
    const second = (await h.text(a, to, 'again')).message;
    await arrival(bobInbox, second.id, 3000);
    assert.deepStrictEqual([ first.seq, reply.seq, second.seq ], [ 1, 2, 3 ]);
    assert.deepStrictEqual(await request(b, 'message:read', { conversationId: first.conversationId, seq: 3 }), { ok: true });
    assert.equal((await h.status(alice.token, second.id)).status, 'read');
    const list = (await h.get('/im/conversations', bob.token).expect(200)).body.conversations;
    assert.deepStrictEqual(list, [ { conversationId: first.conversationId, type: 'direct', peerId: alice.userId, lastSeq: 3, readSeq: 3, unread: 0, lastMessage: second } ]);
    const page = (await h.get(`/im/conversations/${first.conversationId}/messages?beforeSeq=3&limit=1`, bob.token).expect(200)).body;
    assert.deepStrictEqual(page, { messages: [ reply ], hasMore: true });

    const { groupId, conversationId } = await h.createGroup(alice, [ bob, carol ]);
    const g1 = (await h.text(a, { type: 'group', id: groupId }, 'team')).message;
    await arrival(bobInbox, g1.id);
    const { socket: c, inbox: carolInbox } = await h.online(carol);
    await arrival(carolInbox, g1.id);
    await h.delete(`/im/groups/${groupId}/members/${carol.userId}`, alice.token).expect(204);
    assert.equal((await h.text(c, { type: 'group', id: groupId }, 'x')).error.code, 'NOT_FOUND');
    const synced = await request(b, 'sync', { cursors: { [first.conversationId]: 3 } });
    assert.deepStrictEqual(synced.messages, [ g1 ]);
    assert.equal(conversationId, g1.conversationId);
  });

  it('a failed recipient that comes back is delivered, its attempts added up', async () => {
    const alice: TestLogin = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { socket: deaf } = await h.online(bob, { ack: false });
    // 1 s, 2 s, 4 s at this fixture's timings would be slow: record the failure the way Delivery does.
    const { message } = await h.text(a, { type: 'user', id: bob.userId }, 'x');
    deaf.disconnect();
    // Its push ends at the next retry (after ackTimeoutMs, 1 s here), which finds no device connected.
    await sleep(1300);
    await h.app.imStore.receipts.failed({ conversationId: message.conversationId, userId: bob.userId, seq: message.seq, attempts: 5 });
    assert.equal((await h.status(alice.token, message.id)).recipients[0].status, 'failed');
    const bobInbox = (await h.online(bob)).inbox;
    await waitFor(() => firstSeqs(bobInbox).length === 1, 5000, 'the replay');
    const status = await h.waitStatus(alice.token, message.id, 'delivered');
    assert.equal(status.recipients[0].attempts, 6);
  });
});
