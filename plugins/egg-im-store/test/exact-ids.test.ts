import assert from 'node:assert/strict';
import type { AppendItem } from '../lib/repositories/MessageWriter';
import { drivers, storeOn } from './drivers';
import { expectImError } from './helpers';

/** Ids that a PAD SPACE or case-insensitive collation, or a careless normalization, would take for `X`. */
const LOOK_ALIKES = [ 'X ', 'x', '\u0425' /* Cyrillic capital Ha */ ];
const LONG_ID = `u${'0123456789abcdef'.repeat(8)}`.slice(0, 128);

for (const driver of drivers) {
  describe(`egg-im-store: ids compare exactly on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'exactids');

    const groupSend = (conversationId: string, senderId: string, clientMsgId: string, text = clientMsgId): AppendItem => ({
      conversationId, kind: 'group', groupId: conversationId.slice(2), senderId, clientMsgId, type: 'text',
      contentJson: JSON.stringify({ text }), metaJson: '{}',
    });

    it('users: X, "X ", x and a Cyrillic look-alike are four users, each found by its own id only', async () => {
      await storeOf().users.ensure('X', 'user-X');
      await storeOf().users.ensure('x', 'user-x');
      await storeOf().users.ensure('\u0425', 'user-cyrillic');
      // The boundary refuses padded ids; one stored before it did (or by the host app) is still a user of its own.
      await storeOf().dataSource.query('INSERT INTO im_users (id, username, password_hash, created_at) VALUES (?, ?, NULL, ?)',
        [ 'X ', 'user-X-space', '2026-01-01 00:00:00.000' ]);
      assert.equal((await storeOf().users.findById('X'))?.username, 'user-X');
      assert.equal((await storeOf().users.findById('X '))?.username, 'user-X-space');
      assert.equal((await storeOf().users.findById('x'))?.username, 'user-x');
      assert.equal((await storeOf().users.findById('\u0425'))?.username, 'user-cyrillic');
      assert.equal(await storeOf().users.findById('X  '), null);
      assert.equal(await storeOf().users.exists('X'), true);
      assert.equal(await storeOf().users.exists('X  '), false);
      assert.equal(await storeOf().users.exists('\u0425 '), false);
      const rows = await storeOf().dataSource.query('SELECT id FROM im_users WHERE id = ?', [ 'X' ]);
      assert.deepEqual(rows.map((r: { id: string }) => r.id), [ 'X' ]);
    });

    it('members: adding and removing "X " touches that member only, never X', async () => {
      const { conversationId } = await storeOf().conversations.createGroup('look-alikes', 'X', [ 'x', '\u0425' ]);
      await storeOf().conversations.addMembers(conversationId, [ 'X ' ]);
      assert.deepEqual(await storeOf().conversations.memberIds(conversationId), [ 'X', 'X ', 'x', '\u0425' ].sort());
      await storeOf().conversations.removeMember(conversationId, 'X ');
      assert.deepEqual(await storeOf().conversations.memberIds(conversationId), [ 'X', 'x', '\u0425' ].sort());
      await storeOf().conversations.removeMember(conversationId, 'X ');
      assert.deepEqual(await storeOf().conversations.memberIds(conversationId), [ 'X', 'x', '\u0425' ].sort(), 'X is still a member');
    });

    it('dedupe: (sender, "c") and (sender, "c ") are two messages, in one batch or apart; (sender, "c") again is a repeat', async () => {
      const { conversationId } = await storeOf().conversations.createGroup('dedupe', 'X', [ 'x' ]);
      const together = await Promise.all([ storeOf().writer.append(groupSend(conversationId, 'X', 'c')), storeOf().writer.append(groupSend(conversationId, 'X', 'c ')) ]);
      assert.deepEqual(together.map(r => r.created), [ true, true ]);
      assert.notEqual(together[0].message.id, together[1].message.id);
      const apart = await storeOf().writer.append(groupSend(conversationId, 'X', 'C'));
      assert.equal(apart.created, true);
      const later = await storeOf().writer.append(groupSend(conversationId, 'X', 'c  '));
      assert.equal(later.created, true);
      const repeat = await storeOf().writer.append(groupSend(conversationId, 'X', 'c'));
      assert.equal(repeat.created, false);
      assert.equal(repeat.message.id, together[0].message.id);
      const stored = await storeOf().dataSource.query('SELECT client_msg_id, seq FROM im_messages WHERE conversation_id = ? ORDER BY seq', [ conversationId ]);
      assert.deepEqual(stored.map((m: any) => [ m.client_msg_id, Number(m.seq) ]), [ [ 'c', 1 ], [ 'c ', 2 ], [ 'C', 3 ], [ 'c  ', 4 ] ]);
    });

    it('a 128-character user id is a user, a session owner, a group creator, a member and a sender', async () => {
      assert.equal(LONG_ID.length, 128);
      await storeOf().users.ensure(LONG_ID, 'long-id');
      assert.equal(await storeOf().users.exists(LONG_ID), true);
      assert.equal((await storeOf().users.findById(LONG_ID))?.id, LONG_ID);
      const sessionId = await storeOf().sessions.create({ userId: LONG_ID, deviceId: 'd1', tokenHash: 'e'.repeat(64), expiresAt: new Date(Date.now() + 60_000) });
      assert.equal((await storeOf().sessions.findById(sessionId))?.userId, LONG_ID);
      const { conversationId } = await storeOf().conversations.createGroup('long', LONG_ID, [ 'X' ]);
      assert.deepEqual(await storeOf().conversations.memberIds(conversationId), [ 'X', LONG_ID ].sort());
      const longClientMsgId = 'k'.repeat(128);
      const sent = await storeOf().writer.append(groupSend(conversationId, LONG_ID, longClientMsgId, 'hello'));
      assert.equal(sent.created, true);
      assert.equal(sent.message.senderId, LONG_ID);
      assert.equal((await storeOf().writer.append(groupSend(conversationId, LONG_ID, longClientMsgId, 'hello'))).created, false);
      const direct = await storeOf().writer.append({
        conversationId: `dh:${'f'.repeat(40)}`, kind: 'direct', directMemberIds: [ 'X', LONG_ID ].sort(), senderId: LONG_ID,
        clientMsgId: 'd1', type: 'text', contentJson: '{}', metaJson: '{}',
      });
      assert.equal(direct.message.seq, 1);
      assert.deepEqual(await storeOf().conversations.memberIds(`dh:${'f'.repeat(40)}`), [ 'X', LONG_ID ].sort());
      const [ list ] = (await storeOf().conversations.listForUser(LONG_ID, { limit: 10 })).conversations;
      assert.equal(list.conversationId, `dh:${'f'.repeat(40)}`);
      assert.equal(list.peerId, 'X');
      await expectImError(storeOf().users.ensure(`${LONG_ID}z`, 'too-long'), 'VALIDATION_FAILED');
    });

    it('no look-alike reaches the same rows: a lookup in SQL compares exactly', async () => {
      for (const id of LOOK_ALIKES) {
        const rows = await storeOf().dataSource.query('SELECT id FROM im_users WHERE id = ?', [ id ]);
        assert.deepEqual(rows.map((r: { id: string }) => r.id), [ id ], JSON.stringify(id));
      }
      const [ same ] = await storeOf().dataSource.query('SELECT CASE WHEN ? = ? THEN 1 ELSE 0 END AS same', [ 'X', 'X ' ]);
      assert.equal(Number(same.same), 0, 'the connection itself compares exactly (literals and parameters)');
    });
  });
}
