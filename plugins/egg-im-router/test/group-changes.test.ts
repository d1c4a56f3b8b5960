import assert from 'node:assert';
import { waitFor } from 'egg-im-testkit';
import { Harness } from './support/harness';

// Fixture: 3 group changes per user per minute over HTTP.
describe('egg-im-router: group changes per user', () => {
  const h = new Harness('group-changes');
  before(() => h.start());
  after(() => h.close());

  it('refuses a user\'s fourth change of the window (made, added, removed alike) with RATE_LIMITED, scope "groups", changing nothing', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const carol = await h.user('carol');
    const { groupId, conversationId } = await h.createGroup(alice, [ bob ]);
    await h.post(`/im/groups/${groupId}/members`, { userIds: [ carol.userId ] }, alice.token).expect(200);
    await h.delete(`/im/groups/${groupId}/members/${carol.userId}`, alice.token).expect(204);

    for (const refused of [
      h.post('/im/groups', { name: 'one too many', memberIds: [ bob.userId ] }, alice.token),
      h.post(`/im/groups/${groupId}/members`, { userIds: [ carol.userId ] }, alice.token),
      h.delete(`/im/groups/${groupId}/members/${bob.userId}`, alice.token),
    ]) {
      const res = await refused.expect(429);
      assert.equal(res.body.error.code, 'RATE_LIMITED');
      assert.equal(res.body.error.details.scope, 'groups');
      assert.ok(res.body.error.details.retryAfterMs > 0 && res.body.error.details.retryAfterMs <= 60_000);
      assert.ok(Number(res.headers['retry-after']) >= 1);
    }
    const members = await h.rows<{ user_id: string }>('SELECT user_id FROM im_members WHERE conversation_id = ? ORDER BY user_id', [ conversationId ]);
    assert.deepStrictEqual(members.map(m => m.user_id), [ alice.userId, bob.userId ].sort());
    const groups = await h.rows('SELECT id FROM im_groups WHERE created_by = ?', [ alice.userId ]);
    assert.equal(groups.length, 1, 'the refused group was not made');
    await h.app.expectLog(`group changes refused (over im.limits.groupChangesPerUser): user ${alice.userId}`, 'coreLogger');
    // Leaving is never limited.
    await h.delete(`/im/groups/${groupId}/members/${alice.userId}`, alice.token).expect(204);
  });

  it('counts each user apart, and leaves host code (app.im.groups) unlimited', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    for (let i = 0; i < 3; i++) await h.createGroup(alice, [ bob ]);
    await h.post('/im/groups', { name: 'over', memberIds: [] }, alice.token).expect(429);

    await h.createGroup(bob, [ alice ]);
    for (let i = 0; i < 5; i++) await h.app.im.groups.create(alice.userId, { name: `from the host ${i}`, memberIds: [ bob.userId ] });
    const groups = await h.rows('SELECT id FROM im_groups WHERE created_by = ?', [ alice.userId ]);
    assert.equal(groups.length, 8);
  });

  // Closes the app: the last test of this file.
  it('logs the refusals past the digest\'s lines as a count, written when the app closes', async () => {
    const dave = await h.user('dave');
    const bob = await h.user('bob');
    for (let i = 0; i < 3; i++) await h.createGroup(dave, [ bob ]);
    // More than the digest's 10 lines of an interval, with the earlier tests' refusals.
    for (let i = 0; i < 12; i++) await h.post('/im/groups', { name: 'over', memberIds: [] }, dave.token).expect(429);
    await h.app.close();
    await waitFor(() => {
      try {
        h.app.expectLog(new RegExp(`group changes refused \\(over im.limits.groupChangesPerUser\\): \\d+ more in \\d+ s, for user ${dave.userId};`), 'coreLogger');
        return true;
      } catch {
        return false;
      }
    }, 3000, 'the count in the log');
  });
});
