import assert from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mm, { type MockApplication } from 'egg-mock';
import {
  createTestDatabase, dropTestDatabase, freeTcpPort, listen, registerAndLogin, request, TEST_REDIS_URL, uniqueName, waitFor,
  type Socket,
} from 'egg-im-testkit';
import { connectDevice, queryDatabase, type WireMessage } from 'egg-im-testkit/lib/messaging';
import { parseMetrics, sampleValue, type Sample } from 'egg-im-testkit/lib/metrics';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';
import { checkConfig } from '../lib/checkConfig';

async function scrape(app: MockApplication, token?: string): Promise<Sample[]> {
  const req = app.httpRequest().get('/metrics');
  const res = await (token ? req.set('Authorization', `Bearer ${token}`) : req).expect(200);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

describe('egg-im-metrics: real traffic on MariaDB and Redis', () => {
  let app: MockApplication;
  let database: { name: string; url: string };
  const prefix = `${uniqueName('metrics')}:`;
  const sockets: Socket[] = [];

  before(async () => {
    database = await createTestDatabase('metrics');
    process.env.METRICS_TEST_DATABASE_URL = database.url;
    process.env.METRICS_TEST_REDIS_URL = TEST_REDIS_URL;
    process.env.METRICS_TEST_REDIS_PREFIX = prefix;
    app = mm.app({ baseDir: 'apps/traffic', cache: false });
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

  it('counts what happened: sends by result, deliveries, the histograms, connections, cache mode, outbox', async () => {
    const url = await listen(app);
    const alice = await registerAndLogin(app, 'alice');
    const bob = await registerAndLogin(app, 'bob');
    const a = await connectDevice(url, alice.token, { record: false });
    const b = await connectDevice(url, bob.token);
    sockets.push(a.socket, b.socket);
    const to = { type: 'user', id: bob.userId };
    const send = (clientMsgId: string, content: unknown = { text: clientMsgId }) =>
      request(a.socket, 'message:send', { to, type: 'text', content, clientMsgId });

    for (const id of [ 'm1', 'm2', 'm3' ]) assert.equal((await send(id)).ok, true);
    const repeat = await send('m2');
    assert.equal(repeat.ok, true);
    const refused = await send('m4', { text: 42 });
    assert.equal(refused.error.code, 'VALIDATION_FAILED');
    const inbox: WireMessage[] = b.inbox;
    await waitFor(() => inbox.length >= 3, 5000, 'bob has the 3 messages');

    // bob's acks reach the server a moment after the messages reach bob
    const samples = await waitFor(async () => {
      const s = await scrape(app);
      return sampleValue(s, 'egg_im_deliveries_total', { outcome: 'delivered' }) === 3 ? s : undefined;
    }, 5000, 'the 3 deliveries counted');
    const value = (name: string, labels: Record<string, string> = {}) => sampleValue(samples, name, labels);

    assert.equal(value('egg_im_messages_total', { result: 'accepted' }), 3);
    assert.equal(value('egg_im_messages_total', { result: 'deduplicated' }), 1);
    assert.equal(value('egg_im_messages_total', { result: 'refused', code: 'VALIDATION_FAILED' }), 1);
    assert.equal(value('egg_im_send_ack_seconds_count'), 4, 'every answered send');
    assert.ok(value('egg_im_send_ack_seconds_sum')! > 0);
    assert.equal(value('egg_im_send_ack_seconds_bucket', { le: '+Inf' }), 4);
    assert.equal(value('egg_im_delivery_seconds_count'), 3);
    // Every appended message was in exactly one committed batch (the repeat too: it was looked up in one).
    assert.equal(value('egg_im_store_batch_size_sum'), 4);
    assert.equal(value('egg_im_store_commit_seconds_count'), value('egg_im_store_batch_size_count'));
    assert.equal(value('egg_im_connections'), 2);
    assert.equal(value('egg_im_cache_mode', { mode: 'redis' }), 1);
    assert.equal(value('egg_im_cache_mode', { mode: 'memory' }), 0);
    assert.equal(value('egg_im_cache_mode', { mode: 'degraded' }), 0);
    assert.equal(value('egg_im_metrics_workers'), 1);
    // prom-client's process metrics, event-loop lag among them
    assert.ok(value('nodejs_eventloop_lag_seconds')! >= 0);
    assert.ok(value('process_cpu_user_seconds_total')! > 0);

    // Entries left in the outbox (as by a node that died before routing them): the sweeper is off, they stay.
    // (Ids of no message: nothing of the app removes them.)
    await queryDatabase(database.url, 'DELETE FROM im_outbox');
    await queryDatabase(database.url, 'INSERT INTO im_outbox (message_id, created_at) VALUES (?, NOW()), (?, NOW()), (?, NOW())', [ 'm_left1', 'm_left2', 'm_left3' ]);
    // (counted at most once a second)
    await waitFor(async () => sampleValue(await scrape(app), 'egg_im_outbox_pending') === 3, 5000, 'the 3 entries counted');

    b.socket.close();
    await queryDatabase(database.url, 'DELETE FROM im_outbox');
    await waitFor(async () => {
      const now = await scrape(app);
      return sampleValue(now, 'egg_im_connections') === 1 && sampleValue(now, 'egg_im_outbox_pending') === 0;
    }, 5000, 'the gauges follow the sockets and the outbox');
  });

  it('counts a delivery nobody acknowledges as retried, then failed; a refusal by its code, without an ack time', async () => {
    const before = await scrape(app);
    const carol = await registerAndLogin(app, 'carol');
    const dave = await registerAndLogin(app, 'dave');
    const url = await listen(app);
    const c = await connectDevice(url, carol.token, { record: false });
    const deaf = await connectDevice(url, dave.token, { ack: false });
    sockets.push(c.socket, deaf.socket);
    const to = { type: 'user', id: dave.userId };
    assert.equal((await request(c.socket, 'message:send', { to, type: 'text', content: { text: 'hello?' }, clientMsgId: 'x1' })).ok, true);
    const unknown = await request(c.socket, 'message:send', { to, type: 'nope', content: {}, clientMsgId: 'x2' });
    assert.equal(unknown.error.code, 'UNKNOWN_MESSAGE_TYPE');

    // The fixture: 2 pushes, the first awaited 300 ms, the second 600 ms.
    const after = await waitFor(async () => {
      const s = await scrape(app);
      return sampleValue(s, 'egg_im_deliveries_total', { outcome: 'failed' }) === 1 ? s : undefined;
    }, 5000, 'the failed delivery counted');
    const grew = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels)! - (sampleValue(before, name, labels) ?? 0);
    assert.equal(grew('egg_im_deliveries_total', { outcome: 'retried' }), 1);
    assert.equal(grew('egg_im_deliveries_total', { outcome: 'delivered' }), 0);
    assert.equal(grew('egg_im_messages_total', { result: 'accepted' }), 1);
    assert.equal(sampleValue(after, 'egg_im_messages_total', { result: 'refused', code: 'UNKNOWN_MESSAGE_TYPE' }), 1);
    assert.equal(grew('egg_im_send_ack_seconds_count'), 1, 'a refusal is not an ack');
  });
});

describe('egg-im-metrics: exposure', () => {
  afterEach(() => mm.restore());

  it('with a token: refused without it or with another, served with it', async () => {
    const app = mm.app({ baseDir: 'apps/token', cache: false });
    await app.ready();
    try {
      const without = await app.httpRequest().get('/metrics').expect(401);
      assert.equal(without.headers['www-authenticate'], 'Bearer realm="metrics"');
      assert.doesNotMatch(without.text, /egg_im_/);
      await app.httpRequest().get('/metrics').set('Authorization', 'Bearer scrape-secret-7f3b').expect(401);
      await app.httpRequest().get('/metrics').set('Authorization', 'Basic c2NyYXBlLXNlY3JldC03ZjNh').expect(401);
      const samples = await scrape(app, 'scrape-secret-7f3a');
      assert.equal(sampleValue(samples, 'egg_im_messages_total', { result: 'accepted' }), 0);
    } finally {
      await app.close();
    }
  });

  it('off: the path answers 404 and nothing is recorded', async () => {
    const app = mm.app({ baseDir: 'apps/off', cache: false });
    await app.ready();
    try {
      await app.httpRequest().get('/metrics').expect(404);
      app.imMetrics.messages.answered('accepted', 0.01);
      assert.deepStrictEqual(await app.imMetrics.local(), []);
    } finally {
      await app.close();
    }
  });

  it('on a port of its own: served there by the agent (with its token), not on the app\'s port', async () => {
    const port = await freeTcpPort();
    mm(process.env, 'METRICS_TEST_PORT', String(port));
    const app = mm.app({ baseDir: 'apps/own-port', cache: false });
    await app.ready();
    try {
      await app.httpRequest().get('/metrics').expect(404);
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/metrics`)).status, 401);
      assert.equal((await fetch(`${base}/other`, { headers: { authorization: 'Bearer own-port-secret' } })).status, 404);
      const res = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer own-port-secret' } });
      assert.equal(res.status, 200);
      const samples = parseMetrics(await res.text());
      assert.equal(sampleValue(samples, 'egg_im_metrics_workers'), 1);
      assert.equal(sampleValue(samples, 'egg_im_deliveries_total', { outcome: 'delivered' }), 0);
    } finally {
      await app.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'closed with the app');
  });

  it('on a port that is taken: the app does not start, and says why', async () => {
    const taken = http.createServer();
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve));
    mm(process.env, 'METRICS_TEST_PORT', String((taken.address() as AddressInfo).port));
    const app = mm.app({ baseDir: 'apps/own-port', cache: false });
    try {
      await assert.rejects(app.ready(), /\[egg-im-metrics\] cannot serve the metrics on 127\.0\.0\.1:\d+ \(imMetrics\.port\): .*EADDRINUSE/);
    } finally {
      await app.close();
      taken.close();
    }
  });
});

describe('egg-im-metrics: configuration', () => {
  const valid = { enabled: true, path: '/metrics', token: '', port: 0, host: '127.0.0.1', timeoutMs: 3000 };

  it('refuses at start a value that cannot work, naming the key', () => {
    assert.deepStrictEqual(checkConfig(valid), valid);
    assert.throws(() => checkConfig({ ...valid, port: 70000 }), /config\.imMetrics\.port must be an integer from 0/);
    assert.throws(() => checkConfig({ ...valid, path: 'metrics' }), /config\.imMetrics\.path must be a path starting with \//);
    assert.throws(() => checkConfig({ ...valid, timeoutMs: 0 }), /config\.imMetrics\.timeoutMs/);
    assert.throws(() => checkConfig({ ...valid, token: undefined as unknown as string }), /config\.imMetrics\.token/);
  });
});
