import assert from 'node:assert';
import { createHash } from 'node:crypto';
import { login, register, registerAndLogin } from 'egg-im-testkit';
import { keysUnder } from 'egg-im-testkit/lib/redisKeys';
import { assertNoSecretsInLogs, startFixture, type Fixture } from './support/fixture';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The contract's error body: `{ ok: false, error: { code, message, details? } }`. */
function assertError(body: any, code: string, field?: string): void {
  assert.strictEqual(body.ok, false, JSON.stringify(body));
  assert.strictEqual(body.error.code, code, JSON.stringify(body));
  assert.strictEqual(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.deepStrictEqual(Object.keys(body.error).filter(k => ![ 'code', 'message', 'details' ].includes(k)), []);
  if (field !== undefined) assert.strictEqual(body.error.details?.field, field, JSON.stringify(body));
}

describe('egg-im-connection: register, login, logout (built-in users)', () => {
  let fx: Fixture;

  before(async () => {
    fx = await startFixture('auth');
  });
  after(async () => {
    await fx?.close();
  });

  const post = (path: string, body: unknown) => fx.app.httpRequest().post(path).send(body as object);

  describe('register', () => {
    it('creates a user and stores only a scrypt hash of the password, at the configured cost', async () => {
      const res = await post('/im/auth/register', { username: 'alice.b-c_1', password: 'correct horse' }).expect(201);
      assert.deepStrictEqual(Object.keys(res.body), [ 'userId' ]);
      assert.strictEqual(typeof res.body.userId, 'string');
      fx.secrets.add('correct horse');
      const user = await fx.app.imStore.users.findById(res.body.userId);
      assert.ok(user);
      assert.strictEqual(user.username, 'alice.b-c_1');
      // scrypt$N$r$p$salt$key with the fixture's cost (N=1024), never the password itself
      assert.match(user.passwordHash!, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      assert.ok(!user.passwordHash!.includes('correct horse'));
    });

    it('salts every hash: two users with one password get different hashes', async () => {
      const a = await post('/im/auth/register', { username: 'salt_a', password: 'same password' }).expect(201);
      const b = await post('/im/auth/register', { username: 'salt_b', password: 'same password' }).expect(201);
      const [ ua, ub ] = await Promise.all([ fx.app.imStore.users.findById(a.body.userId), fx.app.imStore.users.findById(b.body.userId) ]);
      assert.notStrictEqual(ua!.passwordHash, ub!.passwordHash);
    });

    it('refuses a username that is taken: 409 USERNAME_TAKEN', async () => {
      await post('/im/auth/register', { username: 'taken_name', password: 'password-1' }).expect(201);
      const res = await post('/im/auth/register', { username: 'taken_name', password: 'password-2' }).expect(409);
      assertError(res.body, 'USERNAME_TAKEN', 'username');
    });

    for (const [ label, username ] of [
      [ 'too short', 'ab' ],
      [ 'too long', 'x'.repeat(33) ],
      [ 'with a space', 'has space' ],
      [ 'with a slash', 'a/b/c' ],
      [ 'non-ASCII', 'ünïcode' ],
      [ 'not a string', 12345 ],
      [ 'missing', undefined ],
    ] as const) {
      it(`refuses a username ${label}: 400 VALIDATION_FAILED`, async () => {
        const res = await post('/im/auth/register', { username, password: 'password-ok' }).expect(400);
        assertError(res.body, 'VALIDATION_FAILED', 'username');
      });
    }

    for (const [ label, password ] of [
      [ 'shorter than minPasswordLength (8)', 'short' ],
      [ 'longer than 1024 characters', 'p'.repeat(1025) ],
      [ 'not a string', 12345678 ],
      [ 'missing', undefined ],
    ] as const) {
      it(`refuses a password ${label}: 400 VALIDATION_FAILED`, async () => {
        const res = await post('/im/auth/register', { username: 'valid_name', password }).expect(400);
        assertError(res.body, 'VALIDATION_FAILED', 'password');
      });
    }

    it('answers a body that is not a JSON object, or not JSON at all, with VALIDATION_FAILED', async () => {
      assertError((await post('/im/auth/register', [ 'alice', 'password' ]).expect(400)).body, 'VALIDATION_FAILED');
      const res = await fx.app.httpRequest().post('/im/auth/login')
        .set('content-type', 'application/json').send('{"username":"alice","password":"broken json secret"').expect(400);
      assertError(res.body, 'VALIDATION_FAILED');
      // the body parser's error carries the raw body: it must not reach the logs
      fx.secrets.add('broken json secret');
    });
  });

  describe('login', () => {
    it('creates a session: an opaque token, a session id, the device id and an expiry a week away', async () => {
      const user = await register(fx.app, 'login');
      const before = Date.now();
      const res = await post('/im/auth/login', { username: user.username, password: user.password, deviceId: 'phone-1' }).expect(200);
      fx.secrets.add(res.body.token).add(user.password);
      assert.deepStrictEqual(Object.keys(res.body).sort(), [ 'deviceId', 'expiresAt', 'sessionId', 'token', 'userId' ]);
      assert.strictEqual(res.body.userId, user.userId);
      assert.strictEqual(res.body.deviceId, 'phone-1');
      assert.match(res.body.token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
      assert.strictEqual(typeof res.body.sessionId, 'string');
      const expiresAt = Date.parse(res.body.expiresAt);
      assert.strictEqual(new Date(expiresAt).toISOString(), res.body.expiresAt);
      const week = 7 * 24 * 3600 * 1000;
      assert.ok(expiresAt >= before + week && expiresAt <= Date.now() + week, res.body.expiresAt);
    });

    it('stores only the hash of the token, in MySQL and in the Redis cache', async () => {
      const session = await registerAndLogin(fx.app, 'hash');
      fx.secrets.add(session.token);
      const row = await fx.app.imStore.sessions.findById(session.sessionId);
      assert.ok(row);
      assert.strictEqual(row.tokenHash, sha256(session.token));
      assert.strictEqual(row.userId, session.userId);
      assert.strictEqual(row.deviceId, session.deviceId);
      assert.strictEqual(row.expiresAt.toISOString(), session.expiresAt);
      assert.strictEqual(row.revokedAt, null);
      assert.ok(!Object.values(row).some(value => String(value).includes(session.token)));

      const keys = await keysUnder(fx.prefix);
      const cached = keys.find(k => k.key === `${fx.prefix}session:${sha256(session.token)}`);
      assert.ok(cached, 'the session is cached in Redis by the hash of its token');
      assert.deepStrictEqual(JSON.parse(cached.value!), {
        sessionId: session.sessionId, userId: session.userId, deviceId: session.deviceId, expiresAt: Date.parse(session.expiresAt),
      });
      for (const { key, value } of keys) {
        assert.ok(!key.includes(session.token) && !value?.includes(session.token), `${key} holds the token`);
      }
    });

    it('gives a device id when the client sends none, and refuses a malformed one', async () => {
      const user = await register(fx.app, 'device');
      const res = await post('/im/auth/login', { username: user.username, password: user.password }).expect(200);
      fx.secrets.add(res.body.token);
      assert.match(res.body.deviceId, /^dev_[A-Za-z0-9_-]{12}$/);
      for (const deviceId of [ '', 'has space', 'x'.repeat(65), 42, null ]) {
        const bad = await post('/im/auth/login', { username: user.username, password: user.password, deviceId }).expect(400);
        assertError(bad.body, 'VALIDATION_FAILED', 'deviceId');
      }
    });

    it('keeps many sessions per user, one per device, each usable on its own', async () => {
      const user = await register(fx.app, 'many');
      const logins = await Promise.all([ 'phone', 'laptop', 'tablet' ].map(device => login(fx.app, user, device)));
      for (const l of logins) fx.secrets.add(l.token);
      assert.strictEqual(new Set(logins.map(l => l.sessionId)).size, 3);
      assert.strictEqual(new Set(logins.map(l => l.token)).size, 3);
      for (const l of logins) {
        const res = await fx.app.httpRequest().get(`/im/users/${user.userId}/presence`).set('Authorization', `Bearer ${l.token}`).expect(200);
        assert.strictEqual(res.body.userId, user.userId);
      }
    });

    it('refuses a wrong password, and an unknown user, with the same 401 INVALID_CREDENTIALS', async () => {
      const user = await register(fx.app, 'wrongpw');
      fx.secrets.add(user.password);
      const wrong = await post('/im/auth/login', { username: user.username, password: `${user.password}x` }).expect(401);
      assertError(wrong.body, 'INVALID_CREDENTIALS');
      const unknown = await post('/im/auth/login', { username: 'nobody_here', password: 'whatever-password' }).expect(401);
      assertError(unknown.body, 'INVALID_CREDENTIALS');
      assert.strictEqual(unknown.body.error.message, wrong.body.error.message);
    });

    it('validates the username and password of a login: 400 VALIDATION_FAILED', async () => {
      assertError((await post('/im/auth/login', { username: 'a b', password: 'password' }).expect(400)).body, 'VALIDATION_FAILED', 'username');
      assertError((await post('/im/auth/login', { username: 'someone', password: '' }).expect(400)).body, 'VALIDATION_FAILED', 'password');
    });
  });

  describe('logout and bearer authentication', () => {
    it('revokes one session (204): its token is refused afterwards, the same user\'s other session still works', async () => {
      const user = await register(fx.app, 'logout');
      const [ a, b ] = [ await login(fx.app, user, 'a'), await login(fx.app, user, 'b') ];
      fx.secrets.add(a.token).add(b.token);
      const res = await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${a.token}`).expect(204);
      assert.strictEqual(res.text, '');
      const row = await fx.app.imStore.sessions.findById(a.sessionId);
      assert.ok(row?.revokedAt instanceof Date, 'stored as revoked');
      const refused = await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${a.token}`).expect(401);
      assertError(refused.body, 'UNAUTHORIZED');
      await fx.app.httpRequest().get(`/im/users/${user.userId}/presence`).set('Authorization', `Bearer ${b.token}`).expect(200);
      // the cache entry is gone: Redis has no session under a's hash any more
      const keys = await keysUnder(fx.prefix);
      assert.ok(!keys.some(k => k.key === `${fx.prefix}session:${sha256(a.token)}`));
    });

    it('refuses a revoked token even when a stale copy of the session is cached again after the logout', async () => {
      const session = await registerAndLogin(fx.app, 'stale');
      fx.secrets.add(session.token);
      const cacheKey = fx.app.imCache.key('session', sha256(session.token));
      const cached = await fx.app.imCache.get(cacheKey);
      assert.ok(cached);
      await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${session.token}`).expect(204);
      // what a node that read the session just before the revocation would write just after it
      await fx.app.imCache.set(cacheKey, cached, 60_000);
      const res = await fx.app.httpRequest().get(`/im/users/${session.userId}/presence`).set('Authorization', `Bearer ${session.token}`).expect(401);
      assertError(res.body, 'UNAUTHORIZED');
    });

    for (const [ label, header ] of [
      [ 'missing', undefined ],
      [ 'empty', '' ],
      [ 'not a bearer scheme', 'Basic dXNlcjpwYXNz' ],
      [ 'a bearer without a token', 'Bearer' ],
      [ 'a bearer of garbage', 'Bearer not-a-real-token' ],
      [ 'a bearer of an over-long token', `Bearer ${'a'.repeat(300)}` ],
    ] as const) {
      it(`answers logout and presence with ${label} Authorization: 401 UNAUTHORIZED`, async () => {
        for (const req of [ fx.app.httpRequest().post('/im/auth/logout'), fx.app.httpRequest().get('/im/users/someone/presence') ]) {
          if (header !== undefined) req.set('Authorization', header);
          const res = await req.expect(401);
          assertError(res.body, 'UNAUTHORIZED');
        }
      });
    }

    for (const [ label, userId ] of [
      [ 'padded at the end', 'someone ' ], [ 'padded at the start', ' someone' ], [ 'a lone space', ' ' ],
      [ 'with a NUL', 'some\u0000one' ], [ 'with a newline', 'some\none' ], [ 'with a zero-width space', 'some\u200bone' ],
      [ '129 characters long', 'z'.repeat(129) ],
    ] as const) {
      it(`refuses a presence user id ${label}: 400 VALIDATION_FAILED (field userId)`, async () => {
        const session = await registerAndLogin(fx.app, 'idshape');
        fx.secrets.add(session.token);
        const res = await fx.app.httpRequest().get(`/im/users/${encodeURIComponent(userId)}/presence`)
          .set('Authorization', `Bearer ${session.token}`).expect(400);
        assertError(res.body, 'VALIDATION_FAILED', 'userId');
      });
    }

    it('answers an unknown path under the prefix with 404 NOT_FOUND', async () => {
      assertError((await fx.app.httpRequest().get('/im/auth/nothing').expect(404)).body, 'NOT_FOUND');
    });
  });

  describe('private answers', () => {
    const noStore = (res: { headers: Record<string, string> }, what: string) =>
      assert.strictEqual(res.headers['cache-control'], 'no-store', `${what}: Cache-Control ${res.headers['cache-control']}`);

    it('says Cache-Control: no-store on every answer under the prefix: login, register, presence, logout', async () => {
      const reg = await post('/im/auth/register', { username: 'nostore_1', password: 'nostore-password' }).expect(201);
      noStore(reg, 'register');
      fx.secrets.add('nostore-password');
      const res = await post('/im/auth/login', { username: 'nostore_1', password: 'nostore-password' }).expect(200);
      fx.secrets.add(res.body.token);
      noStore(res, 'login');
      const pres = await fx.app.httpRequest().get(`/im/users/${reg.body.userId}/presence`).set('Authorization', `Bearer ${res.body.token}`).expect(200);
      noStore(pres, 'presence');
      noStore(await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${res.body.token}`).expect(204), 'logout');
    });

    it('says it on error answers too: wrong password, validation, unauthorized, unknown path, bad JSON', async () => {
      noStore(await post('/im/auth/login', { username: 'nostore_1', password: 'wrong-password' }).expect(401), 'INVALID_CREDENTIALS');
      noStore(await post('/im/auth/login', { username: 'a b', password: 'x' }).expect(400), 'VALIDATION_FAILED');
      noStore(await fx.app.httpRequest().get('/im/users/someone/presence').expect(401), 'UNAUTHORIZED');
      noStore(await fx.app.httpRequest().get('/im/nothing/here').expect(404), 'NOT_FOUND');
      noStore(await fx.app.httpRequest().post('/im/auth/login').set('content-type', 'application/json').send('{"a":').expect(400), 'bad JSON');
    });
  });

  // Last (mocha runs a suite's own tests before its child suites): closes the app, so the logs are complete.
  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
