import assert from 'node:assert/strict';
import { drivers, storeOn } from './drivers';

for (const driver of drivers) {
  describe(`egg-im-store conversations on ${driver.name}`, () => {
    const storeOf = storeOn(driver, 'conversations');

    it('shareConversation: members of one group share it, until one leaves; a direct conversation is shared from its first message', async () => {
      const { conversationId } = await storeOf().conversations.createGroup('share', 'sa', [ 'sb' ]);
      await storeOf().conversations.addMembers(conversationId, [ 'X ' ]);
      assert.equal(await storeOf().conversations.shareConversation('sa', 'sb'), true);
      assert.equal(await storeOf().conversations.shareConversation('sb', 'sa'), true);
      assert.equal(await storeOf().conversations.shareConversation('sa', 'sc'), false, 'not a member');
      assert.equal(await storeOf().conversations.shareConversation('sa', 'X '), true);
      assert.equal(await storeOf().conversations.shareConversation('sa', 'X'), false, 'ids compare exactly');
      assert.equal(await storeOf().conversations.shareConversation('sa', 'SB'), false);

      await storeOf().conversations.removeMember(conversationId, 'sb');
      assert.equal(await storeOf().conversations.shareConversation('sa', 'sb'), false, 'a member who left shares nothing any more');

      assert.equal(await storeOf().conversations.shareConversation('sc', 'sd'), false);
      await storeOf().writer.append({
        conversationId: 'd:sc:sd', kind: 'direct', directMemberIds: [ 'sc', 'sd' ], senderId: 'sc', clientMsgId: 'first', type: 'text', contentJson: '{}', metaJson: '{}',
      });
      assert.equal(await storeOf().conversations.shareConversation('sd', 'sc'), true);
      assert.equal(await storeOf().conversations.shareConversation('sc', 'sa'), false);
    });

    it('shareConversation: a user shares with themself, even one without conversations', async () => {
      assert.equal(await storeOf().conversations.shareConversation('nobody', 'nobody'), true);
      assert.equal(await storeOf().conversations.shareConversation('sa', 'sa'), true);
      assert.equal(await storeOf().conversations.shareConversation('nobody', 'sa'), false);
    });
  });
}
