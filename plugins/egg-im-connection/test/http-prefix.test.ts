import assert from 'node:assert';
import { assertNoSecretsInLogs, startFixture, type Fixture } from './support/fixture';

/** Starts the http-prefix fixture with `imConnection.http.prefix`. */
async function startWith(prefixes: { http: string }): Promise<Fixture> {
  process.env.IM_CONN_TEST_HTTP_PREFIX = prefixes.http;
  try {
    return await startFixture('http-prefix');
  } finally {
    delete process.env.IM_CONN_TEST_HTTP_PREFIX;
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
  });
});
