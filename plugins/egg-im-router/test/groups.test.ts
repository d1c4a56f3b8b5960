import assert from 'node:assert';
import { request, waitFor } from 'egg-im-testkit';
import { arrival, firstSeqs, Harness, sleep, type WireMessage } from './support/harness';

describe('egg-im-router: groups', () => {
  const h = new Harness('messaging');
  before(() => h.start());
  after(() => h.close());

  const group = (groupId: string) => ({ type: 'group' as const, id: groupId });

  it('create: the creator and members each receive every message; the sender\'s other device too', async () => {
    const owner = await h.user('owner');
    const members = await Promise.all([ h.user('m'), h.user('m'), h.user('m') ]);
    const created = await h.post('/im/groups', { name: 'team', memberIds: [ ...members.map(m => m.userId), owner.userId ] }, owner.token).expect(201);
    const { groupId, conversationId } = created.body;
    assert.match(groupId, /^g_/);
    assert.equal(conversationId, `g:${groupId}`);

    const ownerSocket = await h.socket(owner);
    const { inbox: ownerOtherInbox } = await h.online(await h.login(owner, 'other'));
    const online = await Promise.all(members.map(m => h.online(m)));
    const sockets = online.map(o => o.socket);
    const inboxes = online.map(o => o.inbox);
    const sent: WireMessage[] = [];
    for (let i = 0; i < 3; i++) sent.push((await h.text(ownerSocket, group(groupId), `hello ${i}`)).message);
    sent.push((await h.text(sockets[1], group(groupId), 'from a member')).message);
    assert.deepStrictEqual(sent.map(m => m.seq), [ 1, 2, 3, 4 ]);
    assert.ok(sent.every(m => m.conversationId === conversationId));
    for (const [ i, list ] of inboxes.entries()) {
      const expected = sent.filter(m => m.senderId !== members[i].userId);
      await waitFor(() => firstSeqs(list).length === expected.length, 5000, `member ${i}`);
      assert.deepStrictEqual(firstSeqs(list), expected.map(m => m.seq));
    }
    await waitFor(() => firstSeqs(ownerOtherInbox).length === 4, 5000, 'the owner\'s other device');
    // Delivered to everyone, and read by the member who wrote seq 4 (sending marks what came before it read).
    const status = await h.waitStatus(owner.token, sent[0].id, [ 'delivered', 'read' ]);
    assert.deepStrictEqual(status.recipients.map((r: any) => [ r.userId, r.status ]).sort(),
      members.map(m => [ m.userId, m === members[1] ? 'read' : 'delivered' ]).sort());
    assert.equal(status.status, 'delivered');

    const list = (await h.get('/im/conversations', members[0].token).expect(200)).body.conversations;
    assert.deepStrictEqual(list, [ { conversationId, type: 'group', groupId, name: 'team', lastSeq: 4, readSeq: 0, unread: 4, lastMessage: sent[3] } ]);
  });

  it('add: a new member receives what is written after it joined, and reads history from there', async () => {
    const owner = await h.user('owner');
    const early = await h.user('early');
    const late = await h.user('late');
    const { groupId, conversationId } = await h.createGroup(owner, [ early ]);
    const o = await h.socket(owner);
    const before = (await h.text(o, group(groupId), 'before')).message;
    const added = await h.post(`/im/groups/${groupId}/members`, { userIds: [ late.userId ] }, early.token).expect(200);
    assert.deepStrictEqual(added.body, { groupId, memberIds: [ early.userId, late.userId, owner.userId ].sort() });
    // The message before it joined is not the late member's to see, in the list either.
    const [ listed ] = (await h.get('/im/conversations', late.token).expect(200)).body.conversations;
    assert.deepStrictEqual(listed, { conversationId, type: 'group', groupId, name: 'group', lastSeq: 1, readSeq: 1, unread: 0 });
    const { socket: l, inbox: lateInbox } = await h.online(late);
    const afterJoin = (await h.text(o, group(groupId), 'after')).message;
    await arrival(lateInbox, afterJoin.id);
    await sleep(100);
    assert.deepStrictEqual(lateInbox.map(m => m.id), [ afterJoin.id ]);
    const page = (await h.get(`/im/conversations/${conversationId}/messages`, late.token).expect(200)).body;
    assert.deepStrictEqual(page, { messages: [ afterJoin ], hasMore: false });
    const synced = await request(l, 'sync', {});
    assert.deepStrictEqual(synced.messages, [ afterJoin ]);
    // The earlier member still reads everything.
    const full = (await h.get(`/im/conversations/${conversationId}/messages`, early.token).expect(200)).body;
    assert.deepStrictEqual(full.messages.map((m: WireMessage) => m.id), [ before.id, afterJoin.id ]);
    // The status of the earlier message does not list the late member, nor is it the late member's to read.
    assert.deepStrictEqual((await h.status(owner.token, before.id)).recipients.map((r: any) => r.userId), [ early.userId ]);
    const hidden = await h.get(`/im/messages/${before.id}/status`, late.token).expect(404);
    assert.equal(hidden.body.error.code, 'NOT_FOUND');
    assert.equal((await h.status(late.token, afterJoin.id)).messageId, afterJoin.id);
  });

  it('remove: the removed member stops receiving, cannot post or read (NOT_FOUND: the group is gone for them), and sync stops', async () => {
    const owner = await h.user('owner');
    const stay = await h.user('stay');
    const gone = await h.user('gone');
    const { groupId, conversationId } = await h.createGroup(owner, [ stay, gone ]);
    const o = await h.socket(owner);
    const { socket: g, inbox: goneInbox } = await h.online(gone);
    const stayInbox = (await h.online(stay)).inbox;
    const first = (await h.text(o, group(groupId), 'everyone')).message;
    await arrival(goneInbox, first.id);

    await h.delete(`/im/groups/${groupId}/members/${gone.userId}`, owner.token).expect(204);
    const after = (await h.text(o, group(groupId), 'without gone')).message;
    await arrival(stayInbox, after.id);
    await sleep(200);
    assert.deepStrictEqual(goneInbox.map(m => m.id), [ first.id ]);

    const post = await h.text(g, group(groupId), 'let me in');
    assert.equal(post.ok, false);
    assert.equal(post.error.code, 'NOT_FOUND');
    assert.equal((await h.post('/im/messages', { to: group(groupId), type: 'text', content: { text: 'x' }, clientMsgId: h.clientMsgId() }, gone.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.get(`/im/conversations/${conversationId}/messages`, gone.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.get(`/im/messages/${after.id}/status`, gone.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await request(g, 'message:read', { conversationId, seq: 2 })).error.code, 'NOT_FOUND');
    assert.deepStrictEqual((await request(g, 'sync', {})).messages, []);
    assert.deepStrictEqual((await h.get('/im/conversations', gone.token).expect(200)).body.conversations, []);
    assert.equal((await h.post(`/im/groups/${groupId}/members`, { userIds: [ gone.userId ] }, gone.token).expect(404)).body.error.code, 'NOT_FOUND');
    // The members still see the removal: the status of the new message does not list it.
    assert.deepStrictEqual((await h.status(owner.token, after.id)).recipients.map((r: any) => r.userId), [ stay.userId ]);
    const rows = await h.rows('SELECT COUNT(*) AS n FROM im_messages WHERE sender_id = ?', [ gone.userId ]);
    assert.equal(Number(rows[0].n), 0);
    // Removing someone who is not a member: NOT_FOUND; a non-member removing: NOT_FOUND too (the group is not theirs to see).
    assert.equal((await h.delete(`/im/groups/${groupId}/members/${gone.userId}`, owner.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.delete(`/im/groups/${groupId}/members/${stay.userId}`, gone.token).expect(404)).body.error.code, 'NOT_FOUND');
  });

  it('a member list cached by a read that raced with a removal never lets the removed member back in', async () => {
    const owner = await h.user('owner');
    const gone = await h.user('gone');
    const { groupId, conversationId } = await h.createGroup(owner, [ gone ]);
    const g = await h.socket(gone);
    const conversations = h.app.imStore.conversations;
    const real = conversations.memberIds;
    // The real query, held after it answered: a read that started before the removal and caches after it.
    let release!: () => void;
    const held = new Promise<void>(resolve => { release = resolve; });
    let calls = 0;
    conversations.memberIds = async (id: string) => {
      const result = await real.call(conversations, id);
      if (id === conversationId && ++calls === 1) await held;
      return result;
    };
    try {
      const racing = h.app.im.membership.members(conversationId);
      await waitFor(() => calls === 1, 5000, 'the racing read to query');
      await h.delete(`/im/groups/${groupId}/members/${gone.userId}`, owner.token).expect(204);
      release();
      assert.ok((await racing).includes(gone.userId), 'the racing read saw the old members');
    } finally {
      conversations.memberIds = real;
    }
    const post = await h.text(g, group(groupId), 'still here?');
    assert.equal(post.ok, false, JSON.stringify(post));
    assert.equal(post.error.code, 'NOT_FOUND');
    assert.equal((await h.get(`/im/conversations/${conversationId}/messages`, gone.token).expect(404)).body.error.code, 'NOT_FOUND');
  });

  it('non-members: post and read are NOT_FOUND, exactly like unknown groups; bad group requests VALIDATION_FAILED', async () => {
    const owner = await h.user('owner');
    const outsider = await h.user('outsider');
    const { groupId, conversationId } = await h.createGroup(owner, []);
    const s = await h.socket(outsider);
    assert.equal((await h.text(s, group(groupId), 'hi')).error.code, 'NOT_FOUND');
    assert.equal((await h.get(`/im/conversations/${conversationId}/messages`, outsider.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.text(s, group('g_doesnotexist'), 'hi')).error.code, 'NOT_FOUND');
    assert.equal((await h.get('/im/conversations/g:g_doesnotexist/messages', outsider.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.post('/im/groups/g_doesnotexist/members', { userIds: [ owner.userId ] }, outsider.token).expect(404)).body.error.code, 'NOT_FOUND');
    for (const body of [ {}, { name: '' }, { name: 'x'.repeat(129) }, { name: 'g', memberIds: 'u' }, { name: 'g', memberIds: [ 5 ] }, { name: 'g', memberIds: [ '' ] },
      { name: 'evil\u202Egnp.exe' }, { name: 'two\nlines' }, { name: 'zero\u0000' }, { name: 'half \uD800' },
      { name: '\u200B\u3164 \uFEFF' } ]) {
      assert.equal((await h.post('/im/groups', body, owner.token).expect(400)).body.error.code, 'VALIDATION_FAILED', JSON.stringify(body));
    }
    assert.equal((await h.post('/im/groups', { name: 'g', memberIds: [ 'u_nobody' ] }, owner.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.post(`/im/groups/${groupId}/members`, { userIds: [] }, owner.token).expect(400)).body.error.code, 'VALIDATION_FAILED');
    assert.equal((await h.post(`/im/groups/${groupId}/members`, { userIds: [ 'u_nobody' ] }, owner.token).expect(404)).body.error.code, 'NOT_FOUND');
    const [ groups ] = await h.rows('SELECT COUNT(*) AS n FROM im_groups WHERE created_by = ?', [ owner.userId ]);
    assert.equal(Number(groups.n), 1);
    // Emoji sequences (joined by U+200D) and scripts written right to left are names like any other.
    await h.post('/im/groups', { name: 'family 👨\u200D👩\u200D👧 עברית' }, owner.token).expect(201);
  });

});
