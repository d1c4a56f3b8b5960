import assert from 'node:assert';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isId } from 'egg-im-protocol';
import { request } from 'egg-im-testkit';
import { Harness, type Socket, type TestLogin, type WireMessage } from './support/harness';

const LOOK_ALIKES: Record<string, string> = {
  a: 'а', c: 'с', d: 'ԁ', e: 'е', g: 'ɡ', h: 'һ', i: 'і', j: 'ј', m: 'ｍ', o: 'о', p: 'р', q: 'ԛ', s: 'ѕ', u: 'ս', w: 'ԝ', x: 'х', y: 'у',
};

/** Ids a client may send in place of `id`: refused outright (padded), or other ids that must match nothing. */
function variantsOf(id: string): { padded: string[]; others: string[] } {
  const swapped = [ ...id ].map(c => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
  // Look-alikes of Latin letters (Cyrillic, Armenian, fullwidth): the same glyphs, other code points.
  const lookAlike = id.replace(new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`), c => LOOK_ALIKES[c]);
  assert.notEqual(lookAlike, id, `no look-alike for ${id}`);
  return {
    padded: [ `${id} `, ` ${id}`, `${id}\t`, `${id}\u00a0`, `${id}\u200b`, `${id}\n` ],
    others: [ swapped, lookAlike ].filter(v => v !== id),
  };
}

const enc = encodeURIComponent;

describe('egg-im-router: hostile input at the boundary', () => {
  const h = new Harness('messaging');
  let alice: TestLogin;
  let bob: TestLogin;
  let carol: TestLogin;
  let a: Socket;
  let groupId: string;
  let groupConversation: string;
  let direct: WireMessage;

  before(async () => {
    await h.start();
    [ alice, bob, carol ] = await Promise.all([ h.user('alice'), h.user('bob'), h.user('carol') ]);
    a = await h.socket(alice);
    ({ groupId, conversationId: groupConversation } = await h.createGroup(alice, [ bob ]));
    direct = (await h.text(a, { type: 'user', id: bob.userId }, 'hello')).message;
    await h.text(a, { type: 'group', id: groupId }, 'hello group');
  });
  after(() => h.close());

  const stored = async () => Number((await h.rows<{ n: number }>('SELECT COUNT(*) AS n FROM im_messages'))[0].n);
  const membersOf = async (conversationId: string) => (await h.rows<{ user_id: string }>(
    'SELECT user_id FROM im_members WHERE conversation_id = ? ORDER BY user_id', [ conversationId ])).map(r => r.user_id);

  it('a removed member cannot reach its group again through a padded id', async () => {
    const owner = await h.user('owner');
    const gone = await h.user('gone');
    const { groupId: gid, conversationId } = await h.createGroup(owner, [ gone ]);
    const g = await h.socket(gone);
    await h.delete(`/im/groups/${gid}/members/${gone.userId}`, owner.token).expect(204);
    const before = await stored();
    for (const padded of variantsOf(gid).padded) {
      const sent = await h.text(g, { type: 'group', id: padded }, 'still here');
      assert.equal(sent.error?.code, 'VALIDATION_FAILED', JSON.stringify(sent));
      assert.equal(sent.error.details.field, 'to.id');
      const re = await h.post(`/im/groups/${enc(padded)}/members`, { userIds: [ gone.userId ] }, gone.token).expect(400);
      assert.equal(re.body.error.code, 'VALIDATION_FAILED');
    }
    for (const padded of variantsOf(conversationId).padded) {
      await h.get(`/im/conversations/${enc(padded)}/messages`, gone.token).expect(400);
    }
    // The removal holds: not a member, nothing stored, and the group is simply not there for them.
    assert.deepStrictEqual(await membersOf(conversationId), [ owner.userId ]);
    assert.equal(await stored(), before);
    assert.equal((await h.text(g, { type: 'group', id: gid }, 'x')).error.code, 'NOT_FOUND');
  });

  it('every route and event takes its ids by one grammar: padded ones refused, case-changed and look-alike ones are other ids', async () => {
    const c = await h.socket(carol);
    const before = await stored();
    const expectCode = async (res: Promise<any> | any, code: string, what: string) => {
      const body = (await res).body ?? await res;
      const error = body.error ?? body.results?.[0]?.error;
      assert.equal(error?.code, code, `${what}: ${JSON.stringify(body)}`);
    };
    const send = (to: { type: 'user' | 'group'; id: string }) => ({ to, type: 'text', content: { text: 'x' }, clientMsgId: h.clientMsgId() });

    for (const [ kind, variants ] of [ [ 'padded', 'VALIDATION_FAILED' ], [ 'others', 'NOT_FOUND' ] ] as const) {
      const users = variantsOf(bob.userId)[kind];
      const groups = variantsOf(groupId)[kind];
      const conversations = [ ...variantsOf(direct.conversationId)[kind], ...variantsOf(groupConversation)[kind] ];
      const messages = variantsOf(direct.id)[kind];
      for (const id of users) {
        await expectCode(h.post('/im/messages', send({ type: 'user', id }), alice.token), variants, `POST /im/messages to user ${JSON.stringify(id)}`);
        await expectCode(h.post('/im/messages/batch', { messages: [ send({ type: 'user', id }) ] }, alice.token), variants, `batch to user ${JSON.stringify(id)}`);
        await expectCode(h.send(a, send({ type: 'user', id })), variants, `message:send to user ${JSON.stringify(id)}`);
        await expectCode(h.post('/im/groups', { name: 'g', memberIds: [ id ] }, alice.token), variants, `create group with ${JSON.stringify(id)}`);
        await expectCode(h.post(`/im/groups/${groupId}/members`, { userIds: [ id ] }, alice.token), variants, `add member ${JSON.stringify(id)}`);
        await expectCode(h.delete(`/im/groups/${groupId}/members/${enc(id)}`, alice.token), variants, `remove member ${JSON.stringify(id)}`);
      }
      for (const id of groups) {
        await expectCode(h.send(a, send({ type: 'group', id })), variants, `message:send to group ${JSON.stringify(id)}`);
        await expectCode(h.post(`/im/groups/${enc(id)}/members`, { userIds: [ carol.userId ] }, alice.token), variants, `add to group ${JSON.stringify(id)}`);
        await expectCode(h.delete(`/im/groups/${enc(id)}/members/${bob.userId}`, alice.token), variants, `remove from group ${JSON.stringify(id)}`);
      }
      for (const id of conversations) {
        await expectCode(h.get(`/im/conversations/${enc(id)}/messages`, alice.token), variants, `history of ${JSON.stringify(id)}`);
        await expectCode(request(a, 'message:read', { conversationId: id, seq: 1 }), variants, `message:read of ${JSON.stringify(id)}`);
        const synced = await request(c, 'sync', { cursors: { [id]: 0 } });
        if (kind === 'padded') await expectCode(synced, 'VALIDATION_FAILED', `sync cursor ${JSON.stringify(id)}`);
        else assert.deepStrictEqual(synced, { ok: true, messages: [], hasMore: false }, `sync cursor ${JSON.stringify(id)}`);
      }
      for (const id of messages) {
        await expectCode(h.get(`/im/messages/${enc(id)}/status`, alice.token), variants, `status of ${JSON.stringify(id)}`);
      }
    }
    // Nothing was stored, and the group is as it was.
    assert.equal(await stored(), before);
    assert.deepStrictEqual(await membersOf(groupConversation), [ alice.userId, bob.userId ].sort());
  });

  it('host-shaped user ids up to 128 characters are recipients and members, and their conversation ids stay ids', async () => {
    const uuid = '7d444840-9dc0-11d1-b245-5ffdce74fad2';
    const long = `${'l'.repeat(60)}_${'k'.repeat(67)}`;
    const email = 'ana.lima@example.com';
    for (const id of [ uuid, long, email ]) await h.app.imStore.users.ensure(id, id.slice(0, 20));
    for (const id of [ uuid, long, email ]) {
      const sent = (await h.post('/im/messages', { to: { type: 'user', id }, type: 'text', content: { text: 'hi' }, clientMsgId: h.clientMsgId() }, alice.token).expect(201)).body.message;
      assert.ok(isId(sent.conversationId) && sent.conversationId.length <= 128, sent.conversationId);
      assert.deepStrictEqual(await membersOf(sent.conversationId), [ alice.userId, id ].sort());
      const page = (await h.get(`/im/conversations/${enc(sent.conversationId)}/messages`, alice.token).expect(200)).body;
      assert.deepStrictEqual(page.messages.map((m: WireMessage) => m.id), [ sent.id ]);
    }
    const group = (await h.post('/im/groups', { name: 'host ids', memberIds: [ uuid, long ] }, alice.token).expect(201)).body;
    assert.deepStrictEqual(await membersOf(group.conversationId), [ alice.userId, uuid, long ].sort());
  });

  it('clientMsgId follows the id grammar: a padded copy of a stored one is refused, not a second message', async () => {
    const body = { to: { type: 'user', id: bob.userId }, type: 'text', content: { text: 'once' }, clientMsgId: h.clientMsgId() };
    const first = await h.send(a, body);
    assert.ok(first.ok);
    for (const clientMsgId of [ `${body.clientMsgId} `, ` ${body.clientMsgId}`, 'x'.repeat(65), '' ]) {
      const res = await h.send(a, { ...body, clientMsgId });
      assert.equal(res.error?.code, 'VALIDATION_FAILED', JSON.stringify(clientMsgId));
      assert.equal(res.error.details.field, 'clientMsgId');
    }
    assert.deepStrictEqual(await h.send(a, body), first);
  });

  it('refuses "__proto__" keys in content and meta on the socket as over HTTP', async () => {
    const body = (content: string) => JSON.parse(`{"to":{"type":"user","id":"${bob.userId}"},"type":"blob","content":${content},"clientMsgId":"${h.clientMsgId()}"}`);
    for (const content of [ '{"__proto__":{"admin":true}}', '{"a":[{"__proto__":{"x":1}}]}' ]) {
      const viaSocket = await h.send(a, body(content));
      assert.equal(viaSocket.error?.code, 'VALIDATION_FAILED', content);
      const viaHttp = await h.app.httpRequest().post('/im/messages').set('Authorization', `Bearer ${alice.token}`)
        .set('Content-Type', 'application/json').send(JSON.stringify(body(content)));
      assert.equal(viaHttp.status, 400, content);
    }
  });

  it('message type names are checked before they are looked up, and never echoed at length', async () => {
    for (const type of [ 't'.repeat(65), 'no spaces', '', '1abc' ]) {
      const res = await h.send(a, { to: { type: 'user', id: bob.userId }, type, content: {}, clientMsgId: h.clientMsgId() });
      assert.equal(res.error?.code, 'VALIDATION_FAILED', type);
      assert.equal(res.error.details.field, 'type');
      assert.ok(!res.error.message.includes('t'.repeat(20)), 'the long name is not echoed');
    }
  });

  describe('bounded work per message', () => {
    const order = (items: unknown[]) => ({ orderId: 'o1', items, shipTo: { city: 'Oslo' } });
    const sendOrder = (items: unknown[]) => ({ to: { type: 'user', id: bob.userId }, type: 'order', content: order(items), clientMsgId: h.clientMsgId() });

    it('an array longer than its schema allows is refused before its items are validated, with one short problem', async () => {
      // 300 bad items: each would be a problem of its own (a list of hundreds) if they were validated.
      const res = await h.send(a, sendOrder(Array.from({ length: 300 }, () => ({ sku: '', qty: 0 }))));
      assert.equal(res.error?.code, 'VALIDATION_FAILED');
      assert.deepStrictEqual(res.error.details.problems, [ 'content.items must contain no more than 20 elements' ]);
    });

    it('a message of more than im.limits.maxValues values is refused at the first value past it', async () => {
      const res = await h.send(a, sendOrder(new Array(32000).fill(0)));
      assert.equal(res.error?.code, 'PAYLOAD_TOO_LARGE', JSON.stringify(res).slice(0, 300));
      assert.equal(res.error.details.limit, 1000);
      assert.ok(JSON.stringify(res).length < 400);
    });

    it('problems are capped in number and length, whatever the type reports', async () => {
      const items = Array.from({ length: 20 }, () => ({ sku: '', qty: 0 }));
      const res = await h.send(a, sendOrder(items));
      assert.equal(res.error?.code, 'VALIDATION_FAILED');
      assert.ok(res.error.details.problems.length <= 10, `${res.error.details.problems.length} problems`);
      for (const problem of res.error.details.problems) assert.ok(problem.length <= 200);
    });

    it('a full batch of the costliest messages keeps the event loop moving (the probe saw 3.5 s blocked)', async function() {
      this.timeout(60000);
      // 100 messages of 32,000 values each, as in the probe: 64 KB apiece, 6.4 MB in all (within the body limit).
      const messages = Array.from({ length: 100 }, () => sendOrder(new Array(32000).fill(0)));
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const res = await h.post('/im/messages/batch', { messages }, alice.token).expect(200);
      delay.disable();
      assert.equal(res.body.results.length, 100);
      assert.ok(res.body.results.every((r: any) => r.error?.code === 'PAYLOAD_TOO_LARGE'));
      assert.ok(res.text.length < 100 * 400, `${res.text.length} bytes of reply`);
      const longestMs = delay.max / 1e6;
      assert.ok(longestMs < 1000, `the event loop stalled ${longestMs.toFixed(0)} ms`);
    });
  });

  it('a conversation or message one is not in answers NOT_FOUND, exactly as one that does not exist', async () => {
    const nobody = `${direct.conversationId.slice(0, -1)}q`;
    const existing = await h.get(`/im/conversations/${enc(direct.conversationId)}/messages`, carol.token).expect(404);
    const missing = await h.get(`/im/conversations/${enc(nobody)}/messages`, carol.token).expect(404);
    assert.equal(existing.body.error.code, missing.body.error.code);
    assert.equal(existing.body.error.message.replace(direct.conversationId, '?'), missing.body.error.message.replace(nobody, '?'));
    const status = await h.get(`/im/messages/${direct.id}/status`, carol.token).expect(404);
    const unknown = await h.get('/im/messages/m_nosuchmessage/status', carol.token).expect(404);
    assert.equal(status.body.error.message.replace(direct.id, '?'), unknown.body.error.message.replace('m_nosuchmessage', '?'));
    const c = await h.socket(carol);
    assert.deepStrictEqual(await request(c, 'message:read', { conversationId: direct.conversationId, seq: 1 }),
      { ok: false, error: { code: 'NOT_FOUND', message: `conversation ${direct.conversationId} not found`, details: { conversationId: direct.conversationId } } });
  });
});
