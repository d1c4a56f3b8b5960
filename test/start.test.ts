import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from 'egg-im-testkit';
import { START_FLAGS } from '../framework/egg-im/lib/v8Flags';
import { spawn } from 'node:child_process';
import { freePort, getJson, start, type Started } from './support/process';

const ROOT = path.resolve(__dirname, '..');

/** The README's start: `npm start` is the production start of the demo, on the embedded default (no server). */
describe('npm start, and workers without Redis', function() {
  this.timeout(120000);
  let dir: string;
  const started: Started[] = [];
  /** Process groups started here. */
  const groups: number[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-start-'));
  });

  after(async () => {
    for (const run of started) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
    for (const group of groups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The embedded default, with the SQLite file and the logs in the test's folder. */
  const embedded = (name: string) => ({
    ...process.env,
    IM_DATABASE_URL: `sqlite:${path.join(dir, `${name}.sqlite`)}`,
    IM_REDIS_URL: '',
    IM_LOG_DIR: path.join(dir, `${name}-logs`),
    WORKERS: '',
    EGG_KEYS: '',
    EGG_SERVER_ENV: '',
    NODE_ENV: '',
  });

  it('npm start: production mode, one worker, SQLite and the in-memory cache; SIGTERM stops it', async () => {
    const port = await freePort();
    // In a process group of its own, stopped as a terminal's Ctrl-C or a service manager does: the whole group is
    // signalled (npm passes a signal to a shell that does not pass it on).
    const child = spawn('npm', [ 'start' ], { cwd: ROOT, env: { ...embedded('npm'), PORT: String(port) }, detached: true, stdio: [ 'ignore', 'pipe', 'pipe' ] });
    let output = '';
    child.stdout.on('data', chunk => { output += chunk; });
    child.stderr.on('data', chunk => { output += chunk; });
    const run: Started = { child, output: () => output, exited: new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal }))) };
    groups.push(child.pid!);
    await waitFor(() => /\[master\] egg-im started on http:/.test(run.output()), 90000, 'npm start to start')
      .catch(err => { throw new Error(`${err.message}\n${run.output()}`); });
    const { status, body } = await getJson(`http://127.0.0.1:${port}/readyz`);
    assert.equal(status, 200);
    assert.equal(body.checks.store.driver, 'better-sqlite3');
    assert.equal(body.checks.cache.mode, 'memory');
    assert.match(run.output(), /"env":"prod"/);
    assert.match(run.output(), /app_worker#1:\d+ started/);
    assert.doesNotMatch(run.output(), /app_worker#2/);
    // The V8 flags read only at start (START_FLAGS) reach the worker through scripts/cluster.js.
    const workerPid = /app_worker#1:(\d+) started/.exec(run.output())![1];
    const workerArgs = fs.readFileSync(`/proc/${workerPid}/cmdline`, 'utf8').split('\0');
    assert.ok(START_FLAGS.length > 0, 'the framework names its start flags');
    for (const flag of START_FLAGS) assert.ok(workerArgs.includes(flag), `the worker runs with ${flag}: ${workerArgs.join(' ')}`);
    // No EGG_KEYS: cookies are signed with a key made for this install, readable by its user only.
    const keys = fs.statSync(path.join(ROOT, 'examples/chat/run/egg-keys'));
    assert.equal(keys.mode & 0o077, 0, 'run/egg-keys is private');
    assert.equal(keys.size, 64, 'a 32-byte random key, in hex');
    process.kill(-child.pid!, 'SIGTERM');
    await run.exited;
    await waitFor(() => getJson(`http://127.0.0.1:${port}/readyz`).then(() => false, () => true), 35000, 'nothing to listen on the port');
  });

  it('two workers without Redis refuse to start, saying what to set', async () => {
    const port = await freePort();
    const run = start(process.execPath, [ 'scripts/cluster.js', '--baseDir', 'test/fixtures/apps/node', '--workers', '2', '--port', String(port) ], {
      cwd: ROOT,
      env: embedded('workers'),
    });
    started.push(run);
    const { code } = await run.exited;
    assert.equal(code, 1, run.output());
    assert.match(run.output(), /\[egg-im\] 2 workers share no cache: set IM_REDIS_URL \(or imCache\.client\.url\), or start one worker \(--workers 1\)/);
  });
});
