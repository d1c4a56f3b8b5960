import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase, listen, registerAndLogin, request, TEST_REDIS_URL, uniqueName, waitFor, type Socket } from 'egg-im-testkit';
import { connectDevice } from 'egg-im-testkit/lib/messaging';
import { parseMetrics, sampleValue, type Sample } from 'egg-im-testkit/lib/metrics';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';

const TIMERS = [ 'outboxSweep', 'sessionSweep', 'presenceHeartbeat', 'historyFlush', 'receiptFlush' ];

describe('egg-im-metrics: the runs of egg-im\'s timers', () => {
  let app: MockApplication;
  let database: { name: string; url: string };
  const prefix = `${uniqueName('timers')}:`;
  const sockets: Socket[] = [];

  before(async () => {
    database = await createTestDatabase('timers');
    process.env.METRICS_TEST_DATABASE_URL = database.url;
    process.env.METRICS_TEST_REDIS_URL = TEST_REDIS_URL;
    process.env.METRICS_TEST_REDIS_PREFIX = prefix;
    app = mm.app({ baseDir: 'apps/timers', cache: false });
    await app.ready();
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await app?.close();
    delete process.env.METRICS_TEST_DATABASE_URL;
    delete process.env.METRICS_TEST_REDIS_URL;
    delete process.env.METRICS_TEST_REDIS_PREFIX;
    await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  async function scrape(): Promise<Sample[]> {
    return parseMetrics((await app.httpRequest().get('/metrics').expect(200)).text);
  }

  it('counts each run of the sweepers, the heartbeat and the history and receipt flushes, with its duration', async () => {
    const before = await scrape();
    // A reorder wait runs out only when a message's predecessor is late: none here, but the series is there.
    for (const timer of [ ...TIMERS, 'reorderWait' ]) {
      assert.equal(sampleValue(before, 'egg_im_timer_runs_total', { timer }) !== undefined, true, `${timer} is there from the start`);
    }
    const url = await listen(app);
    const alice = await registerAndLogin(app, 'alice');
    const bob = await registerAndLogin(app, 'bob');
    const a = await connectDevice(url, alice.token, { record: false });
    const b = await connectDevice(url, bob.token);
    sockets.push(a.socket, b.socket);
    // Routed (its history window written) and acknowledged by bob (his receipt written).
    assert.equal((await request(a.socket, 'message:send', { to: { type: 'user', id: bob.userId }, type: 'text', content: { text: 'hi' }, clientMsgId: 't1' })).ok, true);

    const ran = (s: Sample[], timer: string) => sampleValue(s, 'egg_im_timer_runs_total', { timer })! - sampleValue(before, 'egg_im_timer_runs_total', { timer })!;
    const timed = (s: Sample[], timer: string) => sampleValue(s, 'egg_im_timer_seconds_count', { timer }) ?? 0;
    let after = before;
    await waitFor(async () => {
      after = await scrape();
      return TIMERS.every(timer => ran(after, timer) > 0 && timed(after, timer) > 0);
    }, 5000, 'every timer ran and was timed').catch(err => {
      throw new Error(`${err.message}: ${TIMERS.map(timer => `${timer} ${ran(after, timer)} runs, ${timed(after, timer)} timed`).join(', ')}`);
    });
    for (const timer of TIMERS) assert.ok(sampleValue(after, 'egg_im_timer_seconds_sum', { timer })! > 0, `${timer} took some time`);
  });
});
