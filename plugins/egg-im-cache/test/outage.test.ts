import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import type { RedisClientType } from 'redis';
import { sleep, startRedisServer, uniqueName, waitFor, type ThrowawayRedis } from 'egg-im-testkit';
import { DEGRADED_LINE, RESTORED_LINE, capturedCoreLog, count, directRedis } from './support/helpers';
import { redisClientOf } from '../lib/ImCache';

interface Counters {
  degraded: number;
  restored: number;
}

async function startApp(url: string, prefix: string): Promise<{ app: MockApplication; events: Counters }> {
  process.env.IM_CACHE_TEST_OUTAGE_URL = url;
  process.env.IM_CACHE_TEST_PREFIX = prefix;
  const app = mm.app({ baseDir: 'apps/outage', cache: false });
  await app.ready();
  app.mockLog(app.coreLogger);
  const events: Counters = { degraded: 0, restored: 0 };
  app.imCache.on('degraded', () => events.degraded++);
  app.imCache.on('restored', () => events.restored++);
  return { app, events };
}

describe('egg-im-cache: redis outage and return', () => {
  afterEach(() => {
    delete process.env.IM_CACHE_TEST_OUTAGE_URL;
    delete process.env.IM_CACHE_TEST_PREFIX;
  });

  describe('the server is killed, then restarted on the same port with its old data', () => {
    const prefix = `${uniqueName('cache_outage')}:`;
    let server: ThrowawayRedis;
    let app: MockApplication;
    let events: Counters;
    let direct: RedisClientType | undefined;

    before(async () => {
      server = await startRedisServer();
      ({ app, events } = await startApp(server.url, prefix));
    });

    after(async () => {
      await app?.close();
      await direct?.close().catch(() => undefined);
      await server?.dispose();
    });

    it('goes degraded once, keeps working from memory, and after the restart serves nothing stale', async () => {
      const c = app.imCache;
      const changed = c.key('session', 'changed');
      const deleted = c.key('session', 'deleted');
      const kept = c.key('member', 'kept');
      const list = c.key('hist', 'conv');
      await c.set(changed, 'before', 60_000);
      await c.set(deleted, 'before', 60_000);
      await c.set(kept, 'before', 60_000);
      await c.listPush(list, [ 'm1', 'm2' ], 10, 60_000);
      assert.strictEqual(c.degraded, false);

      // Persist the pre-outage values so the restarted server comes back WITH them: the stale
      // candidates a naive cache would serve after the outage.
      direct = await directRedis(server.url);
      assert.strictEqual(await direct.get(changed), 'before');
      assert.strictEqual(await direct.sendCommand([ 'SAVE' ]), 'OK');
      await direct.close();
      direct = undefined;
      assert.ok(fs.statSync(path.join(server.dir, 'dump.rdb')).size > 0);

      await server.stop('SIGKILL');
      await waitFor(() => c.degraded, 5000, 'the cache to notice the outage');

      // the outage: everything still works, from memory
      await c.set(changed, 'during', 60_000);
      await c.del(deleted);
      await c.set(c.key('session', 'new'), 'during', 60_000);
      assert.strictEqual(await c.get(changed), 'during');
      assert.strictEqual(await c.get(deleted), undefined);
      assert.strictEqual(await c.get(kept), undefined, 'reads of keys only Redis had are misses');
      assert.deepStrictEqual(await c.listRange(list, 0, -1), []);
      await c.listPush(list, [ 'm3' ], 10, 60_000);
      assert.deepStrictEqual(await c.listRange(list, 0, -1), [ 'm3' ]);
      const check = await c.check();
      assert.strictEqual(check.ok, false);
      assert.strictEqual(check.degraded, true);
      for (let i = 0; i < 50; i++) await c.get(changed); // many calls, still one log line
      await sleep(300); // a few reconnection attempts and probes
      assert.strictEqual(c.degraded, true);

      await server.start();
      assert.match(server.output(), /DB loaded from disk/, 'the restarted server has the old values');
      await waitFor(() => !c.degraded, 5000, 'the cache to be restored');

      // nothing from before or during the outage is served
      assert.strictEqual(await c.get(changed), undefined);
      assert.strictEqual(await c.get(deleted), undefined);
      assert.strictEqual(await c.get(kept), undefined);
      assert.strictEqual(await c.get(c.key('session', 'new')), undefined);
      assert.deepStrictEqual(await c.listRange(list, 0, -1), []);
      assert.strictEqual(c.memoryStats().entries, 0);

      // Redis is in use again
      direct = await directRedis(server.url);
      assert.strictEqual(await direct.get(changed), null, 'the old value was deleted from Redis');
      await c.set(changed, 'after', 60_000);
      assert.strictEqual(await direct.get(changed), 'after');
      assert.ok(await direct.pTTL(changed) > 0);
      assert.strictEqual(await c.get(changed), 'after');
      assert.strictEqual((await c.check()).ok, true);
      // A restarted server has no cached scripts: the window write sends its script again (NOSCRIPT → EVAL).
      const window = c.key('hist', 'after');
      await c.windowAdd(window, [ { score: 1, value: 'w1' } ], 5, 60_000);
      assert.deepStrictEqual(await direct.zRange(window, 0, -1), [ 'w1' ]);
      assert.ok(await direct.pTTL(window) > 0);

      assert.deepStrictEqual(events, { degraded: 1, restored: 1 });
      const log = capturedCoreLog(app);
      assert.strictEqual(count(log, DEGRADED_LINE), 1, log);
      assert.strictEqual(count(log, RESTORED_LINE), 1, log);
    });
  });

  describe('the server hangs (SIGSTOP), then resumes', () => {
    const prefix = `${uniqueName('cache_hang')}:`;
    let server: ThrowawayRedis;
    let app: MockApplication;
    let events: Counters;

    before(async () => {
      server = await startRedisServer();
      ({ app, events } = await startApp(server.url, prefix));
    });

    after(async () => {
      server?.resume();
      await app?.close();
      await server?.dispose();
    });

    it('opens the breaker after consecutive failures, serves from memory, and serves nothing stale after', async () => {
      const c = app.imCache;
      const k = c.key('presence', 'u1');
      await c.set(k, 'before', 60_000);
      assert.strictEqual(await c.get(k), 'before');

      server.pause();
      // reads time out; the connection itself stays open, so only the breaker can tell
      assert.strictEqual(await c.get(k), undefined);
      assert.strictEqual(await c.get(k), undefined);
      assert.strictEqual(c.degraded, false, 'two failures are below the threshold of three');
      // a burst of calls in flight: the third failure opens the breaker, and the rest of the burst
      // is one state change, not one log line per call
      const burst = await Promise.all(Array.from({ length: 50 }, () => c.get(k)));
      assert.deepStrictEqual(new Set(burst), new Set([ undefined ]));
      assert.strictEqual(c.degraded, true, 'the third consecutive failure opens the breaker');
      assert.strictEqual(redisClientOf(c)?.isReady, true, 'the socket is still open');

      // while open: calls go to memory
      await c.set(k, 'during', 60_000);
      assert.strictEqual(await c.get(k), 'during');
      await sleep(500); // probes time out while the server is frozen: still degraded, still one line
      assert.strictEqual(c.degraded, true);

      server.resume(); // Redis still holds 'before' in memory: the stale candidate
      await waitFor(() => !c.degraded, 5000, 'the cache to be restored');
      assert.strictEqual(await c.get(k), undefined);
      await c.set(k, 'after', 60_000);
      assert.strictEqual(await c.get(k), 'after');

      assert.deepStrictEqual(events, { degraded: 1, restored: 1 });
      const log = capturedCoreLog(app);
      assert.strictEqual(count(log, DEGRADED_LINE), 1, log);
      assert.strictEqual(count(log, RESTORED_LINE), 1, log);
      assert.match(log, /circuit breaker opened after 3 consecutive failed calls/);
      assert.strictEqual(count(log, '[egg-im-cache] redis get failed'), 2, log);
      // node-redis' own command timeout (an Error without a message) is told as ours: what did not answer, within what
      assert.strictEqual(count(log, '[egg-im-cache] redis get failed (key kind "presence"): [egg-im-cache] redis GET did not answer within'), 2, log);
    });
  });

  describe('the socket.io adapter\'s connections while the server is killed and restarted', () => {
    const prefix = `${uniqueName('cache_adapter')}:`;
    let server: ThrowawayRedis;
    let app: MockApplication;

    before(async () => {
      server = await startRedisServer();
      ({ app } = await startApp(server.url, prefix));
    });

    after(async () => {
      await app?.close();
      await server?.dispose();
    });

    it('are not ready while Redis is away, change their epoch, and say when they are ready again', async () => {
      const link = app.imCache.socketAdapter(app.imCache.key('sio'))!;
      let readyCalls = 0;
      link.onReady(() => readyCalls++);
      await waitFor(() => link.ready, 3000, 'the adapter\'s connections');
      assert.strictEqual(readyCalls, 1);
      const before = link.epoch;

      await server.stop('SIGKILL');
      await waitFor(() => !link.ready, 3000, 'the adapter to notice the outage');
      assert.ok(link.epoch > before, 'the epoch changed');
      await sleep(300); // a few failed reconnection attempts: no more "ready" calls, one warning for the outage
      assert.strictEqual(readyCalls, 1);

      await server.start();
      await waitFor(() => link.ready, 5000, 'the adapter\'s connections again');
      assert.strictEqual(readyCalls, 2, 'told once more, when both are up again');
      const log = capturedCoreLog(app);
      assert.strictEqual(count(log, '[egg-im-cache] socket.io adapter: a redis connection was lost'), 1, log);
      assert.strictEqual(count(log, '[egg-im-cache] socket.io adapter: redis connections ready again'), 1, log);
      // closed with the app (the cache), though its user never closed it
    });
  });

  describe('lease calls while the server hangs', () => {
    const prefix = `${uniqueName('cache_lease_hang')}:`;
    let server: ThrowawayRedis;
    let app: MockApplication;

    before(async () => {
      server = await startRedisServer();
      ({ app } = await startApp(server.url, prefix));
    });

    after(async () => {
      server?.resume();
      await app?.close();
      await server?.dispose();
    });

    it('are bounded by the command timeout and answered from memory; one failure is logged, counted, and does not degrade', async () => {
      const c = app.imCache;
      const key = c.key('presence', 'hang');
      const now = Date.now();
      await c.leasePut([ { key, member: 'a', expiresAt: now + 60_000 } ], 60_000);
      server.pause();
      const started = Date.now();
      // Redis holds 'a', memory does not: the answer comes from memory, within the timeout (300 ms here)
      assert.strictEqual(await c.leaseAcquire({ key, member: 'b', expiresAt: now + 60_000 }, 1, now, 60_000), true);
      assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
      assert.strictEqual(c.degraded, false, 'a lease lapses by itself: one failed call does not degrade the cache');
      assert.match(capturedCoreLog(app), /\[egg-im-cache\] redis leaseAcquire failed \(key kind "presence"\)/);
      // the breaker counts lease calls like any other: three failures in a row open it
      await c.leaseRead(key, now);
      await c.leaseRelease(key, 'a', now);
      assert.strictEqual(c.degraded, true);
      server.resume();
      await waitFor(() => !c.degraded, 5000, 'the cache to be restored');
    });
  });
});
