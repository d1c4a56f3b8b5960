import assert from 'node:assert';
import { connect, login, register, sleep, waitFor, type Socket, type TestLogin, type TestUser } from 'egg-im-testkit';
import { assertNoSecretsInLogs, readLogs, startFixture, startSecondNode, watch, type Fixture, type SecondNode } from './support/fixture';

// The fixture: at most 2 live sessions per user; two nodes on one database and Redis prefix.
describe('egg-im-connection: sessions per user', () => {
  let fx: Fixture;
  let node2: SecondNode;
  const sockets: Socket[] = [];
  const newUser = async (label: string): Promise<TestUser> => {
    const user = await register(fx.app, label);
    fx.secrets.add(user.password);
    return user;
  };
  const newLogin = async (user: TestUser, device: string): Promise<TestLogin> => {
    const session = await login(fx.app, user, device);
    fx.secrets.add(session.token);
    return session;
  };
  const open = async (url: string, token: string) => {
    const socket = await connect(url, token);
    sockets.push(socket);
    return socket;
  };
  const presenceWith = (token: string, userId: string) =>
    fx.app.httpRequest().get(`/im/users/${userId}/presence`).set('Authorization', `Bearer ${token}`);

  before(async () => {
    fx = await startFixture('session-cap');
    node2 = await startSecondNode(fx, 'session-cap');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await node2?.close();
    await fx?.close();
  });

  it('revokes the oldest session when a login goes over the cap; its socket on another node is told and closed', async () => {
    const user = await newUser('cap');
    const oldest = await newLogin(user, 'old-phone');
    await sleep(5); // created_at has millisecond precision: make the order unambiguous
    const middle = await newLogin(user, 'laptop');
    const oldSocket = await open(node2.url, oldest.token);
    const seen = watch(oldSocket);
    const middleSocket = await open(fx.url, middle.token);

    await sleep(5);
    const newest = await newLogin(user, 'new-phone');
    await waitFor(() => seen.disconnectedAt, 3000, 'the oldest session\'s socket to be ended');
    assert.deepStrictEqual(seen.expired, { sessionId: oldest.sessionId });
    assert.strictEqual(seen.reason, 'io server disconnect');

    // the oldest token is refused everywhere; the other two work
    assert.strictEqual((await presenceWith(oldest.token, user.userId).expect(401)).body.error.code, 'UNAUTHORIZED');
    const row = await fx.app.imStore.sessions.findById(oldest.sessionId);
    assert.ok(row?.revokedAt instanceof Date, 'stored as revoked');
    await presenceWith(middle.token, user.userId).expect(200);
    await presenceWith(newest.token, user.userId).expect(200);
    await sleep(100);
    assert.ok(middleSocket.connected, 'the other session\'s socket stays');
    await waitFor(() => readLogs(fx.logDir).some(f => f.text.includes(`session ${oldest.sessionId} of user ${user.userId} is the oldest over session.maxPerUser (2)`)),
      2000, 'the revocation in the log');
  });

  it('never counts ended sessions: after a logout the user has room again without a revocation', async () => {
    const user = await newUser('logout');
    const a = await newLogin(user, 'a');
    const b = await newLogin(user, 'b');
    await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${a.token}`).expect(204);
    const c = await newLogin(user, 'c');
    await presenceWith(b.token, user.userId).expect(200);
    await presenceWith(c.token, user.userId).expect(200);
  });

  it('keeps a user at the cap however many logins, each login revoking the then oldest', async () => {
    const user = await newUser('many');
    const logins: TestLogin[] = [];
    for (let i = 0; i < 6; i++) {
      logins.push(await newLogin(user, `device-${i}`));
      await sleep(5);
    }
    const statuses = await Promise.all(logins.map(l => presenceWith(l.token, user.userId).then(r => r.status)));
    assert.deepStrictEqual(statuses, [ 401, 401, 401, 401, 200, 200 ]);
  });

  it('leaves other users alone', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    const bobs = [ await newLogin(bob, 'a'), await newLogin(bob, 'b') ];
    for (let i = 0; i < 3; i++) await newLogin(alice, `d${i}`);
    for (const b of bobs) await presenceWith(b.token, bob.userId).expect(200);
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await node2.close();
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
