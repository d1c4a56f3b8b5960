import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, deleteKeysUnder, dropTestDatabase, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { freePort, getJson, start, type Started } from './support/process';

const ROOT = path.resolve(__dirname, '..');

describe('the example app in production mode (egg-cluster, 2 workers)', function() {
  this.timeout(120000);
  let database: { name: string; url: string };
  let logDir: string;
  let port: number;
  let server: Started;
  const prefix = `${uniqueName('prod')}:`;

  before(async () => {
    database = await createTestDatabase('prod');
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-prod-logs-'));
    port = await freePort();
    server = start(process.execPath, [ 'scripts/cluster.js', '--baseDir', 'examples/chat', '--workers', '2', '--port', String(port) ], {
      cwd: ROOT,
      env: { ...process.env, IM_DATABASE_URL: database.url, IM_REDIS_URL: TEST_REDIS_URL, IM_LOG_DIR: logDir, IM_REDIS_PREFIX: prefix },
    });
    // The master says "started" once every worker is up (a worker alone answers /readyz before that).
    await waitFor(() => /\[master\] egg-im started on http:/.test(server.output()), 60000, 'every worker to be up');
    await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/readyz`)).status === 200, 10000, 'the cluster to be ready');
  });

  after(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('serves /readyz from the workers on MySQL and Redis', async () => {
    const { status, body } = await getJson(`http://127.0.0.1:${port}/readyz`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ready');
    assert.equal(body.checks.store.driver, 'mysql');
    assert.equal(body.checks.cache.mode, 'redis');
    assert.match(server.output(), /app_worker#2:\d+ started/);
  });

  it('shuts down cleanly on SIGTERM, plugins closing in reverse order of opening', async () => {
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0, server.output());
    const log = fs.readFileSync(path.join(logDir, 'egg-web.log'), 'utf8');
    const shuttingDown = log.indexOf('[egg-im] shutting down');
    const socketsClosed = log.indexOf('[egg-im-connection] sockets closed');
    const cacheClosed = log.indexOf('[egg-im-cache] closed');
    const storeClosed = log.indexOf('[egg-im-store] closed');
    assert(shuttingDown >= 0 && socketsClosed > shuttingDown && cacheClosed > socketsClosed && storeClosed > cacheClosed,
      `unexpected shutdown order in the log:\n${log.split('\n').filter(l => /shutting down|closed/.test(l)).join('\n')}`);
    const errors = fs.readFileSync(path.join(logDir, 'common-error.log'), 'utf8');
    assert.equal(errors.trim(), '', errors);
  });
});
