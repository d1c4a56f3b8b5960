import assert from 'node:assert/strict';
import mm, { type MockApplication } from 'egg-mock';
import { startMariadbServer, waitFor, type MariadbServer } from 'egg-im-testkit';
import { isImError } from 'egg-im-protocol';
import { ImUser } from '../lib/entity';
import type { ImStore } from '../lib/ImStore';
import { cleanFixture, coreLogShowing } from './helpers';

/**
 * Fault test: the app runs on a mariadbd of this test's own (temporary datadir, its own port), which is
 * killed (SIGKILL, by its PID) and started again on the same datadir and port. The store must notice,
 * report it, and recover by itself, without restarting the app.
 */
describe('egg-im-store reconnects after its database restarts', function () {
  this.timeout(60000);
  const password = 'S3cretFaultPassw0rd';
  let server: MariadbServer | undefined;
  let app: MockApplication | undefined;

  before(async () => {
    server = await startMariadbServer();
    mm(process.env, 'STORE_TEST_MYSQL_URL', server.url('egg_im_fault', 'im', password));
    app = mm.app({ baseDir: 'apps/fault', cache: false });
    await app.ready();
  });

  after(async () => {
    try {
      await app?.close();
    } finally {
      await server?.destroy();
      cleanFixture('fault');
    }
  });

  const countUsers = (store: ImStore) => store.withRetry(manager => manager.getRepository(ImUser).count(), { label: 'count users' });

  it('reports the outage, answers STORE_UNAVAILABLE, then recovers once the database is back', async () => {
    assert.ok(app && server);
    const store: ImStore = app.imStore;
    assert.equal(store.database, 'egg_im_fault', 'createDatabase made the database on the fresh server');
    assert.equal((await store.check()).ok, true);
    await store.getRepository(ImUser).insert({ id: 'u_before', username: 'before', passwordHash: null, createdAt: new Date() });
    // several connections in the pool, so that stale ones exist when the server dies
    await Promise.all(Array.from({ length: 4 }, () => store.dataSource.query('SELECT SLEEP(0.05)')));

    const port = server.port;
    const pid = server.pid;
    assert.ok(pid);
    const inFlight = store.dataSource.query('SELECT SLEEP(5)').then(() => undefined, e => e);
    await new Promise(resolve => setTimeout(resolve, 100));
    await server.kill('SIGKILL');
    assert.equal(server.running, false);
    const lost: any = await inFlight;
    assert.equal(lost?.code, 'PROTOCOL_CONNECTION_LOST', `a query in flight fails with the lost connection (got ${lost})`);

    const down = await store.check();
    assert.equal(down.ok, false);
    assert.equal(down.driver, 'mysql');
    assert.ok(down.error && down.error.length > 0);
    assert.ok(!down.error.includes(password));

    const err: any = await countUsers(store).then(() => undefined, e => e);
    assert.ok(isImError(err), `expected an ImError, got ${err}`);
    assert.equal(err.code, 'STORE_UNAVAILABLE');
    assert.equal(err.details?.retryable, true);
    assert.equal(err.details?.reason, 'connection');
    assert.equal((await store.check()).ok, false, 'still down');

    await server.start(); // same datadir, same port
    assert.equal(server.port, port);
    assert.notEqual(server.pid, pid);

    await waitFor(async () => (await store.check()).ok, 15000, 'check() to be ok again');
    assert.equal(await countUsers(store), 1, 'committed rows survived the crash');
    // the whole pool works again, not just one connection
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.dataSource.query('SELECT ? AS n, SLEEP(0.02) AS s', [i])));
    assert.deepEqual(results.map(r => Number(r[0].n)), [0, 1, 2, 3, 4, 5, 6, 7]);
    await store.getRepository(ImUser).insert({ id: 'u_after', username: 'after', passwordHash: null, createdAt: new Date() });
    assert.equal(await countUsers(store), 2);

  });

  it('rebuilds a connection pool that TypeORM can no longer use', async () => {
    assert.ok(app);
    const store: ImStore = app.imStore;
    const resetsBefore = store.poolResets;
    // end the pool behind TypeORM's back: every query now fails with "Pool is closed", and TypeORM never reopens it
    const driver = store.dataSource.driver as any;
    await new Promise<void>(resolve => driver.pool.end(() => resolve()));
    await assert.rejects(store.dataSource.query('SELECT 1'), /Pool is closed/);

    await waitFor(async () => (await store.check()).ok, 10000, 'check() to be ok on a new pool');
    assert.equal(store.poolResets, resetsBefore + 1);
    assert.equal(await countUsers(store), 2);
  });

  it('a hung database fails check() within its timeout, and check() recovers when it answers again', async () => {
    assert.ok(app && server);
    const store: ImStore = app.imStore;
    await server.paused(); // SIGSTOP, every thread stopped: sockets stay open, nothing answers
    try {
      const started = Date.now();
      const hung = await store.check();
      const took = Date.now() - started;
      assert.equal(hung.ok, false);
      assert.ok(took < 3000, `check() returned after ${took} ms (checkTimeoutMs is 1000)`);
    } finally {
      server.resume();
    }
    await waitFor(async () => (await store.check()).ok, 10000, 'check() to be ok after the pause');
    assert.equal(await countUsers(store), 2);
  });

  it('logged the outage and the recovery, never the password', async () => {
    assert.ok(app);
    await app.close();
    app = undefined;
    const log = await coreLogShowing('fault', [/\[egg-im-store\] closed \(driver=mysql/]);
    assert.match(log, /WARN .*\[egg-im-store\] database unavailable \(driver=mysql database=egg_im_fault\)/);
    assert.match(log, /WARN .*\[egg-im-store\] count users failed after 3 attempts \(connection\)/);
    assert.match(log, /INFO .*\[egg-im-store\] database reachable again after \d+ ms/);
    assert.match(log, /INFO .*\[egg-im-store\] replaced the database connection pool \(reset 1, database=egg_im_fault\)/);
    assert.match(log, /INFO .*\[egg-im-store\] closed \(driver=mysql database=egg_im_fault\)/);
    assert.ok(!log.includes(password), 'the password is not in the log');
  });
});
