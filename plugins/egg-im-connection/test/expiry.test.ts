import assert from 'node:assert';
import { createHash } from 'node:crypto';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');
import { connect, login, registerAndLogin, sleep, waitFor, type Socket, type TestLogin } from 'egg-im-testkit';
import { SessionSweeper } from '../lib/session/SessionSweeper';
import { assertNoSecretsInLogs, presenceWhen, socketServerOf, startFixture, watch, type Fixture } from './support/fixture';

// The fixture's sessions live 1500 ms.
describe('egg-im-connection: session expiry (TTL 1.5 s)', () => {
  let fx: Fixture;
  const sockets: Socket[] = [];
  const loginUser = async (label: string, deviceId?: string): Promise<TestLogin> => {
    const session = await registerAndLogin(fx.app, label, deviceId);
    fx.secrets.add(session.token).add(session.password);
    return session;
  };

  before(async () => {
    fx = await startFixture('short-ttl');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await fx?.close();
  });

  it('gives sessions the configured TTL', async () => {
    const before = Date.now();
    const session = await loginUser('ttl');
    const expiresAt = Date.parse(session.expiresAt);
    assert.ok(expiresAt >= before + 1500 && expiresAt <= Date.now() + 1500, session.expiresAt);
  });

  it('tells a connected socket its session expired, then disconnects it, within a second of the expiry', async () => {
    const session = await loginUser('exp', 'phone');
    const socket = await connect(fx.url, session.token);
    sockets.push(socket);
    const seen = watch(socket);
    const expiresAt = Date.parse(session.expiresAt);
    assert.ok(Date.now() < expiresAt, 'connected before the expiry');

    await waitFor(() => seen.disconnectedAt, 4000, 'the socket to be disconnected');
    assert.deepStrictEqual(seen.expired, { sessionId: session.sessionId });
    assert.ok(seen.expiredAt! >= expiresAt, `told ${expiresAt - seen.expiredAt!} ms before the expiry`);
    assert.ok(seen.expiredAt! <= seen.disconnectedAt!, 'told before being disconnected');
    assert.ok(seen.disconnectedAt! - expiresAt < 1000, `disconnected ${seen.disconnectedAt! - expiresAt} ms after the expiry`);
    assert.strictEqual(seen.reason, 'io server disconnect', 'no automatic reconnection with an expired token');

    // its resources are released: no room, not among the node's sockets, no expiry timer, and the user is offline
    const { io } = socketServerOf(fx.app);
    await waitFor(() => !io.of('/').adapter.rooms.has(`s:${session.sessionId}`), 1000, 'the session room to go');
    assert.strictEqual(socketServerOf(fx.app).hasUser(session.userId), false);
    assert.strictEqual((socketServerOf(fx.app) as any).expiryTimers.size, 0, 'no expiry timer left');
  });

  it('refuses an expired token at the handshake and over HTTP: SESSION_EXPIRED', async () => {
    const session = await loginUser('late');
    await sleep(Math.max(0, Date.parse(session.expiresAt) - Date.now()) + 50);
    const err: any = await connect(fx.url, session.token).then(s => { s.close(); throw new Error('connected'); }, e => e);
    assert.strictEqual(err.message, 'SESSION_EXPIRED');
    assert.deepStrictEqual(err.data, { code: 'SESSION_EXPIRED', message: 'the session has expired', details: { sessionId: session.sessionId } });
    const res = await fx.app.httpRequest().get(`/im/users/${session.userId}/presence`).set('Authorization', `Bearer ${session.token}`).expect(401);
    assert.deepStrictEqual(res.body, { ok: false, error: err.data });
  });

  it('refuses an expired token that is no longer cached (read from MySQL): SESSION_EXPIRED', async () => {
    const session = await loginUser('uncached');
    await sleep(Math.max(0, Date.parse(session.expiresAt) - Date.now()) + 50);
    // the cache entry lives no longer than the session: the database answers
    assert.strictEqual(await fx.app.imCache.get(fx.app.imCache.key('session', (await fx.app.imStore.sessions.findById(session.sessionId))!.tokenHash)), undefined);
    const err: any = await connect(fx.url, session.token).then(s => { s.close(); throw new Error('connected'); }, e => e);
    assert.strictEqual(err.message, 'SESSION_EXPIRED');
  });

  it('marks the user offline with lastSeenAt when the expiry closes the last device', async () => {
    const session = await loginUser('presence', 'laptop');
    const socket = await connect(fx.url, session.token);
    sockets.push(socket);
    const seen = watch(socket);
    await waitFor(() => seen.disconnectedAt, 4000, 'the socket to be disconnected');
    // ask with a fresh session of the same user (the old one has expired; a user always sees their own presence,
    // and a new login without a socket does not make them online)
    const viewer = await login(fx.app, session, 'viewer-device');
    fx.secrets.add(viewer.token);
    const p = await presenceWhen(fx.app, viewer.token, session.userId, x => !x.online && x.lastSeenAt);
    assert.strictEqual(p.devices, 0);
    assert.ok(Math.abs(Date.parse(p.lastSeenAt) - seen.disconnectedAt!) < 1000, p.lastSeenAt);
  });

  it('deletes ended sessions once their retention has passed (the sweeper), and their tokens stay refused', async () => {
    const session = await loginUser('sweep');
    const ended = Date.parse(session.expiresAt);
    await sleep(Math.max(0, ended + fx.app.config.imConnection.session.retainEndedMs - Date.now()) + 50);
    const sweeper = new SessionSweeper(fx.app.imStore.sessions, fx.app.config.imConnection.session, fx.app.coreLogger);
    assert.ok(await sweeper.sweep() >= 1, 'the ended session was deleted');
    assert.equal(await fx.app.imStore.sessions.findByTokenHash(hashOf(session.token)), null);
    const err = await connect(fx.url, session.token).then(() => undefined, e => e);
    assert.equal(err?.message, 'UNAUTHORIZED');
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
