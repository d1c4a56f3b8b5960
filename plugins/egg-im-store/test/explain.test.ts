import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase } from 'egg-im-testkit';
import type { ImStore } from '../lib/ImStore';
import { cleanFixture } from './helpers';

interface Captured {
  sql: string;
  params: unknown[];
}

/**
 * Every read on the message path must use an index designed for it: this runs the repositories' real
 * queries on MariaDB with enough rows for the optimizer to choose, captures their SQL, and fails when
 * EXPLAIN shows a full table scan (`ALL`) or a full index scan (`index`) of a table.
 */
describe('egg-im-store: query plans on MariaDB (EXPLAIN)', function() {
  this.timeout(120000);
  let app: MockApplication;
  let database: { name: string; url: string };
  let store: ImStore;
  const users = Array.from({ length: 60 }, (_, i) => `u_explain_${String(i).padStart(3, '0')}`);
  const groups: string[] = [];
  let someMessageId: string;

  before(async () => {
    database = await createTestDatabase('explain');
    mm(process.env, 'STORE_TEST_MYSQL_URL', database.url);
    app = mm.app({ baseDir: 'apps/mysql', cache: false });
    await app.ready();
    store = app.imStore;
    const now = new Date();
    await store.dataSource.query(`INSERT INTO im_users (id, username, password_hash, created_at) VALUES ${users.map(() => '(?, ?, NULL, ?)').join(', ')}`,
      users.flatMap(id => [ id, id, now ]));
    // 20 groups of 40 members, 100 messages each; 40 direct conversations of 25 messages
    for (let g = 0; g < 20; g++) {
      const members = users.slice(g, g + 40);
      const { conversationId } = await store.conversations.createGroup(`group ${g}`, members[0], members.slice(1));
      groups.push(conversationId);
      const sends = Array.from({ length: 100 }, (_, i) => store.writer.append({
        conversationId, kind: 'group', groupId: conversationId.slice(2), senderId: members[i % members.length],
        clientMsgId: `g${g}-${i}`, type: 'text', contentJson: JSON.stringify({ text: `message ${i}` }), metaJson: '{}',
      }));
      const results = await Promise.all(sends);
      someMessageId = results[50].message.id;
    }
    for (let d = 0; d < 40; d++) {
      const [ a, b ] = [ users[d], users[d + 20] ];
      const conversationId = a < b ? `d:${a}:${b}` : `d:${b}:${a}`;
      await Promise.all(Array.from({ length: 25 }, (_, i) => store.writer.append({
        conversationId, kind: 'direct', directMemberIds: [ a, b ], senderId: i % 2 ? a : b,
        clientMsgId: `d${d}-${i}`, type: 'text', contentJson: JSON.stringify({ text: `dm ${i}` }), metaJson: '{}',
      })));
    }
    await store.dataSource.query('ANALYZE TABLE im_messages, im_members, im_conversations, im_outbox');
  });

  after(async () => {
    await app?.close();
    cleanFixture('mysql');
    if (database) await dropTestDatabase(database.name);
  });

  /** Runs `work`, capturing every SELECT the store sends meanwhile. */
  async function capture(work: () => Promise<unknown>): Promise<Captured[]> {
    const captured: Captured[] = [];
    const original = store.dataSource.query.bind(store.dataSource);
    store.dataSource.query = (async (sql: string, params?: unknown[]) => {
      if (/^\s*SELECT/i.test(sql)) captured.push({ sql, params: params ?? [] });
      return original(sql, params);
    }) as typeof store.dataSource.query;
    try {
      await work();
    } finally {
      store.dataSource.query = original;
    }
    assert(captured.length > 0, 'the work ran no SELECT: nothing was checked');
    return captured;
  }

  async function assertNoScan(label: string, work: () => Promise<unknown>): Promise<void> {
    for (const { sql, params } of await capture(work)) {
      const plan: Array<{ table: string; type: string; key: string | null; rows: number }> = await store.dataSource.query(`EXPLAIN ${sql}`, params);
      for (const row of plan) {
        // A derived table is a page chosen by its own LIMIT (the conversation list's): reading it whole is the point.
        if (row.table?.startsWith('<derived')) continue;
        assert(row.type !== 'ALL' && row.type !== 'index',
          `${label}: "${sql}" scans ${row.table} (type ${row.type}, key ${row.key}, rows ${row.rows}):\n${JSON.stringify(plan, null, 2)}`);
      }
    }
  }

  it('history pages (after, before, newest) read a range of the (conversation_id, seq) key', async () => {
    await assertNoScan('history after', () => store.messages.history(groups[3], users[4], { afterSeq: 10, limit: 50 }));
    await assertNoScan('history before', () => store.messages.history(groups[3], users[4], { beforeSeq: 90, limit: 50 }));
    await assertNoScan('history newest', () => store.messages.history(groups[3], users[4], { limit: 50 }));
  });

  it('cache-first history: the read state and a seq range are primary-key lookups', async () => {
    await assertNoScan('read state', () => store.messages.readState(groups[3], users[4]));
    await assertNoScan('range', () => store.messages.range(groups[3], 40, 89));
  });

  it('sync and the connect-time backlog use the member index', async () => {
    await assertNoScan('sync: conversation states', () => store.messages.conversationStates(users[10]));
    await assertNoScan('undelivered', () => store.messages.undelivered(users[10], 100));
  });

  it('the status of a message and the conversation list use their keys', async () => {
    await assertNoScan('status', () => store.receipts.statusOf(someMessageId));
    await assertNoScan('conversation list', () => store.conversations.listForUser(users[10], { limit: 100 }));
    await assertNoScan('conversation list, a later page', () => store.conversations.listForUser(users[10],
      { limit: 2, after: { updatedAt: new Date(), conversationId: groups[0] } }));
    await assertNoScan('members', () => store.conversations.memberIds(groups[0]));
  });

  it('whether one user is another\'s contact: the member index for one, the primary key for the other', async () => {
    await assertNoScan('shared (group)', () => store.conversations.isContact(users[10], users[30]));
    await assertNoScan('shared (direct)', () => store.conversations.isContact(users[3], users[23]));
    await assertNoScan('not shared', () => store.conversations.isContact(users[0], users[59]));
  });
});
