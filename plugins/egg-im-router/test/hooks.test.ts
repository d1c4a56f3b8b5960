import assert from 'node:assert';
import { ImError } from 'egg-im-protocol';
import { request, waitFor } from 'egg-im-testkit';
import type { BeforeSendResult } from '../lib/hooks/Hooks';
import { arrival, Harness, sleep, type TestLogin } from './support/harness';

describe('egg-im-router: the host app\'s hooks and server API', () => {
  const h = new Harness('hooks');
  let alice: TestLogin;
  let bob: TestLogin;
  const afterSends: Array<{ id: string; text: unknown; origin: string; recipients: string[]; offline: string[] }> = [];
  const statuses: string[] = [];
  const groupEvents: string[] = [];

  before(async () => {
    await h.start();
    [ alice, bob ] = await Promise.all([ h.user('alice'), h.user('bob') ]);
    const { hooks } = h.app.im;
    hooks.beforeSend(async ({ content, type }): Promise<BeforeSendResult> => {
      const text = type === 'text' ? String(content.text) : '';
      if (text.includes('forbidden')) throw new ImError('VALIDATION_FAILED', 'this word is not allowed here', { field: 'content.text' });
      if (text === 'boom') throw new Error('the hook broke');
      if (text === 'slow') await sleep(1000);
      if (text.includes('darn')) return { content: { ...content, text: text.replace(/darn/g, 'd**n') } };
      if (text === 'make invalid') return { content: { nothing: true } };
      return undefined;
    });
    hooks.afterSend((message, { origin, recipients, offline }) => {
      afterSends.push({ id: message.id, text: message.content.text, origin, recipients, offline });
    });
    hooks.status(change => {
      statuses.push(`${change.messageId} ${change.userId} ${change.status}`);
    });
    hooks.groupEvent(event => {
      groupEvents.push(`${event.kind} ${event.groupId}`);
    });
    hooks.authorizeGroupChange(change => {
      if (change.kind === 'create' && change.name === 'no groups like this') throw new ImError('FORBIDDEN', 'the host app refuses this group');
    });
  });
  after(() => h.close());

  const stored = async (senderId: string) => Number((await h.rows<{ n: number }>('SELECT COUNT(*) AS n FROM im_messages WHERE sender_id = ?', [ senderId ]))[0].n);
  const text = (t: string) => ({ to: { type: 'user', id: bob.userId }, type: 'text', content: { text: t }, clientMsgId: h.clientMsgId() });

  it('beforeSend refuses with its own error, over the socket and HTTP; nothing is stored', async () => {
    const a = await h.socket(alice);
    const before = await stored(alice.userId);
    assert.deepStrictEqual((await h.send(a, text('a forbidden word'))).error,
      { code: 'VALIDATION_FAILED', message: 'this word is not allowed here', details: { field: 'content.text' } });
    const res = await h.post('/im/messages', text('forbidden again'), alice.token).expect(400);
    assert.equal(res.body.error.message, 'this word is not allowed here');
    assert.equal(await stored(alice.userId), before);
  });

  it('beforeSend rewrites content: stored and delivered rewritten, and validated again', async () => {
    const a = await h.socket(alice);
    const { inbox } = await h.online(bob);
    const sent = (await h.send(a, text('darn it'))).message;
    assert.deepStrictEqual(sent.content, { text: 'd**n it' });
    assert.deepStrictEqual((await arrival(inbox, sent.id)).content, { text: 'd**n it' });
    const [ row ] = await h.rows<{ content: string }>('SELECT content FROM im_messages WHERE id = ?', [ sent.id ]);
    assert.equal(row.content, '{"text":"d**n it"}');
    const invalid = await h.send(a, text('make invalid'));
    assert.equal(invalid.error?.code, 'VALIDATION_FAILED', JSON.stringify(invalid));
  });

  it('a hook that throws or times out is logged, and refuses (onError: refuse) or lets the message through (continue)', async () => {
    const a = await h.socket(alice);
    const before = await stored(alice.userId);
    for (const t of [ 'boom', 'slow' ]) {
      const res = await h.send(a, text(t));
      assert.equal(res.error?.code, 'INTERNAL', `${t}: ${JSON.stringify(res)}`);
    }
    assert.equal(await stored(alice.userId), before);
    const { hooks } = h.app.im;
    hooks.configure({ timeoutMs: 300, onError: 'continue' }, h.app.coreLogger);
    try {
      for (const t of [ 'boom', 'slow' ]) {
        const res = await h.send(a, text(t));
        assert.deepStrictEqual(res.message?.content, { text: t }, JSON.stringify(res));
      }
    } finally {
      hooks.configure({ timeoutMs: 300, onError: 'refuse' }, h.app.coreLogger);
    }
    assert.equal(await stored(alice.userId), before + 2);
  });

  it('afterSend hears of each stored message once, after its ack, with the offline recipients', async () => {
    const carol = await h.user('carol');
    const a = await h.socket(alice);
    const toCarol = { to: { type: 'user', id: carol.userId }, type: 'text', content: { text: 'are you there?' }, clientMsgId: h.clientMsgId() };
    const offline = (await h.send(a, toCarol)).message;
    assert.deepStrictEqual(await h.send(a, toCarol), { ok: true, message: offline }, 'the repeat is the same message');
    await h.online(carol);
    const online = (await h.send(a, { ...toCarol, clientMsgId: h.clientMsgId() })).message;
    await waitFor(() => afterSends.some(e => e.id === online.id), 3000, 'afterSend of the second message');
    await sleep(100);
    assert.deepStrictEqual(afterSends.filter(e => e.id === offline.id), [ { id: offline.id, text: 'are you there?', origin: 'socket', recipients: [ carol.userId ], offline: [ carol.userId ] } ]);
    assert.deepStrictEqual(afterSends.filter(e => e.id === online.id).map(e => e.offline), [ [] ]);
  });

  it('status hears of delivered and read once they are recorded', async () => {
    const dave = await h.user('dave');
    const a = await h.socket(alice);
    const { socket: d, inbox } = await h.online(dave);
    const sent = (await h.send(a, { to: { type: 'user', id: dave.userId }, type: 'text', content: { text: 'hi dave' }, clientMsgId: h.clientMsgId() })).message;
    await arrival(inbox, sent.id);
    await waitFor(() => statuses.includes(`${sent.id} ${dave.userId} delivered`), 3000, 'delivered');
    assert.equal((await h.status(alice.token, sent.id)).recipients[0].status, 'delivered', 'recorded before the hook heard of it');
    assert.deepStrictEqual(await request(d, 'message:read', { conversationId: sent.conversationId, seq: sent.seq }), { ok: true });
    await waitFor(() => statuses.includes(`${sent.id} ${dave.userId} read`), 3000, 'read');
  });

  it('authorizeGroupChange may refuse a group change; group events follow the changes made', async () => {
    const res = await h.post('/im/groups', { name: 'no groups like this', memberIds: [ bob.userId ] }, alice.token).expect(403);
    assert.equal(res.body.error.message, 'the host app refuses this group');
    const { groupId } = await h.createGroup(alice, [ bob ]);
    const erin = await h.user('erin');
    await h.post(`/im/groups/${groupId}/members`, { userIds: [ erin.userId ] }, alice.token).expect(200);
    await h.delete(`/im/groups/${groupId}/members/${erin.userId}`, alice.token).expect(204);
    await waitFor(() => groupEvents.filter(e => e.endsWith(groupId)).length === 3, 3000, 'three group events');
    assert.deepStrictEqual(groupEvents.filter(e => e.endsWith(groupId)), [ `created ${groupId}`, `membersAdded ${groupId}`, `memberRemoved ${groupId}` ]);
  });

  it('users the host app knows (auth.userExists) are recipients and group members without ever logging in to egg-im', async () => {
    const sessions = h.app.imSessions;
    const host = [ '7d444840-9dc0-11d1-b245-5ffdce74fad2', '1b4e28ba-2fa1-11d2-883f-0016d3cca427' ];
    const a = await h.socket(alice);
    const unknown = await h.send(a, { to: { type: 'user', id: host[0] }, type: 'text', content: { text: 'hello?' }, clientMsgId: h.clientMsgId() });
    assert.equal(unknown.error?.code, 'NOT_FOUND', 'without the host\'s word, an unknown id is no user');
    sessions.userExists = async ids => ids.filter(id => host.includes(id));
    try {
      const sent = await h.send(a, { to: { type: 'user', id: host[0] }, type: 'text', content: { text: 'hello' }, clientMsgId: h.clientMsgId() });
      assert.ok(sent.ok, JSON.stringify(sent));
      const group = await h.post('/im/groups', { name: 'with host users', memberIds: host }, alice.token).expect(201);
      assert.deepStrictEqual((await h.rows<{ user_id: string }>('SELECT user_id FROM im_members WHERE conversation_id = ? ORDER BY user_id',
        [ group.body.conversationId ])).map(r => r.user_id), [ alice.userId, ...host ].sort());
      assert.equal((await h.post('/im/groups', { name: 'x', memberIds: [ 'not-a-host-user' ] }, alice.token).expect(404)).body.error.code, 'NOT_FOUND');
    } finally {
      sessions.userExists = undefined;
    }
    // Mirrored on first use: they stay users of egg-im.
    assert.ok((await h.send(a, { to: { type: 'user', id: host[1] }, type: 'text', content: { text: 'still there' }, clientMsgId: h.clientMsgId() })).ok);
  });

  it('the server API: send, groups, status and history from host code, through the same pipeline', async () => {
    const { im } = h.app;
    const { inbox } = await h.online(bob);
    const notice = await im.send({ from: alice.userId, to: { type: 'user', id: bob.userId }, type: 'text', content: { text: 'system notice' } });
    assert.deepStrictEqual((await arrival(inbox, notice.id)).content, { text: 'system notice' });
    await waitFor(() => afterSends.some(e => e.id === notice.id && e.origin === 'server'), 3000, 'afterSend of the server send');
    const once = { from: alice.userId, to: { type: 'user' as const, id: bob.userId }, type: 'text', content: { text: 'once' }, clientMsgId: 'host-1' };
    assert.deepStrictEqual(await im.send(once), await im.send(once));
    await assert.rejects(im.send({ ...once, clientMsgId: 'host-2', content: { text: 'forbidden' } }), (err: ImError) => err.code === 'VALIDATION_FAILED');
    await assert.rejects(im.send({ ...once, clientMsgId: 'host-3', to: { type: 'user', id: 'nobody' } }), (err: ImError) => err.code === 'NOT_FOUND');

    const group = await im.groups.create(alice.userId, { name: 'from the host', memberIds: [ bob.userId ] });
    const posted = await im.send({ from: alice.userId, to: { type: 'group', id: group.groupId }, type: 'text', content: { text: 'welcome' } });
    assert.deepStrictEqual((await im.history(group.conversationId)).messages.map(m => m.id), [ posted.id ]);
    assert.deepStrictEqual((await im.status(posted.id)).recipients.map(r => r.userId), [ bob.userId ]);
    await im.groups.removeMember(alice.userId, group.groupId, bob.userId);
    await assert.rejects(im.history('g:nosuchgroup'), (err: ImError) => err.code === 'NOT_FOUND');
  });
});
