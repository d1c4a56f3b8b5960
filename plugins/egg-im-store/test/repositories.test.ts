import assert from 'node:assert/strict';
import { drivers, storeOn } from './drivers';
import { expectImError } from './helpers';

for (const driver of drivers) {
  describe(`egg-im-store repositories on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'repos');

    it('users: create, find, USERNAME_TAKEN, byte-exact names, exists', async () => {
      const id = await storeOf().users.create('carol', 'scrypt$hash');
      assert.match(id, /^u_[0-9a-z]+$/);
      assert.ok(id.length <= 32);
      const carol = await storeOf().users.findByUsername('carol');
      assert.equal(carol?.id, id);
      assert.equal(carol?.passwordHash, 'scrypt$hash');
      assert.equal((await storeOf().users.findById(id))?.username, 'carol');
      await expectImError(storeOf().users.create('carol', 'other'), 'USERNAME_TAKEN');
      const upper = await storeOf().users.create('Carol', null);
      assert.notEqual(upper, id, 'names compare byte for byte');
      assert.equal(await storeOf().users.exists(id), true);
      assert.equal(await storeOf().users.exists('u_nobody'), false);
      assert.equal(await storeOf().users.exists('x'.repeat(129)), false);
      assert.equal(await storeOf().users.findByUsername('nobody'), null);
    });

    it('users: first lookups of many ids at once share a few queries, and the answers stay exact', async () => {
      const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => storeOf().users.create(`bulk${i}`, null)));
      const manager = storeOf().dataSource.manager;
      const query = manager.query;
      let queries = 0;
      manager.query = function(this: typeof manager, ...args: Parameters<typeof query>) {
        queries++;
        return query.apply(this, args);
      } as typeof query;
      try {
        const asked = [ ...ids, 'u_nobody', ...ids.slice(0, 50), 'u_nobody2' ];
        const answers = await Promise.all(asked.map(id => storeOf().users.exists(id)));
        assert.deepEqual(answers, asked.map(id => !id.startsWith('u_nobody')));
        assert.ok(queries >= 1 && queries <= 5, `${asked.length} lookups took ${queries} queries`);
        queries = 0;
        assert.equal(await storeOf().users.exists(ids[7]), true);
        assert.equal(queries, 0, 'a known id is answered from memory');
        assert.equal(await storeOf().users.exists('u_nobody'), false);
        assert.equal(queries, 1, 'an unknown id is asked again (it may have been created since)');
      } finally {
        delete (manager as { query?: unknown }).query;
      }
      assert.equal(manager.query, query);
    });

    it('users: ensure adds a host-app user once, without a password hash', async () => {
      await storeOf().users.ensure('host_42', 'dave');
      await storeOf().users.ensure('host_42', 'dave');
      const dave = await storeOf().users.findById('host_42');
      assert.equal(dave?.username, 'dave');
      assert.equal(dave?.passwordHash, null);
      await expectImError(storeOf().users.ensure('host_43', 'dave'), 'USERNAME_TAKEN');
      await expectImError(storeOf().users.ensure('x'.repeat(129), 'erin'), 'VALIDATION_FAILED');
      await expectImError(storeOf().users.ensure('host_44 ', 'erin'), 'VALIDATION_FAILED');
      await expectImError(storeOf().users.create('', null), 'VALIDATION_FAILED');
    });

    it('users: last seen only moves forward, at millisecond precision', async () => {
      assert.equal(await storeOf().users.lastSeenAt('host_42'), null);
      const t1 = new Date('2025-03-04T05:06:07.891Z');
      await storeOf().users.markSeen('host_42', t1);
      await storeOf().users.markSeen('host_42', new Date(t1.getTime() - 60_000));
      assert.equal((await storeOf().users.lastSeenAt('host_42'))?.toISOString(), t1.toISOString());
      const t2 = new Date(t1.getTime() + 1);
      await storeOf().users.markSeen('host_42', t2);
      assert.equal((await storeOf().users.lastSeenAt('host_42'))?.toISOString(), t2.toISOString());
      assert.equal(await storeOf().users.lastSeenAt('u_nobody'), null);
    });

    it('sessions: create, find by token hash, revoke once', async () => {
      const tokenHash = 'f'.repeat(64);
      const expiresAt = new Date(Date.now() + 3600_000);
      const id = await storeOf().sessions.create({ userId: 'host_42', deviceId: 'phone', tokenHash, expiresAt });
      assert.match(id, /^s_[0-9a-z]+$/);
      const found = await storeOf().sessions.findByTokenHash(tokenHash);
      assert.equal(found?.id, id);
      assert.equal(found?.userId, 'host_42');
      assert.equal(found?.deviceId, 'phone');
      assert.equal(found?.expiresAt.toISOString(), expiresAt.toISOString());
      assert.equal(found?.revokedAt, null);

      const first = new Date('2025-05-05T05:05:05.555Z');
      assert.equal(await storeOf().sessions.revoke(id, first), tokenHash);
      assert.equal(await storeOf().sessions.revoke(id, new Date()), tokenHash);
      assert.equal((await storeOf().sessions.findById(id))?.revokedAt?.toISOString(), first.toISOString(), 'the first revocation time is kept');
      assert.equal(await storeOf().sessions.revoke('s_nobody'), undefined);
      assert.equal(await storeOf().sessions.findByTokenHash('0'.repeat(64)), null);
      // the token hash is unique
      await assert.rejects(storeOf().sessions.create({ userId: 'host_42', deviceId: 'tablet', tokenHash, expiresAt }));
    });

    it('sessions: listLive gives a user\'s sessions that are neither revoked nor expired, oldest first', async () => {
      const later = new Date(Date.now() + 3600_000);
      // "oldest" is by creation time (milliseconds): sessions made in the same millisecond have no order between them
      const make = async (deviceId: string, expiresAt = later) => {
        await new Promise(resolve => setTimeout(resolve, 2));
        return storeOf().sessions.create({ userId: 'lister', deviceId, tokenHash: `${deviceId}`.padEnd(64, '0'), expiresAt });
      };
      const first = await make('a1');
      const revoked = await make('a2');
      await make('a3', new Date(Date.now() - 1000));
      const last = await make('a4');
      await storeOf().sessions.create({ userId: 'someone-else', deviceId: 'b1', tokenHash: 'b1'.padEnd(64, '0'), expiresAt: later });
      await storeOf().sessions.revoke(revoked);
      assert.deepStrictEqual((await storeOf().sessions.listLive('lister')).map(s => [ s.id, s.deviceId ]), [ [ first, 'a1' ], [ last, 'a4' ] ]);
      assert.deepStrictEqual(await storeOf().sessions.listLive('nobody'), []);
    });

    it('writer: one batch over direct and group conversations sequences each on its own, in submission order', async () => {
      await storeOf().dataSource.query('INSERT INTO im_members (conversation_id, user_id, read_seq, joined_at) VALUES (?, ?, 0, ?), (?, ?, 0, ?)',
        [ 'g:wg', 'xa', '2026-01-01 00:00:00.000', 'g:wg', 'xb', '2026-01-01 00:00:00.000' ]);
      const direct = (conversationId: string, senderId: string, other: string, n: number) => storeOf().writer.append({
        conversationId, kind: 'direct', directMemberIds: [ senderId, other ].sort(), senderId, clientMsgId: `m${n}`, type: 'text', contentJson: `{"n":${n}}`, metaJson: '{}',
      });
      const group = (senderId: string, n: number) => storeOf().writer.append({
        conversationId: 'g:wg', kind: 'group', groupId: 'wg', senderId, clientMsgId: `m${n}`, type: 'text', contentJson: `{"n":${n}}`, metaJson: '{}',
      });
      // Submitted in one tick: one batch.
      const results = await Promise.all([
        direct('d:xa:xb', 'xa', 'xb', 1), group('xa', 2), direct('d:xa:xc', 'xc', 'xa', 3), direct('d:xa:xb', 'xb', 'xa', 4),
        group('xb', 5), direct('d:xa:xb', 'xa', 'xb', 6), group('xa', 7), direct('d:xa:xc', 'xa', 'xc', 8),
      ]);
      const seqs = results.map(r => [ r.message.conversationId, r.message.seq ]);
      assert.deepEqual(seqs, [
        [ 'd:xa:xb', 1 ], [ 'g:wg', 1 ], [ 'd:xa:xc', 1 ], [ 'd:xa:xb', 2 ], [ 'g:wg', 2 ], [ 'd:xa:xb', 3 ], [ 'g:wg', 3 ], [ 'd:xa:xc', 2 ],
      ]);
      const stored = await storeOf().dataSource.query(
        "SELECT conversation_id, seq, content FROM im_messages WHERE conversation_id IN ('d:xa:xb', 'g:wg', 'd:xa:xc') ORDER BY conversation_id, seq");
      assert.deepEqual(stored.map((m: any) => [ m.conversation_id, Number(m.seq), JSON.parse(m.content).n ]), [
        [ 'd:xa:xb', 1, 1 ], [ 'd:xa:xb', 2, 4 ], [ 'd:xa:xb', 3, 6 ], [ 'd:xa:xc', 1, 3 ], [ 'd:xa:xc', 2, 8 ], [ 'g:wg', 1, 2 ], [ 'g:wg', 2, 5 ], [ 'g:wg', 3, 7 ],
      ]);
      const members = await storeOf().dataSource.query(
        "SELECT conversation_id, user_id, read_seq FROM im_members WHERE conversation_id IN ('d:xa:xb', 'g:wg', 'd:xa:xc') ORDER BY conversation_id, user_id");
      assert.deepEqual(members.map((m: any) => [ m.conversation_id, m.user_id, Number(m.read_seq) ]), [
        [ 'd:xa:xb', 'xa', 3 ], [ 'd:xa:xb', 'xb', 2 ], [ 'd:xa:xc', 'xa', 2 ], [ 'd:xa:xc', 'xc', 1 ], [ 'g:wg', 'xa', 3 ], [ 'g:wg', 'xb', 2 ],
      ], 'each sender read up to its latest message; the direct conversations got both member rows');
    });

    it('conversations: a page of the list ends before a last message that would take it past maxBytes, and always has its first', async () => {
      // Four direct conversations of "bx", the newest last: c4 with a short last message, c3 to c1 with ~600 bytes each.
      for (const [ peer, size ] of [ [ 'c1', 600 ], [ 'c2', 600 ], [ 'c3', 600 ], [ 'c4', 10 ] ] as const) {
        await storeOf().writer.append({
          conversationId: `d:bx:${peer}`, kind: 'direct', directMemberIds: [ 'bx', peer ], senderId: peer, clientMsgId: `size-${peer}`, type: 'text',
          contentJson: JSON.stringify({ text: 'x'.repeat(size) }), metaJson: '{}',
        });
        await new Promise(resolve => setTimeout(resolve, 5));
      }
      const ids = (page: { conversations: Array<{ conversationId: string; lastMessage?: unknown }> }) => page.conversations.map(c => c.conversationId);
      const all = await storeOf().conversations.listForUser('bx', { limit: 10 });
      assert.deepEqual(ids(all), [ 'd:bx:c4', 'd:bx:c3', 'd:bx:c2', 'd:bx:c1' ]);
      assert.equal(all.hasMore, false);
      const pages: string[][] = [];
      let after;
      for (;;) {
        const page = await storeOf().conversations.listForUser('bx', { limit: 10, after, maxBytes: 1000 });
        assert.ok(page.conversations.every(c => c.lastMessage), 'every listed conversation has its last message');
        pages.push(ids(page));
        if (!page.hasMore) break;
        after = page.last;
      }
      assert.deepEqual(pages, [ [ 'd:bx:c4', 'd:bx:c3' ], [ 'd:bx:c2' ], [ 'd:bx:c1' ] ]);
      const afterC4 = (await storeOf().conversations.listForUser('bx', { limit: 1 })).last;
      const tiny = await storeOf().conversations.listForUser('bx', { limit: 10, after: afterC4, maxBytes: 100 });
      assert.deepEqual(ids(tiny), [ 'd:bx:c3' ], 'a first last message larger than maxBytes is listed alone');
      assert.equal(tiny.hasMore, true);
    });

    it('receipts: a batch updates member rows in key order, the order the writer locks them in (no deadlock between them)', async () => {
      const { dataSource } = storeOf();
      const query = dataSource.query;
      const seen: unknown[][] = [];
      dataSource.query = function(this: typeof dataSource, sql: string, params?: unknown[]) {
        if (sql.startsWith('UPDATE im_members')) seen.push(params ?? []);
        return query.call(this, sql, params);
      } as typeof query;
      try {
        await Promise.all([ [ 'd:rb', 'u2' ], [ 'd:ra', 'u9' ], [ 'd:rb', 'u1' ] ].map(([ conversationId, userId ]) =>
          storeOf().receipts.delivered({ conversationId, userId, seq: 1, attempts: 1 })));
      } finally {
        delete (storeOf().dataSource as { query?: unknown }).query;
      }
      assert.equal(seen.length, 1, 'one statement for the batch');
      const rows = [];
      for (let i = 0; i < seen[0].length; i += 5) rows.push(seen[0].slice(i, i + 2));
      assert.deepEqual(rows, [ [ 'd:ra', 'u9' ], [ 'd:rb', 'u1' ], [ 'd:rb', 'u2' ] ]);
    });

    it('writer: a repeat answers with the stored message; a batch that fails part-way leaves nothing behind', async () => {
      const conversationId = 'd:wa:wb';
      const send = (senderId: string, clientMsgId: string, contentJson: string) => storeOf().writer.append({
        conversationId, kind: 'direct', directMemberIds: [ 'wa', 'wb' ], senderId, clientMsgId, type: 'text', contentJson, metaJson: '{}',
      });
      const first = await send('wa', 'c1', '{"text":"one"}');
      assert.equal(first.created, true);
      assert.equal(first.message.seq, 1);
      const again = await send('wa', 'c1', '{"text":"one"}');
      assert.equal(again.created, false);
      assert.equal(again.message.id, first.message.id);
      // A stray row holds the seq the next message would take: the batch fails at its message insert, after its
      // conversation bump was sent.
      await storeOf().dataSource.query(
        'INSERT INTO im_messages (id, conversation_id, seq, sender_id, client_msg_id, type, content, meta, created_at) VALUES (?, ?, 2, ?, ?, ?, ?, ?, ?)',
        [ 'm_stray', conversationId, 'zz', 'stray', 'text', '{}', '{}', '2026-01-01 00:00:00.000' ]);
      await assert.rejects(send('wb', 'c2', '{"text":"refused"}'));
      await storeOf().dataSource.query('DELETE FROM im_messages WHERE id = ?', [ 'm_stray' ]);
      // Rolled back (a transaction left open on a pooled connection would be committed by the next one: seq 3).
      const second = await send('wb', 'c3', '{"text":"two"}');
      assert.equal(second.message.seq, 2);
      const [ conversation ] = await storeOf().dataSource.query('SELECT last_seq FROM im_conversations WHERE id = ?', [ conversationId ]);
      assert.equal(Number(conversation.last_seq), 2);
      const messages = await storeOf().dataSource.query('SELECT seq, client_msg_id FROM im_messages WHERE conversation_id = ? ORDER BY seq', [ conversationId ]);
      assert.deepEqual(messages.map((m: any) => [ Number(m.seq), m.client_msg_id ]), [ [ 1, 'c1' ], [ 2, 'c3' ] ]);
      const members = await storeOf().dataSource.query('SELECT user_id, read_seq FROM im_members WHERE conversation_id = ? ORDER BY user_id', [ conversationId ]);
      assert.deepEqual(members.map((m: any) => [ m.user_id, Number(m.read_seq) ]), [ [ 'wa', 1 ], [ 'wb', 2 ] ], 'the senders read what they sent');
      const outbox = await storeOf().dataSource.query('SELECT message_id FROM im_outbox WHERE message_id IN (?, ?)', [ first.message.id, second.message.id ]);
      assert.equal(outbox.length, 2);
    });
  });
}
