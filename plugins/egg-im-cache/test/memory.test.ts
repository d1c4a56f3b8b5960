import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import { waitFor } from 'egg-im-testkit';
import { behavesAsACache } from './support/behaviour';
import { MEMORY_MODE_LINE, count, freshLogs, readCoreLog } from './support/helpers';
import { redisClientOf } from '../lib/ImCache';

describe('egg-im-cache: memory mode (no url)', () => {
  let app: MockApplication;

  before(async () => {
    freshLogs('memory');
    app = mm.app({ baseDir: 'apps/memory', cache: false });
    await app.ready();
  });

  after(() => app?.close());

  it('runs in memory mode and says so once at start', async () => {
    assert.strictEqual(app.imCache.mode, 'memory');
    assert.strictEqual(app.imCache.degraded, false);
    assert.strictEqual(redisClientOf(app.imCache), undefined);
    assert.strictEqual(app.imCache.prefix, 'im:');
    const log = await waitFor(() => {
      const text = readCoreLog(app);
      return text.includes(MEMORY_MODE_LINE) ? text : '';
    }, 5000, 'the memory mode line in the core log');
    assert.strictEqual(count(log, MEMORY_MODE_LINE), 1);
  });

  it('is always ready', async () => {
    assert.deepStrictEqual(await app.imCache.check(), { ok: true, mode: 'memory', degraded: false });
  });

  it('has no socket.io adapter to give (one node: socket.io keeps its in-memory adapter)', () => {
    assert.strictEqual(app.imCache.socketAdapter(app.imCache.key('sio')), undefined);
    assert.throws(() => app.imCache.socketAdapter('sio'), /\[egg-im-cache\] keys must be built with imCache\.key/);
  });

  it('has the documented default bounds', () => {
    const stats = app.imCache.memoryStats();
    assert.strictEqual(stats.maxEntries, 100_000);
    assert.strictEqual(stats.maxBytes, 64 * 1024 * 1024);
  });

  behavesAsACache(() => app);
});

describe('egg-im-cache: memory bounds', () => {
  let app: MockApplication;

  before(async () => {
    app = mm.app({ baseDir: 'apps/memory-bounded', cache: false });
    await app.ready();
  });

  after(() => app?.close());

  it('stays within its entry and byte bounds under 100,000 writes', async () => {
    const c = app.imCache;
    const { maxEntries, maxBytes } = c.memoryStats();
    assert.strictEqual(maxEntries, 1000);
    assert.strictEqual(maxBytes, 64 * 1024);
    let peakEntries = 0;
    let peakBytes = 0;
    let entriesBound = false;
    let bytesBound = false;
    for (let i = 0; i < 100_000; i++) {
      // first half small values (the entry count binds), second half large ones (the byte count binds)
      const size = i < 50_000 ? 1 + (i % 20) : 100 + (i % 400);
      if (i % 7 === 0) {
        await c.listPush(c.key('l', String(i % 50)), [ 'x'.repeat(size) ], 5, 60_000);
      } else {
        await c.set(c.key('k', String(i)), 'v'.repeat(size), 60_000);
      }
      if (i % 100 === 0 || i === 99_999) {
        const stats = c.memoryStats();
        assert.ok(stats.entries <= maxEntries, `entries ${stats.entries} > ${maxEntries} after ${i + 1} writes`);
        assert.ok(stats.bytes <= maxBytes, `bytes ${stats.bytes} > ${maxBytes} after ${i + 1} writes`);
        peakEntries = Math.max(peakEntries, stats.entries);
        peakBytes = Math.max(peakBytes, stats.bytes);
        if (stats.entries === maxEntries) entriesBound = true;
        if (stats.bytes > maxBytes * 0.95) bytesBound = true;
      }
    }
    assert.ok(entriesBound, `the entry bound was never reached (peak ${peakEntries})`);
    assert.ok(bytesBound, `the byte bound was never approached (peak ${peakBytes})`);
    // least recently used out: the newest write is there, the first ones are gone
    assert.strictEqual(await c.get(c.key('k', '99999')), 'v'.repeat(100 + (99_999 % 400)));
    assert.strictEqual(await c.get(c.key('k', '1')), undefined);
  });

  it('does not keep a value larger than the whole store, nor the value it replaces', async () => {
    const c = app.imCache;
    const key = c.key('big', '1');
    await c.set(key, 'small', 60_000);
    await c.set(key, 'x'.repeat(70 * 1024), 60_000);
    assert.strictEqual(await c.get(key), undefined);
    assert.ok(c.memoryStats().bytes <= 64 * 1024);
  });
});

describe('egg-im-cache: bad configuration', () => {
  it('refuses a url that is not redis://', async () => {
    const app = mm.app({ baseDir: 'apps/bad-config', cache: false });
    try {
      await assert.rejects(app.ready(), /\[egg-im-cache\] config\.imCache\.client\.url must start with redis:\/\/ or rediss:\/\//);
    } finally {
      await app.close();
    }
  });
});
