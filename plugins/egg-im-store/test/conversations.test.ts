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

    it('isContact: a user is their own contact, even one without conversations', async () => {
      assert.equal(await storeOf().conversations.isContact('nobody', 'nobody'), true);
      assert.equal(await storeOf().conversations.isContact('sa', 'sa'), true);
      assert.equal(await storeOf().conversations.isContact('nobody', 'sa'), false);
    });
  });
}
