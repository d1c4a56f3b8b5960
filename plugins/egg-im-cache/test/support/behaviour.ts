import assert from 'node:assert';
import type { MockApplication } from 'egg-mock';
import { sleep } from 'egg-im-testkit';

/** What every cache must do the same way, in redis mode and in memory mode. */
export function behavesAsACache(getApp: () => MockApplication): void {
  const cache = () => getApp().imCache;

  it('key() applies the prefix and refuses empty parts', () => {
    const c = cache();
    assert.strictEqual(c.key('session', 'abc'), `${c.prefix}session:abc`);
    assert.throws(() => c.key(), /\[egg-im-cache\] key\(\) needs at least one part/);
    assert.throws(() => c.key('session', ''), /\[egg-im-cache\] key\(\) parts must be non-empty strings/);
  });

  it('refuses keys not built with key()', async () => {
    await assert.rejects(cache().get('elsewhere:x'), /\[egg-im-cache\] keys must be built with imCache\.key/);
    await assert.rejects(cache().set('elsewhere:x', 'v', 1000), /\[egg-im-cache\] keys must be built with imCache\.key/);
  });

  it('gets, sets and deletes strings', async () => {
    const c = cache();
    const a = c.key('t', 'a');
    const b = c.key('t', 'b');
    assert.strictEqual(await c.get(a), undefined);
    await c.set(a, 'alpha ✓', 60_000);
    await c.set(b, '', 60_000);
    assert.strictEqual(await c.get(a), 'alpha ✓');
    assert.strictEqual(await c.get(b), '');
    await c.set(a, 'alpha 2', 60_000);
    assert.strictEqual(await c.get(a), 'alpha 2');
    await c.del(a, b, c.key('t', 'never-written'));
    assert.strictEqual(await c.get(a), undefined);
    assert.strictEqual(await c.get(b), undefined);
  });

  it('requires a TTL > 0 on every write, and writes nothing without one', async () => {
    const c = cache();
    const k = c.key('t', 'no-ttl');
    for (const ttl of [ 0, -1, Number.NaN, Infinity, undefined as unknown as number ]) {
      await assert.rejects(c.set(k, 'v', ttl), /\[egg-im-cache\] every write needs a TTL/);
      await assert.rejects(c.setJson(k, { a: 1 }, ttl), /\[egg-im-cache\] every write needs a TTL/);
      await assert.rejects(c.listPush(k, [ 'x' ], 10, ttl), /\[egg-im-cache\] every write needs a TTL/);
    }
    assert.strictEqual(await c.get(k), undefined);
    assert.deepStrictEqual(await c.listRange(k, 0, -1), []);
  });

  it('expires entries after their TTL', async () => {
    const c = cache();
    const k = c.key('t', 'short');
    const l = c.key('t', 'short-list');
    await c.set(k, 'v', 150);
    await c.listPush(l, [ 'x' ], 10, 150);
    assert.strictEqual(await c.get(k), 'v');
    assert.deepStrictEqual(await c.listRange(l, 0, -1), [ 'x' ]);
    await sleep(300);
    assert.strictEqual(await c.get(k), undefined);
    assert.deepStrictEqual(await c.listRange(l, 0, -1), []);
  });

  it('round-trips JSON and reads non-JSON as a miss', async () => {
    const c = cache();
    const k = c.key('t', 'json');
    const value = { userId: '42', devices: [ 'a', 'b' ], nested: { ok: true, n: 1.5, text: 'héllo 🌍' } };
    await c.setJson(k, value, 60_000);
    assert.deepStrictEqual(await c.getJson(k), value);
    assert.strictEqual(await c.getJson(c.key('t', 'json-missing')), undefined);
    await c.set(k, '{not json', 60_000);
    assert.strictEqual(await c.getJson(k), undefined);
  });

  it('mget returns values in order, undefined for missing keys and for lists', async () => {
    const c = cache();
    const [ a, b, missing, list ] = [ 'a', 'b', 'missing', 'list' ].map(p => c.key('m', p));
    await c.set(a, '1', 60_000);
    await c.set(b, '2', 60_000);
    await c.listPush(list, [ 'x' ], 5, 60_000);
    assert.deepStrictEqual(await c.mget([ a, missing, b, list ]), [ '1', undefined, '2', undefined ]);
    assert.deepStrictEqual(await c.mget([]), []);
  });

  it('keeps a list window of the newest maxLen items with LRANGE semantics', async () => {
    const c = cache();
    const k = c.key('hist', 'conv1');
    assert.strictEqual(await c.listPush(k, [ '1', '2' ], 3, 60_000), 2);
    assert.strictEqual(await c.listPush(k, [ '3', '4', '5' ], 3, 60_000), 3);
    assert.deepStrictEqual(await c.listRange(k, 0, -1), [ '3', '4', '5' ]);
    assert.deepStrictEqual(await c.listRange(k, -2, -1), [ '4', '5' ]);
    assert.deepStrictEqual(await c.listRange(k, 1, 1), [ '4' ]);
    assert.deepStrictEqual(await c.listRange(k, 0, 100), [ '3', '4', '5' ]);
    assert.deepStrictEqual(await c.listRange(k, -100, 0), [ '3' ]);
    assert.deepStrictEqual(await c.listRange(k, 5, 10), []);
    assert.deepStrictEqual(await c.listRange(k, 2, 1), []);
    // a single push larger than the window keeps its newest items
    assert.strictEqual(await c.listPush(k, [ 'a', 'b', 'c', 'd', 'e' ], 3, 60_000), 3);
    assert.deepStrictEqual(await c.listRange(k, 0, -1), [ 'c', 'd', 'e' ]);
    await assert.rejects(c.listPush(k, [], 3, 60_000), /\[egg-im-cache\] listPush\(\) takes a non-empty array of strings/);
    await assert.rejects(c.listPush(k, [ 'x' ], 0, 60_000), /\[egg-im-cache\] listPush\(\) maxLen must be a positive integer/);
  });

  it('keeps a scored window of the maxLen highest scores, ranged by score', async () => {
    const c = cache();
    const k = c.key('hist', 'window1');
    const item = (score: number) => ({ score, value: `m${score}` });
    // out of order and repeated: the window is sorted by score and holds each value once
    await c.windowAdd(k, [ item(3), item(1), item(2) ], 4, 60_000);
    await c.windowAdd(k, [ item(2), item(5) ], 4, 60_000);
    assert.deepStrictEqual(await c.windowRange(k, 0, 100), [ item(1), item(2), item(3), item(5) ]);
    assert.deepStrictEqual(await c.windowRange(k, 2, 3), [ item(2), item(3) ]);
    assert.deepStrictEqual(await c.windowRange(k, 4, 4), []);
    // over maxLen: the lowest scores leave
    await c.windowAdd(k, [ item(6), item(7) ], 4, 60_000);
    assert.deepStrictEqual(await c.windowRange(k, 0, 100), [ item(3), item(5), item(6), item(7) ]);
    assert.deepStrictEqual(await c.windowRange(c.key('hist', 'none'), 0, 100), []);
    await assert.rejects(c.windowAdd(k, [], 4, 60_000), /\[egg-im-cache\] windowAdd\(\) takes a non-empty array/);
    await assert.rejects(c.windowAdd(k, [ item(8) ], 0, 60_000), /\[egg-im-cache\] windowAdd\(\) maxLen must be a positive integer/);
    await assert.rejects(c.windowAdd(k, [ item(8) ], 4, 0), /TTL/);
  });

  it('adds to many windows in one call, each capped and ranged on its own', async () => {
    const c = cache();
    const [ a, b ] = [ c.key('hist', 'many-a'), c.key('hist', 'many-b') ];
    const item = (score: number, tag = '') => ({ score, value: `m${tag}${score}` });
    await c.windowAddMany([ { key: a, items: [ item(1), item(2) ] }, { key: b, items: [ item(9, 'b') ] } ], 3, 60_000);
    await c.windowAddMany([ { key: b, items: [ item(10, 'b'), item(11, 'b'), item(12, 'b') ] }, { key: a, items: [ item(3) ] } ], 3, 60_000);
    assert.deepStrictEqual(await c.windowRange(a, 0, 100), [ item(1), item(2), item(3) ]);
    assert.deepStrictEqual(await c.windowRange(b, 0, 100), [ item(10, 'b'), item(11, 'b'), item(12, 'b') ]);
    await assert.rejects(c.windowAddMany([], 3, 60_000), /windowAddMany\(\) takes a non-empty array of windows/);
    await assert.rejects(c.windowAddMany([ { key: a, items: [] } ], 3, 60_000), /windowAdd\(\) takes a non-empty array/);
  });

  it('reports using a key of the wrong type to the caller, without degrading', async () => {
    const c = cache();
    const list = c.key('wt', 'list');
    const text = c.key('wt', 'text');
    await c.listPush(list, [ 'x' ], 5, 60_000);
    await c.set(text, 'v', 60_000);
    await assert.rejects(c.get(list), (err: Error) => err.name === 'ImCacheWrongTypeError' && /\[egg-im-cache\] WRONGTYPE: get on a key of kind "wt"/.test(err.message));
    await assert.rejects(c.listRange(text, 0, -1), /\[egg-im-cache\] WRONGTYPE: listRange/);
    await assert.rejects(c.listPush(text, [ 'x' ], 5, 60_000), /\[egg-im-cache\] WRONGTYPE: listPush/);
    assert.strictEqual(c.degraded, false);
    assert.strictEqual(await c.get(text), 'v');
  });

  describe('leases (sorted sets scored by expiry)', () => {
    const lease = (key: string, member: string, expiresAt: number) => ({ key, member, expiresAt });

    it('puts and refreshes many leases at once, reads the live ones and prunes the lapsed ones', async () => {
      const c = cache();
      const [ a, b ] = [ c.key('presence', 'lease-a'), c.key('presence', 'lease-b') ];
      const now = Date.now();
      await c.leasePut([ lease(a, 'n1|s1|phone', now + 60_000), lease(a, 'n1|s2|laptop', now - 10), lease(b, 'n2|s3|tab', now + 60_000) ], 120_000);
      assert.deepStrictEqual(await c.leaseRead(a, now), { live: [ 'n1|s1|phone' ], lapsed: [ { score: now - 10, value: 'n1|s2|laptop' } ] });
      // the lapsed lease was removed by the read
      assert.deepStrictEqual(await c.leaseRead(a, now), { live: [ 'n1|s1|phone' ], lapsed: [] });
      // a refresh moves a lease's expiry, and a lease whose expiry is now is still live
      await c.leasePut([ lease(a, 'n1|s1|phone', now - 5), lease(a, 'n1|s9|watch', now) ], 120_000);
      assert.deepStrictEqual(await c.leaseRead(a, now), { live: [ 'n1|s9|watch' ], lapsed: [ { score: now - 5, value: 'n1|s1|phone' } ] });
      assert.deepStrictEqual(await c.leaseRead(b, now), { live: [ 'n2|s3|tab' ], lapsed: [] });
      assert.deepStrictEqual(await c.leaseRead(c.key('presence', 'nobody'), now), { live: [], lapsed: [] });
    });

    it('writes stamps with a lease put, and with a release', async () => {
      const c = cache();
      const key = c.key('presence', 'stamped');
      const seen = c.key('lastseen', 'stamped');
      const now = Date.now();
      await c.leasePut([ lease(key, 'm1', now + 60_000), lease(key, 'm2', now + 60_000) ], 120_000, [ { key: seen, value: '100', ttlMs: 60_000 } ]);
      assert.strictEqual(await c.get(seen), '100');
      assert.strictEqual(await c.leaseRelease(key, 'm1', now, { key: seen, value: '200', ttlMs: 60_000 }), 1);
      assert.strictEqual(await c.get(seen), '200');
    });

    it('releases one lease and counts the live ones left; the last release empties the set', async () => {
      const c = cache();
      const key = c.key('presence', 'release');
      const now = Date.now();
      await c.leasePut([ lease(key, 'm1', now + 60_000), lease(key, 'm2', now + 60_000), lease(key, 'old', now - 1) ], 120_000);
      assert.strictEqual(await c.leaseRelease(key, 'm1', now), 1, 'm2 is live; the lapsed one does not count');
      assert.strictEqual(await c.leaseRelease(key, 'never-there', now), 1);
      assert.strictEqual(await c.leaseRelease(key, 'm2', now), 0);
      assert.strictEqual(await c.leaseRelease(c.key('presence', 'nothing'), 'm', now), 0);
    });

    it('acquires a lease only while fewer than the limit are live', async () => {
      const c = cache();
      const key = c.key('presence', 'acquire');
      const now = Date.now();
      assert.strictEqual(await c.leaseAcquire(lease(key, 'a', now + 60_000), 2, now, 120_000), true);
      assert.strictEqual(await c.leaseAcquire(lease(key, 'b', now + 60_000), 2, now, 120_000), true);
      assert.strictEqual(await c.leaseAcquire(lease(key, 'c', now + 60_000), 2, now, 120_000), false);
      assert.deepStrictEqual((await c.leaseRead(key, now)).live.sort(), [ 'a', 'b' ]);
      // a lapsed lease holds no place
      assert.strictEqual(await c.leaseAcquire(lease(key, 'c', now + 60_000), 2, now + 61_000, 120_000), true);
      await c.leaseRelease(key, 'a', now);
      assert.strictEqual(await c.leaseAcquire(lease(key, 'd', now + 60_000), 2, now, 120_000), false, 'b and c are live');
    });

    it('expires a lease set with its key TTL', async () => {
      const c = cache();
      const key = c.key('presence', 'short');
      const now = Date.now();
      await c.leasePut([ lease(key, 'm', now + 60_000) ], 150);
      assert.deepStrictEqual((await c.leaseRead(key, now)).live, [ 'm' ]);
      await sleep(300);
      assert.deepStrictEqual(await c.leaseRead(key, now), { live: [], lapsed: [] });
    });

    it('refuses leases and stamps it cannot use, with an [egg-im-cache] assertion', async () => {
      const c = cache();
      const key = c.key('presence', 'bad');
      await assert.rejects(c.leasePut([], 1000), /\[egg-im-cache\] leasePut\(\) takes a non-empty array of leases/);
      await assert.rejects(c.leasePut([ lease('elsewhere:x', 'm', 1) ], 1000), /keys must be built with imCache\.key/);
      await assert.rejects(c.leasePut([ lease(key, '', 1) ], 1000), /a lease's member must be a non-empty string/);
      await assert.rejects(c.leasePut([ lease(key, 'm', Number.NaN) ], 1000), /a lease's expiresAt must be a time/);
      await assert.rejects(c.leasePut([ lease(key, 'm', 1) ], 0), /every write needs a TTL/);
      await assert.rejects(c.leasePut([ lease(key, 'm', 1) ], 1000, [ { key, value: 'v', ttlMs: 1.5 } ]), /a stamp's ttlMs must be a positive integer/);
      await assert.rejects(c.leaseAcquire(lease(key, 'm', 1), 0, 1, 1000), /leaseAcquire\(\) limit must be a positive integer/);
      await assert.rejects(c.leaseRelease(key, '', 1), /leaseRelease\(\) member must be a non-empty string/);
      await assert.rejects(c.leaseRead(key, Number.NaN), /leaseRead\(\) now must be a time/);
    });

    it('reports a lease call on a key of another type to the caller, without degrading', async () => {
      const c = cache();
      const text = c.key('wt', 'lease-text');
      await c.set(text, 'v', 60_000);
      await assert.rejects(c.leaseRead(text, Date.now()), /\[egg-im-cache\] WRONGTYPE: leaseRead on a key of kind "wt"/);
      await assert.rejects(c.leaseAcquire(lease(text, 'm', Date.now() + 1000), 1, Date.now(), 1000), /WRONGTYPE: leaseAcquire/);
      const leases = c.key('wt', 'leases');
      await c.leasePut([ lease(leases, 'm', Date.now() + 60_000) ], 60_000);
      await assert.rejects(c.listPush(leases, [ 'x' ], 5, 60_000), /WRONGTYPE: listPush/);
      await assert.rejects(c.get(leases), /WRONGTYPE: get/);
      assert.strictEqual(c.degraded, false);
    });
  });
}
