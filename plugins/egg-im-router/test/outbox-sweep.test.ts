import assert from 'node:assert';
import { arrival, Harness, sleep } from './support/harness';

// Fixture: the node never routes after its commit; its outbox sweeper routes every message (1 s grace).
describe('egg-im-router: the outbox sweeper', () => {
  const h = new Harness('outbox-sweep');
  before(() => h.start());
  after(() => h.close());

  it('routes a message to the members who were in the group when it was written, not to one added since', async () => {
    const owner = await h.user('owner');
    const early = await h.user('early');
    const late = await h.user('late');
    const { groupId } = await h.createGroup(owner, [ early ]);
    const { inbox: earlyInbox } = await h.online(early);
    // Online before joining: nothing of this conversation has reached this device yet.
    const { inbox: lateInbox } = await h.online(late);
    const o = await h.socket(owner);

    const before = (await h.text(o, { type: 'group', id: groupId }, 'before the join')).message;
    await h.post(`/im/groups/${groupId}/members`, { userIds: [ late.userId ] }, owner.token).expect(200);
    await arrival(earlyInbox, before.id);
    const after = (await h.text(o, { type: 'group', id: groupId }, 'after the join')).message;
    await arrival(earlyInbox, after.id);
    await arrival(lateInbox, after.id);
    await sleep(300);
    assert.deepStrictEqual(lateInbox.map(m => m.id), [ after.id ], 'the message from before the join is not the late member\'s');
  });
});
