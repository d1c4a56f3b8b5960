import assert from 'node:assert';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import {
  connect, createTestDatabase, dropTestDatabase, listen, nextEvent, registerAndLogin, request, startRedisServer, uniqueName, waitFor,
  type Socket, type TestLogin, type ThrowawayRedis,
} from 'egg-im-testkit';

const ROOT = path.resolve(__dirname, '..');

/**
 * Redis dies in the middle of a conversation and comes back (issue: the cache layer).
 * The example app runs on MariaDB and on a redis-server of this test's own, which it kills and restarts.
 */
describe('Redis outage during a conversation', function() {
  this.timeout(120000);
  let redis: ThrowawayRedis;
  let database: { name: string; url: string };
  let app: MockApplication;
  let url: string;
  let alice: TestLogin;
  let bob: TestLogin;
  let carol: TestLogin;
  let a: Socket;
  let b: Socket;
  let groupId: string;
  const bearer = (user: TestLogin) => ({ Authorization: `Bearer ${user.token}` });

  before(async () => {
    redis = await startRedisServer();
    database = await createTestDatabase('outage');
    mm(process.env, 'IM_DATABASE_URL', database.url);
    mm(process.env, 'IM_REDIS_URL', redis.url);
    mm(process.env, 'IM_REDIS_PREFIX', `${uniqueName('outage')}:`);
    app = mm.app({ baseDir: path.join(ROOT, 'examples/chat'), framework: path.join(ROOT, 'framework/egg-im'), cache: false });
    await app.ready();
    url = await listen(app);
    [ alice, bob, carol ] = await Promise.all([ registerAndLogin(app, 'alice'), registerAndLogin(app, 'bob'), registerAndLogin(app, 'carol') ]);
    a = await connect(url, alice.token);
    b = await connect(url, bob.token);
    b.on('message:new', (_message: unknown, ack: () => void) => ack());
    const res = await app.httpRequest().post('/im/groups').set(bearer(alice)).send({ name: 'outage', memberIds: [ bob.userId, carol.userId ] }).expect(201);
    groupId = res.body.groupId;
  });

  after(async () => {
    a?.close();
    b?.close();
    await app?.close();
    mm.restore();
    await redis?.dispose();
    if (database) await dropTestDatabase(database.name);
  });

  const send = (socket: Socket, text: string) =>
    request(socket, 'message:send', { to: { type: 'group', id: groupId }, type: 'text', content: { text }, clientMsgId: `${text}-${Date.now()}` });
  const history = async (user: TestLogin, query = '') =>
    (await app.httpRequest().get(`/im/conversations/g:${groupId}/messages${query}`).set(bearer(user)).expect(200)).body;

  it('keeps sending, delivering and reading history while Redis is down, and says degraded', async () => {
    for (let i = 1; i <= 5; i++) assert.equal((await send(a, `before ${i}`)).ok, true);
    assert.equal((await app.httpRequest().get('/readyz').expect(200)).body.status, 'ready');

    await redis.stop('SIGKILL');
    await waitFor(async () => (await app.httpRequest().get('/readyz')).body.status === 'degraded', 10000, 'readyz to say degraded');

    const received = nextEvent(b, 'message:new');
    const ack = await send(a, 'during 1');
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal((await received)[0].seq, 6, 'delivered on this node while Redis is down');
    const page = await history(alice);
    assert.deepEqual(page.messages.map((m: any) => m.seq), [ 1, 2, 3, 4, 5, 6 ]);
  });

  it('applies a membership change made during the outage, and serves nothing stale once Redis is back', async () => {
    // Carol read the history (so her membership is cached), then is removed while Redis is down.
    await app.httpRequest().delete(`/im/groups/${groupId}/members/${carol.userId}`).set(bearer(alice)).expect(204);
    await app.httpRequest().get(`/im/conversations/g:${groupId}/messages`).set(bearer(carol)).expect(404);

    await redis.start();
    await waitFor(async () => (await app.httpRequest().get('/readyz')).body.status === 'ready', 20000, 'readyz to say ready again');

    await app.httpRequest().get(`/im/conversations/g:${groupId}/messages`).set(bearer(carol)).expect(404);
    const c = await connect(url, carol.token);
    try {
      const denied = await request(c, 'message:send', { to: { type: 'group', id: groupId }, type: 'text', content: { text: 'x' }, clientMsgId: 'carol-1' });
      assert.equal(denied.ok, false);
      assert.equal(denied.error.code, 'NOT_FOUND');
    } finally {
      c.close();
    }

    assert.equal((await send(a, 'after 1')).ok, true);
    const page = await history(bob);
    assert.deepEqual(page.messages.map((m: any) => m.content.text), [ 'before 1', 'before 2', 'before 3', 'before 4', 'before 5', 'during 1', 'after 1' ]);
    // the cache warms again: the window holds the conversation's newest messages after a read
    await waitFor(async () => (await app.imCache.windowRange(app.imCache.key('hist', `g:${groupId}`), 1, 100)).length > 0, 5000, 'the window to be warm');
  });
});
