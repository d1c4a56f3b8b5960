import assert from 'node:assert';
import * as egg from 'egg';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase, registerAndLogin, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { appliedV8Flags, flagsToApply, notGiven } from '../lib/v8Flags';

/** Boots the `basic` fixture on the framework with these environment variables, restoring them afterwards. */
async function boot(env: Record<string, string>): Promise<MockApplication> {
  for (const [ name, value ] of Object.entries(env)) mm(process.env, name, value);
  const app = mm.app({ baseDir: 'apps/basic', framework: true, cache: false } as any);
  await app.ready();
  return app;
}

describe('egg-im framework', () => {
  afterEach(() => mm.restore());

  it('re-exports egg with its own Application and Agent', () => {
    const framework = require('egg-im');
    assert.equal(typeof framework.startCluster, 'function');
    assert.equal(framework.Controller, egg.Controller);
    assert.notEqual(framework.Application, egg.Application);
    assert(framework.Application.prototype instanceof egg.Application);
    assert(framework.Agent.prototype instanceof egg.Agent);
  });

  it('in production behind a proxy, reads the client address the nearest proxy appended, not one the client wrote', () => {
    const prod = require('../config/config.prod').default;
    mm(process.env, 'IM_TRUST_PROXY', 'true');
    assert.deepStrictEqual([ prod().proxy, prod().maxIpsCount ], [ true, 1 ]);
    mm(process.env, 'IM_PROXY_COUNT', '2');
    assert.strictEqual(prod().maxIpsCount, 2);
  });

  describe('V8 flags', () => {
    const ALL = [ '--no-allocation-site-pretenuring', '--heap-growing-percent=200' ];

    it('turns allocation-site pretenuring off and fixes the heap\'s growth, unless node\'s command line sets them', () => {
      assert.deepEqual(flagsToApply([]), ALL);
      assert.deepEqual(flagsToApply([ '--max-semi-space-size=64', '--require', 'ts-node/register' ]), ALL);
      assert.deepEqual(flagsToApply([ '--allocation-site-pretenuring' ]), [ '--heap-growing-percent=200' ]);
      assert.deepEqual(flagsToApply([ '--no_allocation_site_pretenuring' ]), [ '--heap-growing-percent=200' ]);
      assert.deepEqual(flagsToApply([ '--heap-growing-percent=0' ]), [ '--no-allocation-site-pretenuring' ]);
      assert.deepEqual(flagsToApply([ '--heap_growing_percent=50', '--allocation-site-pretenuring' ]), []);
      assert.deepEqual(flagsToApply([ '-heap_growing_percent=0', '--noallocation-site-pretenuring' ]), []);
    });

    it('leaves out of any list the flags node\'s command line already sets (the benchmark\'s start flags too)', () => {
      const start = [ '--max-semi-space-size=64', '--no-memory-reducer' ];
      assert.deepEqual(notGiven(start, [ '--max_semi_space_size=16', '--cpu-prof' ]), [ '--no-memory-reducer' ]);
      assert.deepEqual(notGiven(start, [ '--memory-reducer' ]), [ '--max-semi-space-size=64' ]);
      assert.deepEqual(notGiven(start, []), start);
    });

    it('sets them when the framework is loaded', () => {
      require('egg-im');
      // this test process was started without either flag: the framework set them
      assert.deepEqual(flagsToApply(process.execArgv), ALL);
      assert.deepEqual(appliedV8Flags(), ALL);
    });
  });

  describe('on MySQL and Redis', () => {
    let app: MockApplication;
    let database: { name: string; url: string };

    before(async () => {
      database = await createTestDatabase('fw');
      app = await boot({ IM_DATABASE_URL: database.url, IM_REDIS_URL: TEST_REDIS_URL, TEST_IM_PREFIX: `${uniqueName('fw')}:` });
    });
    after(async () => {
      await app?.close();
      await dropTestDatabase(database.name);
    });

    it('loads the four plugins with the real services', () => {
      for (const name of [ 'imStore', 'imCache', 'imConnection', 'im' ]) {
        assert.equal((app as any).plugins[name].enable, true, name);
      }
      assert.equal(app.imStore.driver, 'mysql');
      assert.equal(app.imCache.mode, 'redis');
    });

    it('logs the V8 flags it set', async () => {
      // egg's file logger writes its buffer out about once a second: the line reaches the file after boot
      await waitFor(() => {
        app.expectLog('[egg-im] V8 flags set by the framework: --no-allocation-site-pretenuring --heap-growing-percent=200', 'coreLogger');
        return true;
      }, 5000, 'the V8 flags line in egg-web.log');
    });

    it('joins socket.io to the other nodes through the Redis adapter', () => {
      // the socket.io server is the connection plugin's own, not part of app.imSockets' API
      const { io } = app.imSockets as unknown as { io: { of(name: string): { adapter: object } } };
      assert.equal(io.of('/').adapter.constructor.name, 'RedisAdapter');
    });

    it('keeps its logs from other users of the machine: no world bits on the folder or its files', async () => {
      const fs = await import('node:fs');
      const path = await import('node:path');
      const dir = app.config.logger.dir;
      assert.equal(fs.statSync(dir).mode & 0o007, 0, `mode of ${dir}`);
      const files = fs.readdirSync(dir);
      assert.ok(files.length > 0);
      for (const name of files) assert.equal(fs.statSync(path.join(dir, name)).mode & 0o007, 0, `mode of ${name}`);
    });

    it('answers /healthz and /readyz', async () => {
      await app.httpRequest().get('/healthz').expect(200, { status: 'ok' });
      const res = await app.httpRequest().get('/readyz').expect(200);
      assert.equal(res.body.status, 'ready');
      assert.equal(res.body.checks.store.ok, true);
      assert.equal(res.body.checks.cache.ok, true);
    });

    it('parses at most 1 MB of JSON before anything looks at a request; a batch reads its own body after the session check', async () => {
      const json = (body: unknown) => JSON.stringify(body);
      const big = json({ username: 'someone', password: 'x'.repeat(2 * 1024 * 1024) });
      const login = await app.httpRequest().post('/im/auth/login').set('Content-Type', 'application/json').send(big).expect(413);
      assert.equal(login.body.error.code, 'PAYLOAD_TOO_LARGE');
      const anonymous = await app.httpRequest().post('/im/messages/batch').set('Content-Type', 'application/json').send(big).expect(401);
      assert.equal(anonymous.body.error.code, 'UNAUTHORIZED');

      const { userId, token } = await registerAndLogin(app, 'batcher');
      const auth = (req: any) => req.set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json');
      // 20 messages of 60 KB: 1.2 MB, over the parser's limit, within the batch's own (100 of 64 KB).
      const messages = Array.from({ length: 20 }, (_, i) => ({
        to: { type: 'user', id: userId }, type: 'text', content: { text: 'y'.repeat(60_000) }, clientMsgId: `big-${i}`,
      }));
      const batch = await auth(app.httpRequest().post('/im/messages/batch')).send(json({ messages })).expect(200);
      assert.equal(batch.body.results.length, 20);
      assert.ok(batch.body.results.every((r: any) => r.ok === true));
      assert.equal((await auth(app.httpRequest().post('/im/messages/batch')).send('{"messages": [').expect(400)).body.error.code, 'VALIDATION_FAILED');
      const tooMany = json({ messages: Array.from({ length: 120 }, () => messages[0]) });
      assert.equal((await auth(app.httpRequest().post('/im/messages/batch')).send(tooMany).expect(413)).body.error.code, 'PAYLOAD_TOO_LARGE');
    });

    it('answers an unknown path under the prefix with NOT_FOUND, token or not', async () => {
      const res = await app.httpRequest().get('/im/no-such-route').expect(404);
      assert.deepEqual(res.body, { ok: false, error: { code: 'NOT_FOUND', message: 'no route for GET /im/no-such-route' } });
      await app.httpRequest().post('/im/no-such-route').set('Authorization', 'Bearer abc').expect(404);
    });
  });

  describe('the embedded default (no IM_DATABASE_URL, no IM_REDIS_URL)', () => {
    let app: MockApplication;
    before(async () => {
      app = await boot({ IM_DATABASE_URL: '', IM_REDIS_URL: '' });
    });
    after(() => app?.close());

    it('runs on SQLite and the in-memory cache, ready', async () => {
      assert.equal(app.imStore.driver, 'better-sqlite3');
      assert.equal(app.imCache.mode, 'memory');
      const res = await app.httpRequest().get('/readyz').expect(200);
      assert.equal(res.body.status, 'ready');
    });
  });

  describe('with Redis unreachable', () => {
    let app: MockApplication;
    let database: { name: string; url: string };
    before(async () => {
      database = await createTestDatabase('fwdeg');
      app = await boot({ IM_DATABASE_URL: database.url, IM_REDIS_URL: 'redis://127.0.0.1:1' });
    });
    after(async () => {
      await app?.close();
      await dropTestDatabase(database.name);
    });

    it('starts and reports degraded (200)', async () => {
      const res = await app.httpRequest().get('/readyz').expect(200);
      assert.equal(res.body.status, 'degraded');
      assert.equal(res.body.checks.store.ok, true);
      assert.equal(res.body.checks.cache.ok, false);
    });
  });

  describe('with a bad configuration', () => {
    it('refuses an unknown store type with a prefixed error', async () => {
      mm(process.env, 'IM_DATABASE_URL', 'postgres://127.0.0.1/im');
      const app = mm.app({ baseDir: 'apps/basic', framework: true, cache: false } as any);
      await assert.rejects(app.ready(), /\[egg-im-store\] unknown store type "postgres"/);
      await app.close();
    });
  });
});
