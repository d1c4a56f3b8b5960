import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import type { RedisClientType } from 'redis';
import { RedisAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import { TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { behavesAsACache } from './support/behaviour';
import { deletePrefix, directRedis, keysUnder } from './support/helpers';
import { redisClientOf } from '../lib/ImCache';

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
    assert.ok(redisClientOf(app.imCache)?.isReady);
    const check = await app.imCache.check();
    assert.strictEqual(check.ok, true);
    assert.strictEqual(check.mode, 'redis');
    assert.strictEqual(check.degraded, false);
    assert.strictEqual(typeof check.latencyMs, 'number');
    assert.strictEqual(check.error, undefined);
  });

  behavesAsACache(() => app);

  it('a ready client adds no node-redis timeout per command: no AbortSignal.timeout, whose timer would fire after every command', async () => {
    const original = AbortSignal.timeout;
    let made = 0;
    AbortSignal.timeout = (ms: number) => {
      made++;
      return original.call(AbortSignal, ms);
    };
    try {
      const key = app.imCache.key('t', 'ready');
      for (let i = 0; i < 20; i++) {
        await app.imCache.set(key, String(i), 60000);
        assert.strictEqual(await app.imCache.get(key), String(i));
        await app.imCache.mget([ key, app.imCache.key('t', 'other') ]);
      }
      await app.imCache.del(key);
    } finally {
      AbortSignal.timeout = original;
    }
    assert.strictEqual(made, 0);
  });

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

  it('has a client that can be duplicated (as the socket.io adapter does)', async () => {
    const base = redisClientOf(app.imCache);
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

  it('keeps leases in sorted sets scored by expiry, with the set\'s TTL and the stamps\' TTL', async () => {
    const c = app.imCache;
    const key = c.key('presence', 'on-server');
    const seen = c.key('lastseen', 'on-server');
    const now = Date.now();
    await c.leasePut([ { key, member: 'n|s|d', expiresAt: now + 30_000 } ], 60_000, [ { key: seen, value: String(now), ttlMs: 90_000 } ]);
    assert.deepStrictEqual(await redis.zRangeWithScores(key, 0, -1), [ { value: 'n|s|d', score: now + 30_000 } ]);
    const setTtl = await redis.pTTL(key);
    assert.ok(setTtl > 55_000 && setTtl <= 60_000, `PTTL ${setTtl}`);
    const stampTtl = await redis.pTTL(seen);
    assert.ok(stampTtl > 85_000 && stampTtl <= 90_000, `PTTL ${stampTtl}`);
    assert.strictEqual(await c.leaseAcquire({ key, member: 'n|s2|d', expiresAt: now + 30_000 }, 5, now, 120_000), true);
    assert.ok(await redis.pTTL(key) > 115_000, 'acquiring sets the TTL again');
    await c.del(key, seen);
  });

  it('writes leases and stamps in one command (a script), not three commands per lease', async () => {
    const c = app.imCache;
    const leases = Array.from({ length: 20 }, (_, i) => ({ key: c.key('presence', `one-command-${i}`), member: 'n|s|d', expiresAt: Date.now() + 30_000 }));
    const stamps = leases.map((_, i) => ({ key: c.key('lastseen', `one-command-${i}`), value: '1', ttlMs: 60_000 }));
    await c.leasePut(leases, 60_000, stamps);
    // What Redis receives, from clients and (marked "lua") from scripts.
    const monitor = redis.duplicate();
    monitor.on('error', () => {
      // a duplicate needs its own error listener
    });
    await monitor.connect();
    const seen: string[] = [];
    try {
      await monitor.monitor(line => {
        if (line.includes(`${prefix}presence:one-command-`) || line.includes(`${prefix}lastseen:one-command-`)) seen.push(line);
      });
      await c.leasePut(leases, 60_000, stamps);
      // The stamps' SETs come last, sent by the client or run by the script.
      await waitFor(() => seen.filter(line => /"set"/i.test(line)).length >= stamps.length, 3000, 'the commands seen by MONITOR');
    } finally {
      await monitor.close();
    }
    const fromScripts = seen.filter(line => / \[\d+ lua\] /.test(line));
    assert.strictEqual(seen.length - fromScripts.length, 1, `commands sent: ${seen.filter(line => !fromScripts.includes(line)).map(line => line.slice(0, 80)).join('\n')}`);
    assert.strictEqual(fromScripts.length, 3 * leases.length, 'ZADD + PEXPIRE per lease, SET per stamp');
    await c.del(...leases.map(l => l.key), ...stamps.map(s => s.key));
  });

  describe('the socket.io adapter\'s connections', () => {
    it('are two duplicates of the client, ready once connected, publishing on channels under the given key', async () => {
      const c = app.imCache;
      const link = c.socketAdapter(c.key('sio'));
      assert.ok(link);
      try {
        assert.strictEqual(typeof link.adapter, 'function', 'the factory for io.adapter()');
        let readyCalls = 0;
        link.onReady(() => readyCalls++);
        await waitFor(() => link.ready, 3000, 'the adapter\'s connections');
        assert.strictEqual(readyCalls, 1, 'told once, when both connections are up');
        assert.strictEqual(link.epoch, 0);
        // the adapter subscribes once socket.io builds it for a namespace
        new Server().adapter(link.adapter);
        const channels = await waitFor(async () => {
          const names = await redis.sendCommand([ 'PUBSUB', 'CHANNELS', `${prefix}sio*` ]) as string[];
          return names.length > 0 ? names : undefined;
        }, 3000, 'the adapter\'s channels');
        assert.ok(channels.every(name => name.startsWith(`${prefix}sio`)), JSON.stringify(channels));
      } finally {
        await link.close();
      }
      assert.strictEqual(link.ready, false);
      assert.deepStrictEqual(await redis.sendCommand([ 'PUBSUB', 'CHANNELS', `${prefix}sio*` ]), [], 'its connections are closed');
      await link.close(); // twice is harmless
    });

    it('drop their own node packets unparsed, and the other nodes still get them', async () => {
      const c = app.imCache;
      const key = c.key('sio-echo');
      const links = [ c.socketAdapter(key)!, c.socketAdapter(key)! ];
      // What reaches the adapter's own request handler, by the uid of the adapter that handles it.
      const handled: Array<{ uid: string; request: string }> = [];
      const proto = RedisAdapter.prototype as unknown as { onrequest(this: RedisAdapter, channel: unknown, msg: Buffer): Promise<void> };
      const original = proto.onrequest;
      proto.onrequest = function(channel, msg) {
        handled.push({ uid: this.uid, request: msg.toString() });
        return original.call(this, channel, msg);
      };
      try {
        await waitFor(() => links.every(link => link.ready), 3000, 'the adapters\' connections');
        const [ sender, receiver ] = links.map(link => new Server().adapter(link.adapter));
        await waitFor(async () => {
          const [ , subscribers ] = await redis.sendCommand([ 'PUBSUB', 'NUMSUB', `${key}-request#/#` ]) as [ string, number ];
          return subscribers >= 2;
        }, 3000, 'both adapters subscribed');
        const received: unknown[] = [];
        receiver.on('probe', (payload: unknown) => received.push(payload));
        sender.on('probe', (payload: unknown) => received.push([ 'echo', payload ]));
        sender.serverSideEmit('probe', 'one');
        await waitFor(() => received.length > 0, 3000, 'the other node\'s copy');
        // Its echo has reached the sender by now (same channel, same server, published once).
        await new Promise(resolve => setTimeout(resolve, 200));
        assert.deepStrictEqual(received, [ 'one' ]);
        const senderUid = (sender.of('/').adapter as unknown as RedisAdapter).uid;
        const probes = handled.filter(h => h.request.includes('"probe"'));
        assert.deepStrictEqual(probes.map(h => h.uid === senderUid ? 'sender' : 'receiver'), [ 'receiver' ],
          'the sender never parses its own packet; the receiver parses it once');
      } finally {
        proto.onrequest = original;
        await Promise.all(links.map(link => link.close()));
      }
    });

    it('are closed with the cache when their user did not close them', async () => {
      const other = mm.app({ baseDir: 'apps/redis', cache: false });
      await other.ready();
      const link = other.imCache.socketAdapter(other.imCache.key('sio'))!;
      await waitFor(() => link.ready, 3000, 'the adapter\'s connections');
      await other.close();
      assert.strictEqual(link.ready, false);
      assert.throws(() => other.imCache.socketAdapter(other.imCache.key('sio')), /\[egg-im-cache\] socketAdapter\(\) on a closed cache/);
    });
  });

  it('closes its client with the app', async () => {
    const other = mm.app({ baseDir: 'apps/redis', cache: false });
    await other.ready();
    const client = redisClientOf(other.imCache);
    assert.ok(client?.isReady);
    await other.close();
    assert.strictEqual(client.isOpen, false);
  });
});
