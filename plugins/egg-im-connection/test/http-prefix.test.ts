import assert from 'node:assert';
import { waitFor } from 'egg-im-testkit';
import { assertNoSecretsInLogs, readLogs, startFixture, type Fixture } from './support/fixture';

/** Starts the http-prefix fixture with `imConnection.http.prefix` and / or the deprecated `im.http.prefix`. */
async function startWith(prefixes: { http?: string; legacy?: string }): Promise<Fixture> {
  if (prefixes.http) process.env.IM_CONN_TEST_HTTP_PREFIX = prefixes.http;
  if (prefixes.legacy) process.env.IM_CONN_TEST_LEGACY_PREFIX = prefixes.legacy;
  try {
    return await startFixture('http-prefix');
  } finally {
    delete process.env.IM_CONN_TEST_HTTP_PREFIX;
    delete process.env.IM_CONN_TEST_LEGACY_PREFIX;
  }
}

describe('egg-im-connection: the HTTP prefix (imConnection.http.prefix)', () => {
  describe('set to /chat/api', () => {
    let fx: Fixture;
    before(async () => {
      fx = await startWith({ http: '/chat/api' });
    });
    after(async () => {
      await fx?.close();
      await assertNoSecretsInLogs(fx);
    });

    it('mounts the routes there, and says so on the sessions API', async () => {
      assert.strictEqual(fx.app.imSessions.prefix, '/chat/api');
      assert.strictEqual(fx.app.config.imConnection.http.prefix, '/chat/api');
      const password = 'prefix-password';
      fx.secrets.add(password);
      const { body: { userId } } = await fx.app.httpRequest().post('/chat/api/auth/register').send({ username: 'prefixed', password }).expect(201);
      const { body: session } = await fx.app.httpRequest().post('/chat/api/auth/login').send({ username: 'prefixed', password }).expect(200);
      fx.secrets.add(session.token);
      assert.strictEqual(session.userId, userId);
      const res = await fx.app.httpRequest().get(`/chat/api/users/${userId}/presence`).set('Authorization', `Bearer ${session.token}`).expect(200);
      assert.strictEqual(res.headers['cache-control'], 'no-store');
    });

    it('answers errors under it with the contract\'s body, and leaves /im to the host app', async () => {
      const res = await fx.app.httpRequest().get('/chat/api/nothing-here').expect(404);
      assert.deepStrictEqual(res.body.error.code, 'NOT_FOUND');
      const outside = await fx.app.httpRequest().post('/im/auth/login').send({ username: 'prefixed', password: 'x' });
      assert.notStrictEqual(outside.status, 200);
      assert.strictEqual(outside.body?.ok, undefined, 'not an egg-im answer');
    });

    it('keeps the deprecated im.http.prefix equal to it while egg-im-router reads that', () => {
      assert.strictEqual(fx.app.config.im.http.prefix, '/chat/api');
    });
  });

  describe('set the old way (im.http.prefix only)', () => {
    let fx: Fixture;
    before(async () => {
      fx = await startWith({ legacy: '/legacy' });
    });
    after(async () => {
      await fx?.close();
    });

    it('takes it, with a deprecation warning', async () => {
      assert.strictEqual(fx.app.imSessions.prefix, '/legacy');
      assert.strictEqual(fx.app.config.imConnection.http.prefix, '/legacy');
      const res = await fx.app.httpRequest().post('/legacy/auth/login').send({}).expect(400);
      assert.strictEqual(res.body.error.code, 'VALIDATION_FAILED');
      await waitFor(() => readLogs(fx.logDir).some(f => f.text.includes(
        '[egg-im-connection] config.im.http.prefix is deprecated: set config.imConnection.http.prefix ("/legacy") instead')), 3000, 'the warning');
    });
  });

  describe('set both ways', () => {
    let fx: Fixture;
    before(async () => {
      fx = await startWith({ http: '/new', legacy: '/old' });
    });
    after(async () => {
      await fx?.close();
    });

    it('uses imConnection.http.prefix and says the old one is ignored', async () => {
      assert.strictEqual(fx.app.imSessions.prefix, '/new');
      assert.strictEqual(fx.app.config.im.http.prefix, '/new');
      await fx.app.httpRequest().post('/new/auth/login').send({}).expect(400);
      await waitFor(() => readLogs(fx.logDir).some(f => f.text.includes(
        '[egg-im-connection] config.im.http.prefix ("/old") is deprecated and ignored: config.imConnection.http.prefix ("/new") is used')), 3000, 'the warning');
    });
  });
});
