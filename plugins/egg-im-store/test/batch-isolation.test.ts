import assert from 'node:assert/strict';
import type { AppendItem, AppendResult } from '../lib/repositories/MessageWriter';
import { drivers, storeOn } from './drivers';

const AT = '2026-01-01 00:00:00.000';

/** Each promise's outcome, in order: its value or its error. */
function settle<T>(promises: Array<Promise<T>>): Promise<Array<{ value?: T; error?: any }>> {
  return Promise.all(promises.map(p => p.then(value => ({ value }), error => ({ error }))));
}

for (const driver of drivers) {
  describe(`egg-im-store: one item's failure stays its own in a shared batch, on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'isolation');

    const send = (conversationId: string, senderId: string, clientMsgId: string, extra: Partial<AppendItem> = {}): AppendItem => ({
      conversationId, kind: 'group', groupId: conversationId.slice(2), senderId, clientMsgId, type: 'text',
      contentJson: JSON.stringify({ text: `${senderId} ${clientMsgId}` }), metaJson: '{}', ...extra,
    });

    it('messages: honest sends pushed together with refused ones are stored and answered; each refused one fails alone', async () => {
      const groups: string[] = [];
      for (const n of [ 1, 2, 3 ]) groups.push((await storeOf().conversations.createGroup(`iso ${n}`, 'ia', [ 'ib', 'ic' ])).conversationId);
      const [ g1, g2, g3 ] = groups;
      const stored = await storeOf().writer.append(send(g1, 'ia', 'earlier'));
      // A stray row holds the seq the next message of g3 would take: a duplicate key that persists.
      await storeOf().dataSource.query(
        'INSERT INTO im_messages (id, conversation_id, seq, sender_id, client_msg_id, type, content, meta, created_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)',
        [ 'm_stray_iso', g3, 'zz', 'stray', 'text', '{}', '{}', AT ]);

      const honest = Array.from({ length: 20 }, (_, i) => send(i % 2 ? g1 : g2, [ 'ia', 'ib', 'ic' ][i % 3], `h${i}`));
      const poisoned: AppendItem[] = [ send(g3, 'ib', 'p-dup') ];
      // MariaDB in strict mode refuses a value longer than its column (SQLite does not check lengths).
      if (driver.name === 'MariaDB') poisoned.push(send(g2, 'ic', 'p-long', { type: 't'.repeat(65) }));
      const repeat = send(g1, 'ia', 'earlier');
      const items = [ ...honest.slice(0, 7), poisoned[0], ...honest.slice(7, 13), repeat, ...(poisoned[1] ? [ poisoned[1] ] : []), ...honest.slice(13) ];
      // One tick: one shared batch.
      const outcomes = await settle<AppendResult>(items.map(item => storeOf().writer.append(item)));

      const outcomeOf = (item: AppendItem) => outcomes[items.indexOf(item)];
      for (const item of honest) {
        const { value, error } = outcomeOf(item);
        assert.equal(error, undefined, `${item.clientMsgId}: ${error}`);
        assert.equal(value?.created, true, item.clientMsgId);
      }
      assert.deepEqual({ created: outcomeOf(repeat).value?.created, id: outcomeOf(repeat).value?.message.id }, { created: false, id: stored.message.id },
        'a repeat of a stored send is answered with it, never an error');
      assert.match(String(outcomeOf(poisoned[0]).error?.code), /^(ER_DUP_ENTRY|SQLITE_CONSTRAINT_PRIMARYKEY)$/);
      if (poisoned[1]) assert.equal(outcomeOf(poisoned[1]).error?.code, 'ER_DATA_TOO_LONG');

      // Stored once each, in submission order per conversation, seqs without gaps.
      for (const [ conversationId, first ] of [ [ g1, 2 ], [ g2, 1 ] ] as const) {
        const expected = honest.filter(h => h.conversationId === conversationId).map(h => h.clientMsgId);
        const rows = await storeOf().dataSource.query('SELECT seq, client_msg_id FROM im_messages WHERE conversation_id = ? AND seq >= ? ORDER BY seq', [ conversationId, first ]);
        assert.deepEqual(rows.map((r: any) => r.client_msg_id), expected, conversationId);
        assert.deepEqual(rows.map((r: any) => Number(r.seq)), expected.map((_, i) => first + i), conversationId);
        const answered = honest.filter(h => h.conversationId === conversationId).map(h => outcomeOf(h).value!.message.seq);
        assert.deepEqual(answered, expected.map((_, i) => first + i), `${conversationId}: the answers carry the stored seqs`);
        const [ c ] = await storeOf().dataSource.query('SELECT last_seq FROM im_conversations WHERE id = ?', [ conversationId ]);
        assert.equal(Number(c.last_seq), first - 1 + expected.length, `${conversationId}: the refused send left no seq behind`);
      }
      const [ g3State ] = await storeOf().dataSource.query('SELECT last_seq FROM im_conversations WHERE id = ?', [ g3 ]);
      assert.equal(Number(g3State.last_seq), 0, 'the refused batch was rolled back');
      const outbox = await storeOf().dataSource.query('SELECT COUNT(*) AS n FROM im_outbox');
      assert.equal(Number(outbox[0].n), 1 + honest.length, 'an outbox entry per stored message, none for a refused one');
    });

    it('messages: a value of the wrong kind fails its own send at once', async () => {
      const { conversationId } = await storeOf().conversations.createGroup('iso kinds', 'ia', [ 'ib' ]);
      const outcomes = await settle([
        storeOf().writer.append(send(conversationId, 'ia', 'k1')),
        storeOf().writer.append(send(conversationId, 'ia', 'k2', { contentJson: { text: 'an object' } as unknown as string })),
        storeOf().writer.append(send(conversationId, 'ia', 'k3', { senderId: null as unknown as string })),
        storeOf().writer.append(send(conversationId, 'ib', 'k4')),
      ]);
      assert.deepEqual(outcomes.map(o => o.value?.message.seq), [ 1, undefined, undefined, 2 ]);
      assert.match(outcomes[1].error.message, /^\[egg-im-store\] contentJson must be a string \(got object\)$/);
      assert.match(outcomes[2].error.message, /^\[egg-im-store\] senderId must be a string \(got null\)$/);
    });

    it('receipts: a NaN or fractional seq, or attempts the column cannot hold, fail alone; the other receipts of the batch are recorded', async () => {
      const members = Array.from({ length: 20 }, (_, i) => [ `d:r${i % 4}`, `ru${i}` ]);
      const rowsToMake = [ ...members, [ 'd:r3', 'ru_big' ] ];
      await storeOf().dataSource.query(`INSERT INTO im_members (conversation_id, user_id, read_seq, joined_at) VALUES ${rowsToMake.map(() => '(?, ?, 0, ?)').join(', ')}`,
        rowsToMake.flatMap(([ c, u ]) => [ c, u, AT ]));
      const honest = members.map(([ conversationId, userId ], i) => ({ conversationId, userId, seq: 3 + (i % 5), attempts: 1 + (i % 3) }));
      const poisoned = [
        { conversationId: 'd:r0', userId: 'ru0', seq: NaN, attempts: 1 },
        { conversationId: 'd:r1', userId: 'ru1', seq: 2.5, attempts: 1 },
        { conversationId: 'd:r2', userId: 'ru2', seq: 4, attempts: -1 },
      ];
      // An INT column cannot hold 2^40: MariaDB in strict mode refuses it (SQLite stores it).
      if (driver.name === 'MariaDB') poisoned.push({ conversationId: 'd:r3', userId: 'ru_big', seq: 50, attempts: 2 ** 40 });
      const receipts = [ ...honest.slice(0, 10), ...poisoned, ...honest.slice(10) ];
      const outcomes = await settle(receipts.map(r => storeOf().receipts.delivered(r)));
      const outcomeOf = (r: object) => outcomes[receipts.indexOf(r as typeof receipts[number])];
      for (const r of honest) assert.equal(outcomeOf(r).error, undefined, `${r.userId}: ${outcomeOf(r).error}`);
      assert.match(outcomeOf(poisoned[0]).error.message, /^\[egg-im-store\] seq must be an integer >= 1 \(got NaN\)$/);
      assert.match(outcomeOf(poisoned[1]).error.message, /^\[egg-im-store\] seq must be an integer >= 1 \(got 2\.5\)$/);
      assert.match(outcomeOf(poisoned[2]).error.message, /^\[egg-im-store\] attempts must be an integer >= 0 \(got -1\)$/);
      if (poisoned[3]) assert.equal(outcomeOf(poisoned[3]).error?.code, 'ER_WARN_DATA_OUT_OF_RANGE');
      const rows = await storeOf().dataSource.query(
        `SELECT conversation_id, user_id, delivered_seq, attempts FROM im_members WHERE user_id IN (${members.map(() => '?').join(', ')})`, members.map(m => m[1]));
      const byMember = new Map(rows.map((r: any) => [ `${r.conversation_id}\n${r.user_id}`, [ Number(r.delivered_seq), Number(r.attempts) ] ]));
      for (const r of honest) assert.deepEqual(byMember.get(`${r.conversationId}\n${r.userId}`), [ r.seq, r.attempts ], r.userId);
    });

    it('receipts: failed() guards its numbers the same way', async () => {
      await storeOf().dataSource.query('INSERT INTO im_members (conversation_id, user_id, read_seq, joined_at) VALUES (?, ?, 0, ?), (?, ?, 0, ?)',
        [ 'd:rf', 'fa', AT, 'd:rf', 'fb', AT ]);
      const outcomes = await settle([
        storeOf().receipts.failed({ conversationId: 'd:rf', userId: 'fa', seq: 2, attempts: 5 }),
        storeOf().receipts.failed({ conversationId: 'd:rf', userId: 'fb', seq: 2, attempts: NaN }),
      ]);
      assert.equal(outcomes[0].error, undefined);
      assert.match(outcomes[1].error.message, /attempts must be an integer >= 0 \(got NaN\)/);
      const [ row ] = await storeOf().dataSource.query('SELECT failed_seq, attempts FROM im_members WHERE conversation_id = ? AND user_id = ?', [ 'd:rf', 'fa' ]);
      assert.deepEqual([ Number(row.failed_seq), Number(row.attempts) ], [ 2, 5 ]);
    });

    it('outbox: a removal of something that is not an id fails alone; the others are removed', async () => {
      const { conversationId } = await storeOf().conversations.createGroup('iso outbox', 'ia', [ 'ib' ]);
      const sent = await Promise.all([ 'o1', 'o2', 'o3' ].map(c => storeOf().writer.append(send(conversationId, 'ia', c))));
      const ids = sent.map(s => s.message.id);
      const outcomes = await settle([
        storeOf().outbox.remove(ids[0]), storeOf().outbox.remove({ id: ids[2] } as unknown as string), storeOf().outbox.remove(ids[1]),
      ]);
      assert.deepEqual(outcomes.map(o => o.error?.message), [ undefined, '[egg-im-store] messageId must be a string (got object)', undefined ]);
      const left = await storeOf().dataSource.query(`SELECT message_id FROM im_outbox WHERE message_id IN (?, ?, ?)`, ids);
      assert.deepEqual(left.map((r: any) => r.message_id), [ ids[2] ]);
    });
  });
}
