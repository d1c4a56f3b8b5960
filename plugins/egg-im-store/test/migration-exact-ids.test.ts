import assert from 'node:assert/strict';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase, TEST_MYSQL_URL, uniqueName } from 'egg-im-testkit';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../lib/createImStore';
import { normalizeClientConfig } from '../lib/defaults';
import { ImStore } from '../lib/ImStore';
import { migrations } from '../lib/migrations';
import { runMigrations } from '../lib/runMigrations';
import { parseStoreUrl } from '../lib/storeUrl';
import { cleanFixture, FIXTURES } from './helpers';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const AT = '2026-01-02 03:04:05.678';
const TABLES: Record<string, string> = {
  im_users: 'id', im_sessions: 'id', im_groups: 'id', im_conversations: 'id', im_members: 'conversation_id, user_id',
  im_messages: 'conversation_id, seq', im_outbox: 'message_id',
};

/** Every row of every egg-im table, text as hex bytes: what a migration must keep exactly. */
async function snapshot(query: (sql: string) => Promise<any[]>): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [ table, key ] of Object.entries(TABLES)) {
    const rows = await query(`SELECT * FROM ${table} ORDER BY ${key}`);
    out[table] = rows.map(row => Object.fromEntries(Object.entries(row).map(([ column, value ]) =>
      [ column, typeof value === 'string' ? Buffer.from(value).toString('hex') : value instanceof Date ? value.toISOString() : value ])));
  }
  return out;
}

async function indexes(query: (sql: string, params: unknown[]) => Promise<any[]>, database: string): Promise<string[]> {
  const rows = await query(
    'SELECT table_name AS t, index_name AS name, non_unique AS nonUnique, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS cols ' +
    'FROM information_schema.statistics WHERE table_schema = ? GROUP BY table_name, index_name, non_unique ORDER BY table_name, index_name', [ database ]);
  return rows.map(i => `${i.t}.${i.name}(${i.cols})${Number(i.nonUnique) ? '' : ' unique'}`);
}

