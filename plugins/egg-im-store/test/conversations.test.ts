import assert from 'node:assert/strict';
import { drivers, storeOn } from './drivers';

for (const driver of drivers) {
  describe(`egg-im-store conversations on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'conversations');

    it('isContact: a member who sent or read in a shared conversation, until one leaves; being put in one is not enough', async () => {
      const { conversationId } = await storeOf().conversations.createGroup('share', 'sa', [ 'sb' ]);
      await storeOf().conversations.addMembers(conversationId, [ 'X ' ]);
      assert.equal(await storeOf().conversations.isContact('sa', 'sb'), false, 'put in a group, silent');
      assert.equal(await storeOf().conversations.isContact('sb', 'sa'), false, 'made the group, silent');
      await storeOf().writer.append({
        conversationId, kind: 'group', senderId: 'sa', clientMsgId: 'g1', type: 'text', contentJson: '{}', metaJson: '{}',
      });
      assert.equal(await storeOf().conversations.isContact('sb', 'sa'), true, 'sa sent in it');
      assert.equal(await storeOf().conversations.isContact('sa', 'sb'), false, 'sb has neither sent nor read');
      await storeOf().receipts.read({ conversationId, userId: 'sb', seq: 1 });
      assert.equal(await storeOf().conversations.isContact('sa', 'sb'), true, 'sb read in it');
      assert.equal(await storeOf().conversations.isContact('sc', 'sa'), false, 'not a member');
      assert.equal(await storeOf().conversations.isContact('X ', 'sa'), true);
      assert.equal(await storeOf().conversations.isContact('X', 'sa'), false, 'ids compare exactly');
      assert.equal(await storeOf().conversations.isContact('SB', 'sa'), false);

      await storeOf().conversations.removeMember(conversationId, 'sb');
      assert.equal(await storeOf().conversations.isContact('sa', 'sb'), false, 'a member who left shares nothing any more');
      assert.equal(await storeOf().conversations.isContact('sb', 'sa'), false);

      // A member added later counts from its join: what it could not see does not make it a contact.
      await storeOf().conversations.addMembers(conversationId, [ 'late' ]);
      assert.equal(await storeOf().conversations.isContact('sa', 'late'), false);

      await storeOf().writer.append({
        conversationId: 'd:sc:sd', kind: 'direct', directMemberIds: [ 'sc', 'sd' ], senderId: 'sc', clientMsgId: 'first', type: 'text', contentJson: '{}', metaJson: '{}',
      });
      assert.equal(await storeOf().conversations.isContact('sd', 'sc'), true, 'the sender of a direct message');
      assert.equal(await storeOf().conversations.isContact('sc', 'sd'), false, 'its recipient, until it reads or replies');
      await storeOf().writer.append({
        conversationId: 'd:sc:sd', kind: 'direct', directMemberIds: [ 'sc', 'sd' ], senderId: 'sd', clientMsgId: 'reply', type: 'text', contentJson: '{}', metaJson: '{}',
      });
      assert.equal(await storeOf().conversations.isContact('sc', 'sd'), true, 'replied');
      assert.equal(await storeOf().conversations.isContact('sc', 'sa'), false);
    });

    it('undelivered: conversations with something unread are read first, and at most `limit` are read', async () => {
      const append = (conversationId: string, senderId: string, clientMsgId: string) => storeOf().writer.append({
        conversationId, kind: 'group', senderId, clientMsgId, type: 'text', contentJson: '{}', metaJson: '{}',
      });
      // 30 groups of 'talker' alone, where it wrote (its own messages are never pushed back to it), then 3 with
      // a message for it: by id, the 30 come first.
      for (let i = 0; i < 30; i++) {
        const { conversationId } = await storeOf().conversations.createGroup(`own ${i}`, 'talker', []);
        await append(conversationId, 'talker', `t${i}`);
      }
      const pending: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { conversationId } = await storeOf().conversations.createGroup(`for it ${i}`, 'other', [ 'talker' ]);
        pending.push((await append(conversationId, 'other', `p${i}`)).message.id);
      }
      const { dataSource } = storeOf();
      const query = dataSource.query.bind(dataSource);
      let reads = 0;
      dataSource.query = ((...args: Parameters<typeof query>) => {
        reads++;
        return query(...args);
      }) as typeof query;
      try {
        const first = await storeOf().messages.undelivered('talker', 2);
        assert.equal(first.length, 33, 'every conversation, for its last seq');
        const pushed = first.flatMap(b => b.messages.map(m => m.id));
        assert.equal(pushed.length, 2);
        assert.ok(pushed.every(id => pending.includes(id)), 'only messages for it');
        assert.equal(reads, 1 + 2, 'the member rows, then the conversations with something unread, up to the limit');

        reads = 0;
        const all = await storeOf().messages.undelivered('talker', 10);
        assert.deepEqual(all.flatMap(b => b.messages.map(m => m.id)).sort(), [ ...pending ].sort());
        assert.equal(reads, 1 + 10, 'at most `limit` conversations read, however many hold only its own messages');
      } finally {
        dataSource.query = query;
      }
    });

    it('isContact: a user is their own contact, even one without conversations', async () => {
      assert.equal(await storeOf().conversations.isContact('nobody', 'nobody'), true);
      assert.equal(await storeOf().conversations.isContact('sa', 'sa'), true);
      assert.equal(await storeOf().conversations.isContact('nobody', 'sa'), false);
    });
  });
}
