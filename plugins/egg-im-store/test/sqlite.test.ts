import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { ImStore } from '../lib/ImStore';
import { ImUser } from '../lib/entity';
import { cleanFixture, coreLogShowing, FIXTURES, makeTempDir } from './helpers';
import { migrations } from '../lib/migrations';

const MIGRATION_NAMES = migrations.map(M => new M().name);

describe('egg-im-store on SQLite', () => {
  let dir: string;
  let file: string;
  let app: MockApplication | undefined;

  before(() => {
    dir = makeTempDir('sqlite');
    file = path.join(dir, 'nested', 'im.sqlite');
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    cleanFixture('sqlite');
    cleanFixture('embedded');
  });

  function boot(scenario: string, url: string): MockApplication {
    mm(process.env, 'IM_DATABASE_URL', url);
    return mm.app({ baseDir: `apps/${scenario}`, cache: false });
  }

  it('connects to sqlite:<file> from IM_DATABASE_URL, in WAL mode, and migrates', async () => {
    app = boot('sqlite', `sqlite:${file}`);
    await app.ready();
    const store = app.imStore;
    assert.ok(store instanceof ImStore);
    assert.equal(store.driver, 'better-sqlite3');
    assert.equal(store.database, file);
    assert.ok(fs.existsSync(file), 'the database file (and its folder) is created');

    const [{ journal_mode: mode }] = await store.dataSource.query('PRAGMA journal_mode');
    assert.equal(mode, 'wal');
    const tables = (await store.dataSource.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((r: any) => r.name);
    assert.deepEqual(tables.filter((t: string) => t.startsWith('im_')), ['im_conversations', 'im_groups', 'im_members', 'im_messages', 'im_migrations', 'im_outbox', 'im_sessions', 'im_users']);
    const indexes = (await store.dataSource.query("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name"));
    assert.deepEqual(indexes.map((i: any) => `${i.tbl_name}.${i.name}`), [
      'im_members.idx_im_members_user',
      'im_outbox.idx_im_outbox_created_at',
      'im_sessions.idx_im_sessions_expires_at',
      'im_sessions.idx_im_sessions_user_id',
      'im_messages.uq_im_messages_id',
      'im_messages.uq_im_messages_sender_client',
      'im_sessions.uq_im_sessions_token_hash',
      'im_users.uq_im_users_username',
    ]);
    assert.match(indexes.find((i: any) => i.name === 'uq_im_users_username').sql, /CREATE UNIQUE INDEX/);
    const applied = await store.dataSource.query('SELECT name FROM im_migrations ORDER BY id');
    assert.deepEqual(applied.map((r: any) => r.name), MIGRATION_NAMES);
    const userColumns = (await store.dataSource.query('PRAGMA table_info(im_users)')).map((c: any) => `${c.name} ${c.type}${c.notnull ? '' : ' null'}`);
    assert.deepEqual(userColumns, ['id varchar(32)', 'username varchar(64)', 'password_hash varchar(255) null', 'created_at datetime(3)', 'last_seen_at datetime(3) null']);
    const sessionColumns = (await store.dataSource.query('PRAGMA table_info(im_sessions)')).map((c: any) => `${c.name} ${c.type}${c.notnull ? '' : ' null'}`);
    assert.deepEqual(sessionColumns, ['id varchar(32)', 'user_id varchar(32)', 'device_id varchar(64)', 'token_hash char(64)', 'expires_at datetime(3)', 'revoked_at datetime(3) null', 'created_at datetime(3)']);

    const check = await store.check();
    assert.equal(check.ok, true);
    assert.equal(check.driver, 'better-sqlite3');
    assert.equal(typeof check.latencyMs, 'number');

    const createdAt = new Date('2025-01-02T03:04:05.678Z');
    await store.getRepository(ImUser).insert({ id: 'u1', username: 'alice', passwordHash: null, createdAt });
    const back = await store.getRepository(ImUser).findOneByOrFail({ username: 'alice' });
    assert.equal(back.passwordHash, null);
    assert.equal(back.createdAt.toISOString(), createdAt.toISOString());
    await assert.rejects(store.getRepository(ImUser).insert({ id: 'u2', username: 'alice', passwordHash: 'x', createdAt }), /UNIQUE/);
  });

  it('is idempotent on a second boot: no migration runs twice', async () => {
    app = boot('sqlite', `sqlite:${file}`);
    await app.ready();
    const applied = await app.imStore.dataSource.query('SELECT name FROM im_migrations');
    assert.equal(applied.length, MIGRATION_NAMES.length);
    assert.equal((await app.imStore.getRepository(ImUser).count()), 1, 'data of the first boot is still there');
    await app.close();
    app = undefined;
    const nonePending = new RegExp(`\\[egg-im-store\\] migrations: none pending \\(${MIGRATION_NAMES.length} applied before\\)`);
    const connected = /\[egg-im-store\] connected: driver=better-sqlite3 database=\S*im\.sqlite/;
    const log = await coreLogShowing('sqlite', [nonePending, connected]);
    assert.match(log, nonePending);
    assert.match(log, connected);
  });

  it('lets several processes start on one new file at once: one migrates, the others wait', async function () {
    this.timeout(30000);
    const shared = path.join(dir, 'shared.sqlite');
    const script = path.join(__dirname, 'fixtures/scripts/startStore.ts');
    const startAt = Date.now() + 2500; // ts-node needs a moment; then all start together
    const results = await Promise.all(Array.from({ length: 4 }, () => new Promise<any>((resolve, reject) => {
      execFile(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), script, `sqlite:${shared}`, String(startAt)],
        { timeout: 25000 }, (err, stdout) => {
          const line = stdout.trim().split('\n').pop() || '';
          try {
            resolve(JSON.parse(line));
          } catch {
            reject(err || new Error(`no result from ${script}: ${stdout}`));
          }
        });
    })));
    assert.deepEqual(results, Array.from({ length: 4 }, () => ({ ok: true, migrations: MIGRATION_NAMES.length })));
  });

  it('uses <baseDir>/run/egg-im.sqlite when the url is empty', async () => {
    const expected = path.join(FIXTURES, 'embedded', 'run', 'egg-im.sqlite');
    fs.rmSync(path.dirname(expected), { recursive: true, force: true });
    app = boot('embedded', '');
    await app.ready();
    assert.equal(app.imStore.driver, 'better-sqlite3');
    assert.equal(app.imStore.database, expected);
    assert.ok(fs.existsSync(expected));
    assert.equal((await app.imStore.check()).ok, true);
    const tables = await app.imStore.dataSource.query("SELECT name FROM sqlite_master WHERE name = 'im_users'");
    assert.equal(tables.length, 1);
    await app.close();
    app = undefined;
    const embedded = /embedded default: IM_DATABASE_URL is not set/;
    assert.match(await coreLogShowing('embedded', [embedded]), embedded);
  });
});
