import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import type { RedisClientType } from 'redis';
import { TEST_REDIS_URL, uniqueName } from 'egg-im-testkit';
import { behavesAsACache } from './support/behaviour';
import { deletePrefix, directRedis, keysUnder } from './support/helpers';

describe('egg-im-cache: redis mode', () => {
  const prefix = `${uniqueName('cache')}:`;
  let app: MockApplication;
  let redis: RedisClientType;

  before(async () => {
    process.env.IM_CACHE_TEST_REDIS_URL = TEST_REDIS_URL;
    process.env.IM_CACHE_TEST_PREFIX = prefix;
    redis = await directRedis(TEST_REDIS_URL);
    app = mm.app({ baseDir: 'apps/redis', cache: false });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      assert.deepStrictEqual(await keysUnder(redis, prefix), [], 'the test left keys behind');
      await redis.close();
    }
    delete process.env.IM_CACHE_TEST_REDIS_URL;
    delete process.env.IM_CACHE_TEST_PREFIX;
  });

  it('is in redis mode, connected, and healthy', async () => {
    assert.strictEqual(app.imCache.mode, 'redis');
    assert.strictEqual(app.imCache.degraded, false);
    assert.strictEqual(app.imCache.prefix, prefix);
    assert.ok(app.imCache.redis?.isReady);
    const check = await app.imCache.check();
    assert.strictEqual(check.ok, true);
    assert.strictEqual(check.mode, 'redis');
    assert.strictEqual(check.degraded, false);
    assert.strictEqual(typeof check.latencyMs, 'number');
    assert.strictEqual(check.error, undefined);
  });

  behavesAsACache(() => app);

  it('writes to the real server, with a TTL on every key', async () => {
    const c = app.imCache;
    await c.set(c.key('session', 'h1'), 'u1', 60_000);
    await c.setJson(c.key('member', 'conv1'), [ 'u1', 'u2' ], 30_000);
    await c.listPush(c.key('hist', 'conv2'), [ 'm1', 'm2' ], 10, 45_000);
    assert.strictEqual(await redis.get(`${prefix}session:h1`), 'u1');
    assert.strictEqual(await redis.get(`${prefix}member:conv1`), '["u1","u2"]');
    assert.deepStrictEqual(await redis.lRange(`${prefix}hist:conv2`, 0, -1), [ 'm1', 'm2' ]);

    // every key this suite has written so far, whatever wrote it
    const keys = await keysUnder(redis, prefix);
    assert.ok(keys.length >= 3, `expected keys under ${prefix}, got ${keys.length}`);
    for (const key of keys) {
      const pttl = await redis.pTTL(key);
      assert.ok(pttl > 0, `${key} has no TTL (PTTL ${pttl})`);
    }
    const sessionTtl = await redis.pTTL(`${prefix}session:h1`);
    assert.ok(sessionTtl > 55_000 && sessionTtl <= 60_000, `PTTL ${sessionTtl}`);
  });

  it('trims the list window on the server to maxLen and refreshes its TTL', async () => {
    const c = app.imCache;
    const key = c.key('hist', 'window');
    for (let i = 0; i < 25; i++) {
      await c.listPush(key, [ `a${i}`, `b${i}` ], 20, 10_000 + i * 1000);
      assert.ok(await redis.lLen(key) <= 20);
    }
    assert.strictEqual(await redis.lLen(key), 20);
    const items = await redis.lRange(key, 0, -1);
    assert.strictEqual(items[0], 'a15');
    assert.strictEqual(items[19], 'b24');
    assert.deepStrictEqual(await c.listRange(key, 0, -1), items);
    const pttl = await redis.pTTL(key);
    assert.ok(pttl > 30_000, `the last push set the TTL again (PTTL ${pttl})`);
  });

  it('deletes on the server', async () => {
    const c = app.imCache;
    const key = c.key('presence', 'u9');
    await c.set(key, 'online', 60_000);
    assert.strictEqual(await redis.exists(key), 1);
    await c.del(key);
    assert.strictEqual(await redis.exists(key), 0);
  });

  it('exposes a client that can be duplicated (as the socket.io adapter will)', async () => {
    const base = app.imCache.redis;
    assert.ok(base);
    const copy = base.duplicate();
    copy.on('error', () => {
      // a duplicate needs its own error listener
    });
    await copy.connect();
    try {
      assert.strictEqual(await copy.ping(), 'PONG');
    } finally {
      await copy.close();
    }
  });

  it('closes its client with the app', async () => {
    const other = mm.app({ baseDir: 'apps/redis', cache: false });
    await other.ready();
    const client = other.imCache.redis;
    assert.ok(client?.isReady);
    await other.close();
    assert.strictEqual(client.isOpen, false);
  });
});
