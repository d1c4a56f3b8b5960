import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase, TEST_MYSQL_URL } from 'egg-im-testkit';
import mysql from 'mysql2/promise';
import { ImSession, ImUser } from '../lib/entity';
import { isImError } from 'egg-im-protocol';
import { ImStore } from '../lib/ImStore';
import { cleanFixture, coreLogShowing } from './helpers';
import { migrations } from '../lib/migrations';
import { runScript, ScriptText } from '../lib/sql/runScript';

const MIGRATION_NAMES = migrations.map(M => new M().name);

/** A MariaDB account with a password, so the test can prove the password never reaches a log line. */
async function withAdmin<T>(fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const url = new URL(TEST_MYSQL_URL);
  url.pathname = '/';
  const conn = await mysql.createConnection({ uri: url.toString() });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

describe('egg-im-store on MariaDB', () => {
  const user = `eim_${process.pid}_${randomBytes(3).toString('hex')}`;
  const password = `Pw-${randomBytes(9).toString('hex')}`;
  const databases: string[] = [];
  let dbName: string;
  let url: string;
  let app: MockApplication | undefined;

  async function newDatabase(label: string): Promise<{ name: string; url: string }> {
    const db = await createTestDatabase(label);
    databases.push(db.name);
    await withAdmin(conn => conn.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO ?@'%'`, [user]));
    const withUser = new URL(db.url);
    withUser.username = user;
    withUser.password = password;
    return { name: db.name, url: withUser.toString() };
  }

  before(async () => {
    await withAdmin(conn => conn.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, password]));
    ({ name: dbName, url } = await newDatabase('store'));
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  after(async () => {
    for (const name of databases) await dropTestDatabase(name);
    await withAdmin(conn => conn.query("DROP USER IF EXISTS ?@'%'", [user]));
    cleanFixture('mysql');
  });

  function boot(dbUrl = url): MockApplication {
    mm(process.env, 'STORE_TEST_MYSQL_URL', dbUrl);
    return mm.app({ baseDir: 'apps/mysql', cache: false });
  }

  it('is connected and migrated once app.ready() resolves', async () => {
    app = boot();
    await app.ready();
    const store = app.imStore;
    assert.ok(store instanceof ImStore);
    assert.equal(store.driver, 'mysql');
    assert.equal(store.database, dbName);
    assert.ok(!store.url.includes(password));
    // usable straight away
    const [{ one }] = await store.dataSource.query('SELECT 1 AS one');
    assert.equal(Number(one), 1);

    const tables = await store.dataSource.query(
      'SELECT table_name AS name, table_collation AS collation FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name', [dbName]);
    assert.deepEqual(tables.map((t: any) => t.name), ['im_conversations', 'im_groups', 'im_members', 'im_messages', 'im_migrations', 'im_outbox', 'im_sessions', 'im_users']);
    // NO PAD: 'X ' and 'X' are two ids, as in JavaScript and Redis
    for (const t of tables) assert.equal(t.collation, 'utf8mb4_nopad_bin', t.name);
    const textColumns = await store.dataSource.query(
      'SELECT table_name AS t, column_name AS c, collation_name AS collation FROM information_schema.columns WHERE table_schema = ? AND collation_name IS NOT NULL', [dbName]);
    for (const c of textColumns) assert.equal(c.collation, 'utf8mb4_nopad_bin', `${c.t}.${c.c}`);
    const [ session ] = await store.dataSource.query('SELECT @@collation_connection AS collation');
    assert.equal(session.collation, 'utf8mb4_nopad_bin', 'connections compare literals and parameters exactly too');

    const columns = await store.dataSource.query(
      'SELECT table_name AS t, column_name AS c, column_type AS type, is_nullable AS nullable FROM information_schema.columns WHERE table_schema = ? AND table_name IN (?, ?) ORDER BY table_name, ordinal_position', [dbName, 'im_users', 'im_sessions']);
    const described = columns.map((c: any) => `${c.t}.${c.c} ${c.type}${c.nullable === 'YES' ? ' null' : ''}`);
    assert.deepEqual(described, [
      'im_sessions.id varchar(32)',
      'im_sessions.user_id varchar(128)',
      'im_sessions.device_id varchar(64)',
      'im_sessions.token_hash char(64)',
      'im_sessions.expires_at datetime(3)',
      'im_sessions.revoked_at datetime(3) null',
      'im_sessions.created_at datetime(3)',
      'im_users.id varchar(128)',
      'im_users.username varchar(64)',
      'im_users.password_hash varchar(255) null',
      'im_users.created_at datetime(3)',
      'im_users.last_seen_at datetime(3) null',
    ]);

    const indexes = await store.dataSource.query(
      'SELECT table_name AS t, index_name AS name, non_unique AS nonUnique, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS cols FROM information_schema.statistics WHERE table_schema = ? AND table_name IN (?, ?) GROUP BY table_name, index_name, non_unique ORDER BY table_name, index_name', [dbName, 'im_users', 'im_sessions']);
    assert.deepEqual(indexes.map((i: any) => `${i.t}.${i.name}(${i.cols})${Number(i.nonUnique) ? '' : ' unique'}`), [
      'im_sessions.idx_im_sessions_expires_at(expires_at)',
      'im_sessions.idx_im_sessions_user_id(user_id)',
      'im_sessions.PRIMARY(id) unique',
      'im_sessions.uq_im_sessions_token_hash(token_hash) unique',
      'im_users.PRIMARY(id) unique',
      'im_users.uq_im_users_username(username) unique',
    ]);

    const applied = await store.dataSource.query('SELECT name FROM im_migrations ORDER BY id');
    assert.deepEqual(applied.map((r: any) => r.name), MIGRATION_NAMES);
  });

  it('builds one promise wrapper per pooled connection, not one per query', async () => {
    app = boot();
    await app.ready();
    const store = app.imStore;
    const connection = await (store.dataSource.driver as any).obtainMasterConnection();
    try {
      const wrapper = connection.promise();
      assert.equal(connection.promise(), wrapper, 'the same wrapper for every query on the connection');
      const [ rows ] = await wrapper.query('SELECT 1 AS one');
      assert.equal(Number(rows[0].one), 1);
      assert.notEqual(connection.promise(Promise), wrapper, 'a caller naming its own promise type gets a wrapper of its own');
    } finally {
      connection.release();
    }
    // TypeORM's queries go through it, on this connection and the others
    const results = await Promise.all([ 1, 2, 3 ].map(n => store.dataSource.query('SELECT ? AS n', [ n ])));
    assert.deepEqual(results.map(([ row ]) => Number(row.n)), [ 1, 2, 3 ]);
  });

  it('stores and reads users and sessions exactly (ms precision in UTC, binary collation, NULLs)', async () => {
    app = boot();
    await app.ready();
    const store = app.imStore;
    const createdAt = new Date('2025-06-07T08:09:10.123Z');
    await store.getRepository(ImUser).insert([
      { id: 'u_alice', username: 'alice', passwordHash: null, createdAt },
      { id: 'u_Alice', username: 'Alice', passwordHash: 'scrypt$x', createdAt }, // binary collation: a different name
    ]);
    const alice = await store.getRepository(ImUser).findOneByOrFail({ username: 'alice' });
    assert.equal(alice.id, 'u_alice');
    assert.equal(alice.passwordHash, null);
    assert.equal(alice.createdAt.toISOString(), createdAt.toISOString());
    const [{ raw }] = await store.dataSource.query("SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS raw FROM im_users WHERE id = 'u_alice'");
    assert.equal(raw, '2025-06-07 08:09:10.123000', 'stored as UTC');

    const tokenHash = 'a'.repeat(64);
    await store.getRepository(ImSession).insert({ id: 's1', userId: 'u_alice', deviceId: 'd1', tokenHash, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, createdAt });
    const session = await store.getRepository(ImSession).findOneByOrFail({ tokenHash });
    assert.equal(session.revokedAt, null);
    assert.equal(session.expiresAt.getTime() - session.createdAt.getTime(), 3600_000);

    // a constraint violation is not transient: withRetry rethrows it unchanged, after one try
    let tries = 0;
    const err = await store.withRetry(async manager => {
      tries++;
      return manager.getRepository(ImUser).insert({ id: 'u_dup', username: 'alice', passwordHash: null, createdAt });
    }).then(() => undefined, e => e);
    assert.equal(tries, 1);
    assert.equal(err?.code, 'ER_DUP_ENTRY');
  });

  it('runScript: statements in one transaction, a result each; a slow packet is logged like a slow query', async () => {
    app = boot();
    await app.ready();
    const { dataSource } = app.imStore;
    mm(dataSource.options, 'maxQueryExecutionTime', 20);
    app.mockLog(app.coreLogger);
    const results = await runScript(dataSource, 'mysql', new ScriptText([ 'SELECT ? AS a', 'SELECT SLEEP(0.05) AS slept, @@in_transaction AS inside' ]),
      [ 7 ]) as Array<Array<Record<string, unknown>>>;
    assert.equal(Number(results[0][0].a), 7);
    assert.equal(Number(results[1][0].inside), 1, 'the statements ran inside the transaction');
    app.expectLog(/\[egg-im-store\] slow query \(\d+ ms\): START TRANSACTION; SELECT \? AS a; SELECT SLEEP/, app.coreLogger);
    const [ after ] = await dataSource.query('SELECT @@in_transaction AS inside');
    assert.equal(Number(after.inside), 0);
  });

  it('check() reports ok with its latency', async () => {
    app = boot();
    await app.ready();
    const result = await app.imStore.check();
    assert.equal(result.ok, true);
    assert.equal(result.driver, 'mysql');
    assert.equal(typeof result.latencyMs, 'number');
    assert.equal(result.error, undefined);
  });

  it('a second boot is idempotent, and no log line holds the password', async () => {
    app = boot();
    await app.ready();
    const applied = await app.imStore.dataSource.query('SELECT name FROM im_migrations');
    assert.equal(applied.length, MIGRATION_NAMES.length);
    assert.equal(await app.imStore.getRepository(ImUser).count(), 2, 'the rows of earlier boots are kept');
    await app.close();
    app = undefined;
    const log = await coreLogShowing('mysql', [/migrations: none pending/]);
    assert.match(log, new RegExp(`\\[egg-im-store\\] connected: driver=mysql database=${dbName} server=\\d+\\.\\d+\\S* pool=4`));
    assert.match(log, new RegExp(`\\[egg-im-store\\] migrations: none pending \\(${MIGRATION_NAMES.length} applied before\\)`));
    assert.match(log, new RegExp(`\\[egg-im-store\\] connecting: driver=mysql url=mysql://${user}:\\*\\*\\*@`));
    assert.ok(!log.includes(password), 'the password is not in the log');
  });

  it('logs the migrations it applies to a new database', async () => {
    const db = await newDatabase('store3');
    app = boot(db.url);
    await app.ready();
    await app.close();
    app = undefined;
    const log = await coreLogShowing('mysql', [/migrations applied/]);
    assert.match(log, new RegExp(`\\[egg-im-store\\] migrations applied: ${MIGRATION_NAMES.length} \\(${MIGRATION_NAMES.join(', ')}\\); 0 applied before`));
    assert.ok(!log.includes(password));
  });

  it('two apps starting at once on a new database migrate it once (migration lock)', async () => {
    const db = await newDatabase('store2');
    mm(process.env, 'STORE_TEST_MYSQL_URL', db.url);
    const a = mm.app({ baseDir: 'apps/mysql', cache: false });
    const b = mm.app({ baseDir: 'apps/mysql', cache: false, clean: false });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const rows = await a.imStore.dataSource.query('SELECT name FROM im_migrations');
      assert.equal(rows.length, MIGRATION_NAMES.length);
      assert.equal((await b.imStore.check()).ok, true);
      const [{ tables }] = await b.imStore.dataSource.query('SELECT COUNT(*) AS tables FROM information_schema.tables WHERE table_schema = ?', [db.name]);
      assert.equal(Number(tables), 8);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('withRetry retries transient errors and reports STORE_UNAVAILABLE when they persist', async () => {
    app = boot();
    await app.ready();
    const store = app.imStore;
    const deadlock = Object.assign(new Error('Deadlock found when trying to get lock'), { code: 'ER_LOCK_DEADLOCK' });
    let tries = 0;
    const value = await store.withRetry(async () => {
      tries++;
      if (tries === 1) throw deadlock;
      return 'done';
    }, { baseMs: 1 });
    assert.equal(value, 'done');
    assert.equal(tries, 2);

    tries = 0;
    const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' });
    const err: any = await store.withRetry(async () => {
      tries++;
      throw lost;
    }, { attempts: 3, baseMs: 1, label: 'test work' }).then(() => undefined, e => e);
    assert.equal(tries, 3);
    assert.ok(isImError(err), `expected an ImError, got ${err}`);
    assert.equal(err.code, 'STORE_UNAVAILABLE');
    assert.equal(err.status, 503);
    assert.equal(err.details?.reason, 'connection');
    assert.equal(err.details?.cause, 'PROTOCOL_CONNECTION_LOST');

    // in a transaction: the work is rolled back each time, then committed once
    tries = 0;
    await store.withRetry(async manager => {
      tries++;
      await manager.getRepository(ImUser).insert({ id: `u_tx`, username: 'tx', passwordHash: null, createdAt: new Date() });
      if (tries < 2) throw deadlock;
    }, { transaction: true, baseMs: 1 });
    assert.equal(tries, 2);
    assert.equal(await store.getRepository(ImUser).countBy({ username: 'tx' }), 1);
  });
});
