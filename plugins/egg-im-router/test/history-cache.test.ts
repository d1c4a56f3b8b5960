import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import { createClient } from 'redis';
import { createTestDatabase, dropTestDatabase, registerAndLogin, TEST_REDIS_URL, uniqueName, waitFor, type TestLogin } from 'egg-im-testkit';

/** History is read from the hot window in Redis first, the database for the rest, and is the same either way. */
describe('egg-im-router: hot history (cache-first reads)', function() {
  this.timeout(60000);
  const prefix = `${uniqueName('hist')}:`;
  let app: MockApplication;
  let database: { name: string; url: string };
  let alice: TestLogin;
  let bob: TestLogin;
  let conversationId: string;
  let databaseReads: Array<[number, number]>;

  const bearer = (user: TestLogin) => ({ Authorization: `Bearer ${user.token}` });
  const page = async (user: TestLogin, query: string) =>
    (await app.httpRequest().get(`/im/conversations/${conversationId}/messages${query}`).set(bearer(user)).expect(200)).body;
  /** The same page from the database alone: what every page must equal. */
  const fromDatabase = (query: { afterSeq?: number; beforeSeq?: number; limit: number }) =>
    app.imStore.messages.history(conversationId, bob.userId, query);

  before(async () => {
    database = await createTestDatabase('hist');
    mm(process.env, 'HISTORY_TEST_MYSQL_URL', database.url);
    mm(process.env, 'HISTORY_TEST_REDIS_URL', TEST_REDIS_URL);
    mm(process.env, 'HISTORY_TEST_PREFIX', prefix);
    app = mm.app({ baseDir: 'apps/history-cache', cache: false });
    await app.ready();
    [ alice, bob ] = await Promise.all([ registerAndLogin(app, 'alice'), registerAndLogin(app, 'bob') ]);
    for (let i = 1; i <= 25; i++) {
      const res = await app.httpRequest().post('/im/messages').set(bearer(i % 2 ? alice : bob))
        .send({ to: { type: 'user', id: i % 2 ? bob.userId : alice.userId }, type: 'text', content: { text: `m${i}`, n: i, tags: [ 'ü', null ] }, clientMsgId: `h${i}` })
        .expect(201);
      conversationId = res.body.message.conversationId;
    }
    // Window writes wait up to history.writeLingerMs after their commit.
    await waitFor(async () => (await app.imCache.windowRange(app.imCache.key('hist', conversationId), 25, 25)).length === 1, 5000, 'seq 25 in the window');
    // Count what the database is asked for, to tell hits from misses.
    const range = app.imStore.messages.range.bind(app.imStore.messages);
    app.imStore.messages.range = async (id: string, from: number, to: number) => {
      databaseReads.push([ from, to ]);
      return range(id, from, to);
    };
  });

  beforeEach(() => { databaseReads = []; });

  after(async () => {
    await app?.close();
    const redis = createClient({ url: TEST_REDIS_URL });
    await redis.connect();
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) if (keys.length) await redis.unlink(keys);
    await redis.close();
    if (database) await dropTestDatabase(database.name);
  });

  it('writes each committed message into its conversation window, capped at windowSize', async () => {
    const window = await app.imCache.windowRange(app.imCache.key('hist', conversationId), 0, 1000);
    assert.deepEqual(window.map(item => item.score), [ 16, 17, 18, 19, 20, 21, 22, 23, 24, 25 ]);
  });

  it('serves the newest page from the window alone (a hit), equal to the database page', async () => {
    const body = await page(bob, '?limit=10');
    assert.deepEqual(databaseReads, [], 'no message was read from the database');
    assert.deepEqual(body, JSON.parse(JSON.stringify(await fromDatabase({ limit: 10 }))));
    assert.equal(body.hasMore, true);
    assert.deepEqual(body.messages.map((m: any) => m.seq), [ 16, 17, 18, 19, 20, 21, 22, 23, 24, 25 ]);
  });

  it('assembles a page that straddles the window from both, identical to the database page', async () => {
    const body = await page(bob, '?beforeSeq=21&limit=10');
    assert.deepEqual(databaseReads, [ [ 11, 15 ] ], 'only the part below the window came from the database');
    assert.deepEqual(body, JSON.parse(JSON.stringify(await fromDatabase({ beforeSeq: 21, limit: 10 }))));
    assert.deepEqual(body.messages.map((m: any) => m.seq), [ 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 ]);
  });

  it('reads a page outside the window from the database (a miss), identical, and keys stay consistent', async () => {
    const body = await page(bob, '?afterSeq=0&limit=5');
    assert.deepEqual(databaseReads, [ [ 1, 5 ] ]);
    assert.deepEqual(body, JSON.parse(JSON.stringify(await fromDatabase({ afterSeq: 0, limit: 5 }))));
    assert.equal(body.hasMore, true);
  });

  it('fills a window that lost entries from the database, and warms it again', async () => {
    const key = app.imCache.key('hist', conversationId);
    await app.imCache.del(key);
    const body = await page(alice, '?limit=10');
    assert.deepEqual(databaseReads, [ [ 16, 25 ] ]);
    assert.deepEqual(body.messages.map((m: any) => m.content), Array.from({ length: 10 }, (_, i) => ({ text: `m${i + 16}`, n: i + 16, tags: [ 'ü', null ] })));
    // written back with the next linger's write (history.writeLingerMs)
    await waitFor(async () => (await app.imCache.windowRange(key, 0, 1000)).length === 10, 5000, 'what the database supplied back in the window');
    databaseReads = [];
    await page(alice, '?limit=10');
    assert.deepEqual(databaseReads, [], 'the next read is a hit');
  });

  it('writes back what pages read from the database in the same linger with one command', async () => {
    const key = app.imCache.key('hist', conversationId);
    await app.imCache.del(key);
    const writes: number[] = [];
    const windowAddMany = app.imCache.windowAddMany.bind(app.imCache);
    app.imCache.windowAddMany = async (windows, ...rest) => {
      writes.push(windows.reduce((n, w) => n + w.items.length, 0));
      return windowAddMany(windows, ...rest);
    };
    try {
      const pages = await Promise.all([ page(alice, '?limit=10'), page(bob, '?beforeSeq=21&limit=5'), page(bob, '?limit=3') ]);
      assert.deepEqual(pages.map(p => p.messages.length), [ 10, 5, 3 ]);
      await waitFor(async () => (await app.imCache.windowRange(key, 0, 1000)).length === 10, 5000, 'the window written back');
      assert.deepEqual(writes, [ 18 ], 'one command for the three pages');
    } finally {
      app.imCache.windowAddMany = windowAddMany;
    }
  });

  it('never serves a message a member may not see: non-members get NOT_FOUND, as for unknown conversations', async () => {
    const carol = await registerAndLogin(app, 'carol');
    const res = await app.httpRequest().get(`/im/conversations/${conversationId}/messages`).set(bearer(carol)).expect(404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
    await app.httpRequest().get('/im/conversations/d:nobody:none/messages').set(bearer(carol)).expect(404);
  });

  it('sync reads the same way: what is after each cursor, in seq order', async () => {
    const { messages, hasMore } = await app.im.conversations.sync(bob.userId, { cursors: { [conversationId]: 20 } });
    assert.equal(hasMore, false);
    assert.deepEqual(messages.map(m => m.seq), [ 21, 22, 23, 24, 25 ]);
  });

  it('a page read while the window write is still waiting takes the newest seqs from the database, exact', async () => {
    await app.httpRequest().post('/im/messages').set(bearer(alice))
      .send({ to: { type: 'user', id: bob.userId }, type: 'text', content: { text: 'm26' }, clientMsgId: 'h26' }).expect(201);
    const body = await page(bob, '?limit=10');
    assert.deepEqual(databaseReads, [ [ 26, 26 ] ], 'the window did not have seq 26 yet');
    assert.deepEqual(body, JSON.parse(JSON.stringify(await fromDatabase({ limit: 10 }))));
    assert.deepEqual(body.messages.map((m: any) => m.seq), [ 17, 18, 19, 20, 21, 22, 23, 24, 25, 26 ]);
    await waitFor(async () => (await app.imCache.windowRange(app.imCache.key('hist', conversationId), 26, 26)).length === 1, 5000, 'seq 26 in the window');
  });

  it('sets a TTL on every key it writes', async () => {
    const redis = createClient({ url: TEST_REDIS_URL });
    await redis.connect();
    try {
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${prefix}*` })) keys.push(...batch);
      assert(keys.some(k => k.includes('hist:')), 'the windows are in Redis');
      for (const key of keys) assert((await redis.pTTL(key)) > 0, `${key} has no TTL`);
    } finally {
      await redis.close();
    }
  });
});
