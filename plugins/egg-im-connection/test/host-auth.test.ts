import assert from 'node:assert';
import { connect, waitFor } from 'egg-im-testkit';
import { calls, HOST_USERS } from './fixtures/apps/host-auth/config/config.default';
import { assertNoSecretsInLogs, readLogs, socketServerOf, startFixture, type Fixture } from './support/fixture';

// The fixture replaces the credential check with the host app's own (config.imConnection.auth.verifyCredentials)
// and turns registration off.
describe('egg-im-connection: the host application\'s own user system (verifyCredentials)', () => {
  let fx: Fixture;

  before(async () => {
    fx = await startFixture('host-auth');
    for (const { password } of Object.values(HOST_USERS)) fx.secrets.add(password);
  });
  after(async () => {
    await fx?.close();
  });

  const loginAs = (username: string, password: string, deviceId?: string) =>
    fx.app.httpRequest().post('/im/auth/login').send({ username, password, deviceId });

  it('logs a host user in with egg-im\'s sessions, under the host\'s user id (and a username egg-im itself would refuse)', async () => {
    calls.length = 0;
    const res = await loginAs('alice@example.com', 'alice-secret', 'phone').expect(200);
    fx.secrets.add(res.body.token);
    assert.strictEqual(res.body.userId, 'host_alice');
    assert.strictEqual(res.body.deviceId, 'phone');
    assert.match(res.body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.deepStrictEqual(calls, [ { username: 'alice@example.com', hasContext: true } ], 'called once, with the request context');

    // the session works like any other: a socket, presence
    const socket = await connect(fx.url, res.body.token);
    try {
      assert.strictEqual(socketServerOf(fx.app).io.of('/').sockets.get(socket.id!)?.data.userId, 'host_alice');
      const presence = await fx.app.httpRequest().get('/im/users/host_alice/presence').set('Authorization', `Bearer ${res.body.token}`).expect(200);
      assert.strictEqual(presence.body.online, true);
    } finally {
      socket.close();
    }
  });

  it('ensures a user row for the host user (no password hash), once, whatever the number of logins', async () => {
    const first = await loginAs('bob@example.com', 'bob-secret', 'a').expect(200);
    const second = await loginAs('bob@example.com', 'bob-secret', 'b').expect(200);
    fx.secrets.add(first.body.token).add(second.body.token);
    assert.notStrictEqual(first.body.sessionId, second.body.sessionId);
    const user = await fx.app.imStore.users.findById('host_bob');
    assert.ok(user);
    assert.strictEqual(user.username, 'bob@example.com');
    assert.strictEqual(user.passwordHash, null);
    assert.ok(await fx.app.imStore.users.exists('host_alice'));
  });

  it('refuses what the host refuses: 401 INVALID_CREDENTIALS', async () => {
    const res = await loginAs('alice@example.com', 'not-her-password').expect(401);
    assert.strictEqual(res.body.error.code, 'INVALID_CREDENTIALS');
    assert.strictEqual((await loginAs('nobody@example.com', 'x').expect(401)).body.error.code, 'INVALID_CREDENTIALS');
  });

  it('still bounds the username: over 64 characters, or with control characters, is VALIDATION_FAILED', async () => {
    calls.length = 0;
    for (const username of [ `${'a'.repeat(60)}@example.com`, 'alice@example.com\nforged log line', '' ]) {
      const res = await loginAs(username, 'whatever').expect(400);
      assert.strictEqual(res.body.error.code, 'VALIDATION_FAILED');
      assert.strictEqual(res.body.error.details.field, 'username');
    }
    assert.deepStrictEqual(calls, [], 'the host function is not called for malformed input');
  });

  it('answers a host function that breaks its contract (no string userId) with 500 INTERNAL, and logs it', async () => {
    const res = await loginAs('broken@example.com', 'broken-secret').expect(500);
    assert.deepStrictEqual(res.body, { ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    await waitFor(() => readLogs(fx.logDir).some(f => f.file.endsWith('common-error.log')
      && f.text.includes('verifyCredentials must resolve to { userId } with an id (1 to 128 characters')), 2000, 'the error in the log');
  });

  for (const [ label, username ] of [ [ 'a 36-character UUID', 'uuid@example.com' ], [ 'a 128-character id', 'long@example.com' ] ] as const) {
    it(`accepts ${label} from the host function, as a session's user and in the presence route`, async () => {
      const { userId } = HOST_USERS[username];
      const res = await loginAs(username, HOST_USERS[username].password).expect(200);
      fx.secrets.add(res.body.token);
      assert.strictEqual(res.body.userId, userId);
      assert.ok(await fx.app.imStore.users.exists(userId));
      const presence = await fx.app.httpRequest().get(`/im/users/${encodeURIComponent(userId)}/presence`)
        .set('Authorization', `Bearer ${res.body.token}`).expect(200);
      assert.deepStrictEqual(presence.body, { userId, online: false, devices: 0 });
    });
  }

  for (const [ label, username ] of [
    [ 'padded', 'padded@example.com' ], [ 'empty', 'empty@example.com' ], [ 'with a control character', 'control@example.com' ],
    [ 'with a zero-width character', 'zerowidth@example.com' ], [ '129 characters long', 'toolong@example.com' ],
  ] as const) {
    it(`answers a host function that resolves to an id ${label} with 500 INTERNAL (its contract broken), and stores nothing`, async () => {
      const res = await loginAs(username, HOST_USERS[username].password).expect(500);
      assert.deepStrictEqual(res.body, { ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
      assert.strictEqual(await fx.app.imStore.users.findByUsername(username), null);
    });
  }

  it('logs a broken id by its length only, never the value', async () => {
    await waitFor(() => readLogs(fx.logDir).some(f => f.file.endsWith('common-error.log')
      && f.text.includes('got a string of 129 characters that is not an id')), 2000, 'the error in the log');
    const logs = readLogs(fx.logDir).map(f => f.text).join('\n');
    assert.ok(!logs.includes('y'.repeat(129)) && !logs.includes('host_padded'), 'a broken id was echoed');
  });

  it('refuses registration when it is turned off: 403 FORBIDDEN', async () => {
    const res = await fx.app.httpRequest().post('/im/auth/register').send({ username: 'newcomer', password: 'password-1' }).expect(403);
    assert.strictEqual(res.body.ok, false);
    assert.strictEqual(res.body.error.code, 'FORBIDDEN');
    assert.strictEqual(await fx.app.imStore.users.findByUsername('newcomer'), null);
  });

  it('logs a host user out like any other', async () => {
    const res = await loginAs('alice@example.com', 'alice-secret', 'laptop').expect(200);
    fx.secrets.add(res.body.token);
    const socket = await connect(fx.url, res.body.token);
    const expired = new Promise(resolve => socket.once('session:expired', resolve));
    try {
      await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${res.body.token}`).expect(204);
      await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${res.body.token}`).expect(401);
      assert.deepStrictEqual(await expired, { sessionId: res.body.sessionId });
    } finally {
      socket.close();
    }
  });

  it('throttles failed attempts per account before calling the host function (default: 5), whatever the spelling', async () => {
    for (let i = 0; i < 5; i++) await loginAs('carol@example.com', `guess-${i}`).expect(401);
    calls.length = 0;
    for (const username of [ 'carol@example.com', 'Carol@Example.com' ]) {
      const res = await loginAs(username, 'carol-secret').expect(429);
      assert.strictEqual(res.body.error.code, 'RATE_LIMITED');
      assert.strictEqual(res.body.error.details.scope, 'login');
      assert.ok(res.body.error.details.retryAfterMs > 0 && res.body.error.details.retryAfterMs <= 15 * 60_000);
      assert.strictEqual(res.headers['retry-after'], String(Math.ceil(res.body.error.details.retryAfterMs / 1000)));
    }
    assert.deepStrictEqual(calls, [], 'the host function was not called for a throttled attempt');
    // another account is not affected
    const ok = await loginAs('alice@example.com', 'alice-secret', 'after-throttle').expect(200);
    fx.secrets.add(ok.body.token);
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