describe('egg-im-store: the exact-ids migration on a MariaDB database with data', function() {
  this.timeout(120000);
  let database: { name: string; url: string };
  let app: MockApplication | undefined;

  before(async () => {
    database = await createTestDatabase('premigration');
  });

  after(async () => {
    await app?.close();
    cleanFixture('mysql');
    await dropTestDatabase(database.name);
  });

  it('keeps every row byte for byte and every index, and then compares ids exactly', async () => {
    // The database as the three earlier migrations left it, written by the repositories of that schema.
    const cfg = normalizeClientConfig({ url: database.url });
    const dataSource = new DataSource({ ...buildDataSourceOptions(parseStoreUrl(database.url, FIXTURES), cfg, quiet), migrations: migrations.slice(0, 3) });
    await dataSource.initialize();
    let before: Record<string, unknown[]>;
    let indexesBefore: string[];
    let groupConversation: string;
    try {
      await runMigrations(dataSource, 60000, quiet);
      const old = new ImStore({ dataSource, driver: 'mysql', database: database.name, url: database.url, logger: quiet, retry: cfg.retry, write: cfg.write, checkTimeoutMs: 2000 });
      for (const [ id, name ] of [ [ 'X', 'ex' ], [ 'x', 'small-ex' ], [ '\u0425', 'cyrillic-ha' ], [ 'u_'.padEnd(32, '7'), 'thirty-two' ] ]) await old.users.ensure(id, name);
      await old.sessions.create({ userId: 'X', deviceId: 'phone', tokenHash: 'b'.repeat(64), expiresAt: new Date('2030-01-01T00:00:00.000Z') });
      ({ conversationId: groupConversation } = await old.conversations.createGroup('before', 'X', [ 'x', '\u0425' ]));
      await Promise.all([
        old.writer.append({ conversationId: groupConversation, kind: 'group', groupId: groupConversation.slice(2), senderId: 'X', clientMsgId: 'c',
          type: 'text', contentJson: '{"text":"h\u00e9llo \u{1F600} trailing  ","z":1,"a":2}', metaJson: '{}' }),
        old.writer.append({ conversationId: 'd:X:x', kind: 'direct', directMemberIds: [ 'X', 'x' ], senderId: 'x', clientMsgId: 'c',
          type: 'text', contentJson: '{"text":"\u0425"}', metaJson: '{"k":"v "}' }),
      ]);
      await dataSource.query('UPDATE im_members SET delivered_seq = 1, delivered_at = ?, attempts = 2 WHERE conversation_id = ? AND user_id = ?', [ AT, 'd:X:x', 'X' ]);
      before = await snapshot(sql => dataSource.query(sql));
      indexesBefore = await indexes((sql, params) => dataSource.query(sql, params), database.name);
      assert.equal(before.im_messages.length, 2);
    } finally {
      await dataSource.destroy();
    }

    mm(process.env, 'STORE_TEST_MYSQL_URL', database.url);
    app = mm.app({ baseDir: 'apps/mysql', cache: false });
    await app.ready();
    const store = app.imStore;
    const applied = await store.dataSource.query('SELECT name FROM im_migrations ORDER BY id');
    assert.deepEqual(applied.map((r: any) => r.name), migrations.map(M => new M().name));
    // (later migrations add columns: the columns of before are compared)
    const after = await snapshot(sql => store.dataSource.query(sql));
    const columnsOf = (rows: unknown[]) => Object.keys((rows[0] ?? {}) as object);
    const kept = Object.fromEntries(Object.entries(after).map(([ table, rows ]) => [ table,
      rows.map(row => Object.fromEntries(columnsOf(before[table]).map(column => [ column, (row as Record<string, unknown>)[column] ]))) ]));
    assert.deepEqual(kept, before, 'every row is kept, byte for byte');
    assert.deepEqual(await indexes((sql, params) => store.dataSource.query(sql, params), database.name), indexesBefore, 'every index is kept');

    const columns = await store.dataSource.query(
      'SELECT table_name AS t, column_name AS c, column_type AS type, collation_name AS collation FROM information_schema.columns ' +
      'WHERE table_schema = ? AND collation_name IS NOT NULL ORDER BY table_name, ordinal_position', [ database.name ]);
    for (const c of columns) assert.equal(c.collation, 'utf8mb4_nopad_bin', `${c.t}.${c.c}`);
    const widths = Object.fromEntries(columns.map((c: any) => [ `${c.t}.${c.c}`, c.type ]));
    for (const column of [ 'im_users.id', 'im_sessions.user_id', 'im_groups.created_by', 'im_conversations.id', 'im_members.conversation_id',
      'im_members.user_id', 'im_messages.conversation_id', 'im_messages.sender_id', 'im_messages.client_msg_id' ]) {
      assert.equal(widths[column], 'varchar(128)', column);
    }

    // What the old collation refused now works, and the data goes on from where it was.
    await store.users.ensure('x'.repeat(128), 'long');
    await store.conversations.addMembers(groupConversation, [ 'X ' ]);
    assert.deepEqual(await store.conversations.memberIds(groupConversation), [ 'X', 'X ', 'x', '\u0425' ]);
    const next = await store.writer.append({ conversationId: groupConversation, kind: 'group', groupId: groupConversation.slice(2), senderId: 'X',
      clientMsgId: 'c ', type: 'text', contentJson: '{}', metaJson: '{}' });
    assert.deepEqual([ next.created, next.message.seq ], [ true, 2 ]);
    const repeat = await store.writer.append({ conversationId: groupConversation, kind: 'group', groupId: groupConversation.slice(2), senderId: 'X',
      clientMsgId: 'c', type: 'text', contentJson: '{}', metaJson: '{}' });
    assert.deepEqual([ repeat.created, repeat.message.seq ], [ false, 1 ], 'a send stored before the migration is still found');
  });
});

describe('egg-im-store: a database it creates itself', () => {
  const name = uniqueName('created');
  let app: MockApplication | undefined;

  after(async () => {
    await app?.close();
    cleanFixture('create-database');
    await dropTestDatabase(name);
  });

  it('has the NO PAD binary collation by default', async () => {
    const url = new URL(TEST_MYSQL_URL);
    url.pathname = `/${name}`;
    mm(process.env, 'STORE_TEST_MYSQL_URL', url.toString());
    app = mm.app({ baseDir: 'apps/create-database', cache: false });
    await app.ready();
    const [ schema ] = await app.imStore.dataSource.query(
      'SELECT default_character_set_name AS charset, default_collation_name AS collation FROM information_schema.schemata WHERE schema_name = ?', [ name ]);
    assert.deepEqual({ ...schema }, { charset: 'utf8mb4', collation: 'utf8mb4_nopad_bin' });
  });
});
