import assert from 'node:assert/strict';
import type { MockApplication } from 'egg-mock';
import type { ImStore } from '../lib/ImStore';
import { drivers } from './drivers';

for (const driver of drivers) {
  describe(`egg-im-store conversations on ${driver.name}`, () => {
    let app: MockApplication;
    let store: ImStore;
    let cleanup: () => Promise<void> = async () => undefined;

    before(async () => {
      const env = await driver.setup('conversations');
      cleanup = env.cleanup;
      app = env.boot();
      await app.ready();
      store = app.imStore;
    });

    after(async () => {
      await app?.close();
      await cleanup();
    });

    it('shareConversation: members of one group share it, until one leaves; a direct conversation is shared from its first message', async () => {
      const { conversationId } = await store.conversations.createGroup('share', 'sa', [ 'sb' ]);
      await store.conversations.addMembers(conversationId, [ 'X ' ]);
      assert.equal(await store.conversations.shareConversation('sa', 'sb'), true);
      assert.equal(await store.conversations.shareConversation('sb', 'sa'), true);
      assert.equal(await store.conversations.shareConversation('sa', 'sc'), false, 'not a member');
      assert.equal(await store.conversations.shareConversation('sa', 'X '), true);
      assert.equal(await store.conversations.shareConversation('sa', 'X'), false, 'ids compare exactly');
      assert.equal(await store.conversations.shareConversation('sa', 'SB'), false);

      await store.conversations.removeMember(conversationId, 'sb');
      assert.equal(await store.conversations.shareConversation('sa', 'sb'), false, 'a member who left shares nothing any more');

      assert.equal(await store.conversations.shareConversation('sc', 'sd'), false);
      await store.writer.append({
        conversationId: 'd:sc:sd', kind: 'direct', directMemberIds: [ 'sc', 'sd' ], senderId: 'sc', clientMsgId: 'first', type: 'text', contentJson: '{}', metaJson: '{}',
      });
      assert.equal(await store.conversations.shareConversation('sd', 'sc'), true);
      assert.equal(await store.conversations.shareConversation('sc', 'sa'), false);
    });

    it('shareConversation: a user shares with themself, even one without conversations', async () => {
      assert.equal(await store.conversations.shareConversation('nobody', 'nobody'), true);
      assert.equal(await store.conversations.shareConversation('sa', 'sa'), true);
      assert.equal(await store.conversations.shareConversation('nobody', 'sa'), false);
    });
  });
}
