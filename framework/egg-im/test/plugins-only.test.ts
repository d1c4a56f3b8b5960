import assert from 'node:assert';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase, login, register, TEST_REDIS_URL, uniqueName } from 'egg-im-testkit';

// An Egg app with a framework of its own (plain egg here) enables egg-im's plugins in its config/plugin.ts
// (test/fixtures/apps/plugins-only), the egg-im package among them for the probes.
describe('egg-im without its framework: the plugins in a host app\'s config/plugin.ts', () => {
  let app: MockApplication;
  let database: { name: string; url: string };

  before(async () => {
    database = await createTestDatabase('plugonly');
    mm(process.env, 'IM_DATABASE_URL', database.url);
    mm(process.env, 'IM_REDIS_URL', TEST_REDIS_URL);
    mm(process.env, 'TEST_IM_PREFIX', `${uniqueName('plugonly')}:`);
    app = mm.app({ baseDir: 'apps/plugins-only', framework: path.dirname(require.resolve('egg/package.json')), cache: false } as any);
    await app.ready();
  });
  after(async () => {
    await app?.close();
    mm.restore();
    await dropTestDatabase(database.name);
  });

  it('runs on plain egg, with every plugin and the egg-im package as one', () => {
    assert(!(app instanceof require('egg-im').Application), 'not the egg-im framework');
    for (const name of [ 'imStore', 'imCache', 'imConnection', 'im', 'imHealth' ]) assert.equal((app as any).plugins[name].enable, true, name);
    assert.equal(app.imStore.driver, 'mysql');
    assert.equal(app.imCache.mode, 'redis');
  });

  it('serves /healthz and /readyz', async () => {
    await app.httpRequest().get('/healthz').expect(200, { status: 'ok' });
    const ready = await app.httpRequest().get('/readyz').expect(200);
    assert.equal(ready.body.status, 'ready');
    assert.equal(ready.body.checks.store.driver, 'mysql');
  });

  it('serves the API: a message from one user to another', async () => {
    const alice = await login(app, await register(app, 'alice'));
    const bob = await register(app, 'bob');
    const res = await app.httpRequest().post('/im/messages').set('Authorization', `Bearer ${alice.token}`)
      .send({ to: { type: 'user', id: bob.userId }, type: 'text', content: { text: 'hi' }, clientMsgId: 'c1' }).expect(201);
    const status = await app.im.status(res.body.message.id);
    assert.equal(status.recipients[0].userId, bob.userId);
  });
});
