import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import type { RedisClientType } from 'redis';
import { TEST_REDIS_URL, sleep, startRedisServer, uniqueName, waitFor, type ThrowawayRedis } from 'egg-im-testkit';
import { capturedCoreLog, count, DEGRADED_LINE, deletePrefix, directRedis, keysUnder } from './support/helpers';
import { redisClientOf } from '../lib/ImCache';

const refusedWithin = (decision: { allowed: boolean; retryAfterMs?: number }, maxMs: number) => {
  assert.strictEqual(decision.allowed, false, JSON.stringify(decision));
  const { retryAfterMs } = decision as { retryAfterMs: number };
  assert.ok(Number.isInteger(retryAfterMs) && retryAfterMs > 0 && retryAfterMs <= maxMs, `retryAfterMs ${retryAfterMs}`);
};

describe('egg-im-cache: rate limiters', () => {
  describe('on Redis, shared by two nodes (two apps on one prefix)', () => {
    const prefix = `${uniqueName('cache_limit')}:`;
    let a: MockApplication;
    let b: MockApplication;
    let redis: RedisClientType;

    before(async () => {
      process.env.IM_CACHE_TEST_REDIS_URL = TEST_REDIS_URL;
      process.env.IM_CACHE_TEST_PREFIX = prefix;
      redis = await directRedis(TEST_REDIS_URL);
      a = mm.app({ baseDir: 'apps/redis', cache: false });
      b = mm.app({ baseDir: 'apps/redis', cache: false });
      await Promise.all([ a.ready(), b.ready() ]);
    });

    after(async () => {
      await a?.close();
      await b?.close();
      if (redis) {
        await deletePrefix(redis, prefix);
        await redis.close();
      }
      delete process.env.IM_CACHE_TEST_REDIS_URL;
      delete process.env.IM_CACHE_TEST_PREFIX;
    });

    it('counts one key once across both nodes, in Redis under the prefix with a TTL', async () => {
      const onA = a.imCache.limiter('shared', { points: 3, durationMs: 60_000 });
      const onB = b.imCache.limiter('shared', { points: 3, durationMs: 60_000 });
      assert.deepStrictEqual(await onA.consume('alice'), { allowed: true, remaining: 2 });
      assert.deepStrictEqual(await onB.consume('alice'), { allowed: true, remaining: 1 });
      assert.deepStrictEqual(await onA.consume('alice'), { allowed: true, remaining: 0 });
      refusedWithin(await onB.consume('alice'), 60_000);
      refusedWithin(await onA.consume('alice'), 60_000);
      // another key has its own count
      assert.deepStrictEqual(await onB.consume('bob'), { allowed: true, remaining: 2 });

      const key = `${prefix}rl:shared:alice`;
      assert.deepStrictEqual((await keysUnder(redis, `${prefix}rl:shared:`)), [ key, `${prefix}rl:shared:bob` ].sort());
      assert.strictEqual(await redis.get(key), '5', 'the refused attempts count too');
      const pttl = await redis.pTTL(key);
      assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);
      assert.strictEqual(onA.memoryKeys + onB.memoryKeys, 0, 'nothing was counted in memory');
    });

    it('blocks a key that went over for blockDurationMs, on every node', async () => {
      const onA = a.imCache.limiter('block', { points: 2, durationMs: 1000, blockDurationMs: 30_000 });
      const onB = b.imCache.limiter('block', { points: 2, durationMs: 1000, blockDurationMs: 30_000 });
      await onA.consume('k');
      await onB.consume('k');
      const first = await onA.consume('k');
      refusedWithin(first, 30_000);
      assert.ok((first as { retryAfterMs: number }).retryAfterMs > 1000, 'the block, not the 1 s window');
      await sleep(1200); // the window has ended, the block has not
      refusedWithin(await onB.consume('k'), 30_000);
    });

    it('forgets a key on delete (count and block), and gives points back on reward, for every node', async () => {
      const onA = a.imCache.limiter('forget', { points: 2, durationMs: 60_000, blockDurationMs: 60_000 });
      const onB = b.imCache.limiter('forget', { points: 2, durationMs: 60_000, blockDurationMs: 60_000 });
      await onA.consume('k', 2);
      refusedWithin(await onB.consume('k'), 60_000);
      await onA.delete('k');
      assert.strictEqual(await redis.exists(`${prefix}rl:forget:k`), 0);
      assert.deepStrictEqual(await onB.consume('k'), { allowed: true, remaining: 1 });
      await onB.reward('k');
      assert.deepStrictEqual(await onA.consume('k'), { allowed: true, remaining: 1 });
    });

    it('refuses bad names and options with an [egg-im-cache] assertion, and keys it cannot use', async () => {
      const c = a.imCache;
      assert.throws(() => c.limiter('', { points: 1, durationMs: 1000 }), /\[egg-im-cache\] a limiter name is/);
      assert.throws(() => c.limiter('has space', { points: 1, durationMs: 1000 }), /\[egg-im-cache\] a limiter name is/);
      assert.throws(() => c.limiter('x', { points: 0, durationMs: 1000 }), /\[egg-im-cache\] limiter "x" points must be a positive integer/);
      assert.throws(() => c.limiter('x', { points: 1.5, durationMs: 1000 }), /points must be a positive integer/);
      for (const durationMs of [ 0, 500, 1500, -1000, Number.NaN ]) {
        assert.throws(() => c.limiter('x', { points: 1, durationMs }), /\[egg-im-cache\] limiter "x" durationMs must be a whole number of seconds/);
      }
      assert.throws(() => c.limiter('x', { points: 1, durationMs: 1000, blockDurationMs: 250 }), /blockDurationMs must be 0 or a whole number of seconds/);
      assert.throws(() => c.limiter('x', { points: 1, durationMs: 1000, maxKeys: 0 }), /maxKeys must be a positive integer/);
      const limiter = c.limiter('x', { points: 1, durationMs: 1000 });
      await assert.rejects(limiter.consume(''), /\[egg-im-cache\] limiter "x" keys are strings of 1 to 512 characters/);
      await assert.rejects(limiter.consume('k'.repeat(513)), /keys are strings/);
      await assert.rejects(limiter.consume('k', 0), /points per call must be a positive integer/);
    });

    it('hands out no Redis client', () => {
      const limiter = a.imCache.limiter('opaque', { points: 1, durationMs: 1000 }) as unknown as Record<string, unknown>;
      const visible = [ ...Object.keys(limiter), ...Object.getOwnPropertyNames(Object.getPrototypeOf(limiter)) ];
      for (const name of visible) {
        const value = (limiter as Record<string, unknown>)[name];
        assert.ok(value !== redisClientOf(a.imCache) && !(value && typeof value === 'object' && 'sendCommand' in value), `${name} is a Redis client`);
      }
    });
  });

  describe('in memory mode', () => {
    let app: MockApplication;

    before(async () => {
      app = mm.app({ baseDir: 'apps/memory', cache: false });
      await app.ready();
    });

    after(() => app?.close());

    it('counts per key in this process, with windows and blocks', async () => {
      const limiter = app.imCache.limiter('mem', { points: 2, durationMs: 1000 });
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 1 });
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 0 });
      refusedWithin(await limiter.consume('k'), 1000);
      assert.deepStrictEqual(await limiter.consume('other'), { allowed: true, remaining: 1 });
      await sleep(1100);
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 1 }, 'a new window');

      const blocking = app.imCache.limiter('mem-block', { points: 1, durationMs: 1000, blockDurationMs: 5000 });
      await blocking.consume('k');
      const refused = await blocking.consume('k');
      refusedWithin(refused, 5000);
      assert.ok((refused as { retryAfterMs: number }).retryAfterMs > 1000);
      await blocking.delete('k');
      assert.deepStrictEqual(await blocking.consume('k'), { allowed: true, remaining: 0 });
    });

    it('keeps at most maxKeys keys: the least recently used one is forgotten', async () => {
      const limiter = app.imCache.limiter('bounded', { points: 1, durationMs: 60_000, maxKeys: 10 });
      await limiter.consume('victim');
      refusedWithin(await limiter.consume('victim'), 60_000);
      for (let i = 0; i < 1000; i++) await limiter.consume(`flood-${i}`);
      assert.strictEqual(limiter.memoryKeys, 10);
      assert.deepStrictEqual(await limiter.consume('victim'), { allowed: true, remaining: 0 }, 'evicted, so counted anew');
    });

    it('defaults maxKeys to the cache\'s memory.maxEntries', async () => {
      const limiter = app.imCache.limiter('default-bound', { points: 1, durationMs: 1000 });
      for (let i = 0; i < 50; i++) await limiter.consume(`k${i}`);
      assert.strictEqual(limiter.memoryKeys, 50);
    });
  });

  describe('while Redis fails', () => {
    const prefix = `${uniqueName('cache_limit_out')}:`;
    let server: ThrowawayRedis;
    let app: MockApplication;

    before(async () => {
      server = await startRedisServer();
      process.env.IM_CACHE_TEST_OUTAGE_URL = server.url;
      process.env.IM_CACHE_TEST_PREFIX = prefix;
      app = mm.app({ baseDir: 'apps/outage', cache: false });
      await app.ready();
      app.mockLog(app.coreLogger);
    });

    after(async () => {
      server?.resume();
      await app?.close();
      await server?.dispose();
      delete process.env.IM_CACHE_TEST_OUTAGE_URL;
      delete process.env.IM_CACHE_TEST_PREFIX;
    });

    it('counts in memory when Redis is killed, without an error, and in Redis again once it is back', async () => {
      const c = app.imCache;
      const limiter = c.limiter('outage', { points: 2, durationMs: 60_000 });
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 1 });
      assert.strictEqual(limiter.memoryKeys, 0);

      await server.stop('SIGKILL');
      // the first call may be the one that finds the connection gone: still an answer, from memory
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 1 });
      assert.strictEqual(c.degraded, true);
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 0 });
      refusedWithin(await limiter.consume('k'), 60_000);
      await limiter.reward('k', 2); // the refused attempt counted too
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 0 });
      await limiter.delete('k');
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 1 });
      assert.strictEqual(count(capturedCoreLog(app), DEGRADED_LINE), 1);

      await server.start();
      await waitFor(() => !c.degraded, 5000, 'the cache to be restored');
      // the restore purged the prefix: Redis counts anew
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 1 });
      const direct = await directRedis(server.url);
      try {
        assert.strictEqual(await direct.get(`${prefix}rl:outage:k`), '1');
      } finally {
        await direct.close();
      }
    });

    it('answers from memory while Redis hangs (SIGSTOP): the call times out, the breaker opens, no call stalls after', async () => {
      const c = app.imCache;
      const limiter = c.limiter('hang', { points: 100, durationMs: 60_000 });
      assert.deepStrictEqual(await limiter.consume('k'), { allowed: true, remaining: 99 });
      server.pause();
      // three consecutive failures (the fixture's breaker) time out after commandTimeoutMs each, and answer
      for (let i = 0; i < 3; i++) assert.strictEqual((await limiter.consume('k')).allowed, true);
      assert.strictEqual(c.degraded, true, 'the breaker opened');
      // from now on straight to memory; a burst in flight all answer
      const burst = await Promise.all(Array.from({ length: 20 }, () => limiter.consume('k')));
      assert.ok(burst.every(d => d.allowed));
      assert.strictEqual(limiter.memoryKeys, 1);
      server.resume();
      await waitFor(() => !c.degraded, 5000, 'the cache to be restored');
    });
  });
});
