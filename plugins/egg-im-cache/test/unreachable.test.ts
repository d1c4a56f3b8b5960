import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import type { RedisClientType } from 'redis';
import { freeTcpPort, startRedisServer, uniqueName, waitFor, type ThrowawayRedis } from 'egg-im-testkit';
import { DEGRADED_LINE, RESTORED_LINE, capturedCoreLog, count, directRedis, freshLogs, readCoreLog } from './support/helpers';
import { redisClientOf } from '../lib/ImCache';

describe('egg-im-cache: redis unreachable at start', () => {
  const prefix = `${uniqueName('cache_unreach')}:`;
  let port: number;
  let app: MockApplication;
  let server: ThrowawayRedis | undefined;
  let direct: RedisClientType | undefined;

  before(async () => {
    port = await freeTcpPort(); // nothing listens there
    process.env.IM_CACHE_TEST_UNREACHABLE_URL = `redis://127.0.0.1:${port}`;
    process.env.IM_CACHE_TEST_PREFIX = prefix;
    freshLogs('unreachable');
    app = mm.app({ baseDir: 'apps/unreachable', cache: false });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await direct?.close();
    await server?.dispose();
    delete process.env.IM_CACHE_TEST_UNREACHABLE_URL;
    delete process.env.IM_CACHE_TEST_PREFIX;
  });

  it('starts anyway, degraded, and says so once', async () => {
    const c = app.imCache;
    assert.strictEqual(c.mode, 'redis');
    assert.strictEqual(c.degraded, true);
    const client = redisClientOf(c);
    assert.ok(client, 'the client exists and keeps reconnecting');
    assert.strictEqual(client.isReady, false);
    const log = await waitFor(() => {
      const text = readCoreLog(app);
      return text.includes(DEGRADED_LINE) ? text : '';
    }, 5000, 'the degraded line in the core log');
    assert.strictEqual(count(log, DEGRADED_LINE), 1);
    assert.ok(!log.includes(RESTORED_LINE));
  });

  it('reports not ready from check() without throwing', async () => {
    const check = await app.imCache.check();
    assert.strictEqual(check.ok, false);
    assert.strictEqual(check.mode, 'redis');
    assert.strictEqual(check.degraded, true);
    assert.strictEqual(typeof check.error, 'string');
  });

  it('serves every operation from memory meanwhile', async () => {
    const c = app.imCache;
    const k = c.key('session', 'during');
    await c.set(k, 'u1', 60_000);
    assert.strictEqual(await c.get(k), 'u1');
    await c.setJson(c.key('member', 'g1'), [ 'u1' ], 60_000);
    assert.deepStrictEqual(await c.getJson(c.key('member', 'g1')), [ 'u1' ]);
    assert.deepStrictEqual(await c.mget([ k, c.key('x', 'missing') ]), [ 'u1', undefined ]);
    assert.strictEqual(await c.listPush(c.key('hist', 'c'), [ '1', '2', '3' ], 2, 60_000), 2);
    assert.deepStrictEqual(await c.listRange(c.key('hist', 'c'), 0, -1), [ '2', '3' ]);
    await c.del(c.key('member', 'g1'));
    assert.strictEqual(await c.get(c.key('member', 'g1')), undefined);
    assert.ok(c.memoryStats().entries >= 2);
    assert.strictEqual(c.degraded, true);
  });

  it('keeps reconnecting and is restored once Redis appears, without serving what it wrote meanwhile', async () => {
    const c = app.imCache;
    app.mockLog(app.coreLogger);
    let restoredEvents = 0;
    c.on('restored', () => restoredEvents++);
    server = await startRedisServer({ port });
    await waitFor(() => !c.degraded, 5000, 'the cache to be restored');
    assert.strictEqual(restoredEvents, 1);
    assert.strictEqual(c.memoryStats().entries, 0, 'the fallback was cleared');
    // what was written to the fallback is not served any more (a miss, never stale)
    assert.strictEqual(await c.get(c.key('session', 'during')), undefined);
    assert.deepStrictEqual((await c.check()).ok, true);

    // and new writes go to Redis
    direct = await directRedis(server.url);
    await c.set(c.key('session', 'after'), 'u2', 60_000);
    assert.strictEqual(await direct.get(`${prefix}session:after`), 'u2');
    assert.ok(await direct.pTTL(`${prefix}session:after`) > 0);
    const log = capturedCoreLog(app);
    assert.strictEqual(count(log, RESTORED_LINE), 1);
    assert.strictEqual(count(log, DEGRADED_LINE), 0);
  });
});
