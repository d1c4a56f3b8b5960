import assert from 'node:assert';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, deleteKeysUnder, dropTestDatabase, remoteLogin, remoteRegister, request, TEST_REDIS_URL, uniqueName, waitFor, type Socket } from 'egg-im-testkit';
import { connectDevice } from 'egg-im-testkit/lib/messaging';
import { parseMetrics, sampleValue, type Sample } from 'egg-im-testkit/lib/metrics';
import { freePort, start, type Started } from './support/process';

const ROOT = path.resolve(__dirname, '..');

/** One scrape on a connection of its own, so that egg-cluster hands each to the next worker. */
function scrape(url: string): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, timeout: 10000 }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', chunk => { text += chunk; });
      res.on('end', () => (res.statusCode === 200 ? resolve(parseMetrics(text)) : reject(new Error(`${res.statusCode}: ${text}`))));
    }).on('error', reject);
  });
}

describe('metrics of an egg-cluster app (2 workers): every scrape covers both', function() {
  this.timeout(120000);
  let database: { name: string; url: string };
  let logDir: string;
  let port: number;
  let server: Started;
  const sockets: Socket[] = [];
  const prefix = `${uniqueName('metrics')}:`;

  before(async () => {
    database = await createTestDatabase('metrics');
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-metrics-logs-'));
    port = await freePort();
    server = start(process.execPath, [ 'scripts/cluster.js', '--baseDir', 'examples/chat', '--workers', '2', '--port', String(port) ], {
      cwd: ROOT,
      env: { ...process.env, IM_DATABASE_URL: database.url, IM_REDIS_URL: TEST_REDIS_URL, IM_LOG_DIR: logDir, IM_REDIS_PREFIX: prefix },
    });
    await waitFor(() => /\[master\] egg-im started on http:/.test(server.output()), 90000, 'every worker to be up')
      .catch(err => { throw new Error(`${err.message}\n${server.output().slice(-3000)}`); });
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('sums the workers\' counters and gauges, whichever worker answers', async () => {
    const url = `http://127.0.0.1:${port}`;
    const alice = await remoteLogin(url, await remoteRegister(url, 'alice'));
    const bob = await remoteLogin(url, await remoteRegister(url, 'bob'));
    // Three sockets, each its own connection: the workers share them.
    const a1 = await connectDevice(url, alice.token, { record: false });
    const a2 = await connectDevice(url, alice.token, { record: false });
    const b = await connectDevice(url, bob.token);
    sockets.push(a1.socket, a2.socket, b.socket);
    for (let i = 1; i <= 5; i++) {
      const ack = await request(a1.socket, 'message:send', { to: { type: 'user', id: bob.userId }, type: 'text', content: { text: `m${i}` }, clientMsgId: `m${i}` });
      assert.equal(ack.ok, true);
    }
    await waitFor(() => b.inbox.length >= 5, 10000, 'bob has the 5 messages');

    // The sends and the deliveries each happened on one worker; a scrape reaching either worker shows them all.
    await waitFor(async () => sampleValue(await scrape(`${url}/metrics`), 'egg_im_deliveries_total', { outcome: 'delivered' }) === 5,
      10000, 'the 5 deliveries counted');
    for (let i = 0; i < 4; i++) {
      const samples = await scrape(`${url}/metrics`);
      assert.equal(sampleValue(samples, 'egg_im_metrics_workers'), 2, `scrape ${i}`);
      assert.equal(sampleValue(samples, 'egg_im_messages_total', { result: 'accepted' }), 5, `scrape ${i}`);
      assert.equal(sampleValue(samples, 'egg_im_send_ack_seconds_count'), 5, `scrape ${i}`);
      assert.equal(sampleValue(samples, 'egg_im_deliveries_total', { outcome: 'delivered' }), 5, `scrape ${i}`);
      assert.equal(sampleValue(samples, 'egg_im_connections'), 3, `scrape ${i}`);
      // every worker is on Redis: the largest of their 1s, not their sum
      assert.equal(sampleValue(samples, 'egg_im_cache_mode', { mode: 'redis' }), 1, `scrape ${i}`);
    }
  });
});
