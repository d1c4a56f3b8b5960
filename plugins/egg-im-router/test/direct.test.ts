import assert from 'node:assert';
import { nextEvent, request, waitFor } from 'egg-im-testkit';
import { arrival, firstSeqs, Harness, sleep, statuses, type TestLogin } from './support/harness';

describe('egg-im-router: one-to-one messages', () => {
  const h = new Harness('messaging');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });

  it('online: the recipient gets message:new, acks it, and the sender hears delivered', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const { socket: a, inbox: aliceInbox } = await h.online(alice);
    const { inbox: bobInbox } = await h.online(bob);
    const aliceStatus = statuses(a);

    const ack = await h.text(a, to(bob), 'hello bob');
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const { message } = ack;
    assert.equal(message.seq, 1);
    assert.equal(message.senderId, alice.userId);
    assert.equal(message.type, 'text');
    assert.deepStrictEqual(message.content, { text: 'hello bob' });
    assert.deepStrictEqual(message.meta, {});
    assert.match(message.conversationId, /^d:/);
    assert.equal(new Date(message.createdAt).toISOString(), message.createdAt);

    assert.deepStrictEqual(await arrival(bobInbox, message.id), message);
    await waitFor(() => aliceStatus.some(e => e.messageId === message.id && e.status === 'delivered'), 5000, 'message:status delivered');
    assert.deepStrictEqual(aliceStatus.find(e => e.status === 'delivered'),
      { messageId: message.id, conversationId: message.conversationId, seq: 1, userId: bob.userId, status: 'delivered' });
    const status = await h.waitStatus(alice.token, message.id, 'delivered');
    assert.equal(status.status, 'delivered');
    assert.equal(status.recipients.length, 1);
    assert.equal(status.recipients[0].userId, bob.userId);
    assert.equal(status.recipients[0].attempts, 1);
    assert.ok(status.recipients[0].deliveredAt);
    // The origin socket gets the ack, not a copy of its own message.
    await sleep(100);
    assert.deepStrictEqual(aliceInbox, []);
  });

  it('offline: the message waits (pending, 0 attempts), is pushed on connect, and is in sync', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const aliceStatus = statuses(a);
    const first = (await h.text(a, to(bob), 'one')).message;
    const second = (await h.text(a, to(bob), 'two')).message;
    assert.deepStrictEqual([ first.seq, second.seq ], [ 1, 2 ]);

    const pending = await h.status(alice.token, second.id);
    assert.equal(pending.status, 'sent');
    assert.deepStrictEqual(pending.recipients.map((r: any) => [ r.userId, r.status, r.attempts ]), [[ bob.userId, 'pending', 0 ]]);

    // A device that connects gets the backlog pushed, in seq order.
    const { socket: b, inbox: bobInbox } = await h.online(bob);
    await waitFor(() => bobInbox.length >= 2, 5000, 'the backlog');
    assert.deepStrictEqual(firstSeqs(bobInbox), [ 1, 2 ]);
    assert.deepStrictEqual(bobInbox.slice(0, 2), [ first, second ]);
    await h.waitStatus(alice.token, second.id, 'delivered');
    await waitFor(() => aliceStatus.some(e => e.messageId === second.id && e.status === 'delivered'), 5000, 'delivered to the sender');

    // And sync gives the same messages (a conversation absent from the cursors counts from 0).
    const synced = await request(b, 'sync', {});
    assert.equal(synced.ok, true);
    assert.deepStrictEqual(synced.messages, [ first, second ]);
    assert.equal(synced.hasMore, false);
    const after1 = await request(b, 'sync', { cursors: { [first.conversationId]: 1 } });
    assert.deepStrictEqual(after1.messages, [ second ]);
    const paged = await request(b, 'sync', { limit: 1 });
    assert.deepStrictEqual([ paged.messages, paged.hasMore ], [[ first ], true ]);
    // A larger limit, however large, is clamped, never refused.
    for (const limit of [ 1e21, '100000000000000000000000' ]) {
      const clamped = await request(b, 'sync', { limit });
      assert.deepStrictEqual([ clamped.ok, clamped.messages, clamped.hasMore ], [ true, [ first, second ], false ], `limit ${limit}`);
    }
    for (const limit of [ 0, -1, 1.5, 'many', null ]) {
      const refused = await request(b, 'sync', { limit });
      assert.deepStrictEqual([ refused.ok, refused.error?.code, refused.error?.details?.field ], [ false, 'VALIDATION_FAILED', 'limit' ], `limit ${limit}`);
    }
  });

  it('offline: a device that never saw the messages catches up through sync alone', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push((await h.text(a, to(bob), `m${i}`)).message);
    const b = await h.socket(bob);
    // Ignore pushes: this client reads by sync only.
    const reply = await request(b, 'sync', { cursors: {}, limit: 1000 });
    assert.equal(reply.ok, true);
    assert.deepStrictEqual(reply.messages, sent);
    assert.equal(reply.hasMore, false);
  });

  it('the same clientMsgId twice stores one message, also after the connection dropped', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const { inbox: bobInbox } = await h.online(bob);
    let a = await h.socket(alice);
    const body = { to: to(bob), type: 'text', content: { text: 'once' }, clientMsgId: h.clientMsgId() };
    const [ first, again ] = await Promise.all([ h.send(a, body), h.send(a, body) ]);
    assert.equal(first.ok, true);
    assert.deepStrictEqual(again, first);
    const third = await h.send(a, body);
    assert.deepStrictEqual(third, first);

    // The connection drops before the client saw an ack: it reconnects and sends the same body again.
    a.disconnect();
    a = await h.socket(alice);
    const resent = await h.send(a, { ...body, content: { text: 'changed on retry' } });
    assert.deepStrictEqual(resent.message, first.message, 'the first message is the answer, whatever the retry carries');
    // Over HTTP too.
    const viaHttp = await h.post('/im/messages', body, alice.token).expect(201);
    assert.deepStrictEqual(viaHttp.body.message, first.message);

    const rows = await h.rows('SELECT id, seq FROM im_messages WHERE sender_id = ? AND client_msg_id = ?', [ alice.userId, body.clientMsgId ]);
    assert.deepStrictEqual(rows.map(r => [ r.id, Number(r.seq) ]), [[ first.message.id, first.message.seq ]]);
    const [ conversation ] = await h.rows('SELECT last_seq FROM im_conversations WHERE id = ?', [ first.message.conversationId ]);
    assert.equal(Number(conversation.last_seq), 1, 'no seq was spent on the repeats');
    await arrival(bobInbox, first.message.id);
    await sleep(200);
    assert.deepStrictEqual(firstSeqs(bobInbox), [ 1 ]);
    assert.ok(bobInbox.every(m => m.id === first.message.id));
  });

  it('the sender is the session\'s user: a senderId in the payload is ignored', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const mallory = await h.user('mallory');
    const m = await h.socket(mallory);
    const ack = await h.send(m, { to: to(bob), type: 'text', content: { text: 'from alice, honest' }, clientMsgId: h.clientMsgId(), senderId: alice.userId });
    assert.equal(ack.ok, true);
    assert.equal(ack.message.senderId, mallory.userId);
    assert.equal(ack.message.conversationId, `d:${[ mallory.userId, bob.userId ].sort().join(':')}`);
    const viaHttp = await h.post('/im/messages', { to: to(bob), type: 'text', content: { text: 'x' }, clientMsgId: h.clientMsgId(), senderId: alice.userId }, mallory.token).expect(201);
    assert.equal(viaHttp.body.message.senderId, mallory.userId);
    const [ row ] = await h.rows('SELECT sender_id FROM im_messages WHERE id = ?', [ ack.message.id ]);
    assert.equal(row.sender_id, mallory.userId);
    // Alice has no conversation with bob.
    const list = await h.get('/im/conversations', alice.token).expect(200);
    assert.deepStrictEqual(list.body.conversations, []);
  });

  it('a forged, malformed or absent token is UNAUTHORIZED on every messaging route', async () => {
    const alice = await h.user('alice');
    const routes: Array<[ 'get' | 'post' | 'delete', string, unknown? ]> = [
      [ 'get', '/im/conversations' ],
      [ 'get', '/im/conversations/d:a:b/messages' ],
      [ 'post', '/im/messages', { to: { type: 'user', id: alice.userId }, type: 'text', content: { text: 'x' }, clientMsgId: 'c1' } ],
      [ 'post', '/im/messages/batch', { messages: [] } ],
      [ 'get', '/im/messages/m_x/status' ],
      [ 'post', '/im/groups', { name: 'g', memberIds: [] } ],
      [ 'post', '/im/groups/g_x/members', { userIds: [ alice.userId ] } ],
      [ 'delete', `/im/groups/g_x/members/${alice.userId}` ],
    ];
    for (const [ method, path, body ] of routes) {
      for (const header of [ undefined, 'Bearer forged-token-0123456789', 'Basic abc', 'Bearer ' ]) {
        let req = method === 'get' ? h.app.httpRequest().get(path) : method === 'post' ? h.app.httpRequest().post(path).send(body as object) : h.app.httpRequest().delete(path);
        if (header !== undefined) req = req.set('Authorization', header);
        const res = await req;
        assert.equal(res.status, 401, `${method} ${path} with ${header}: ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.ok, false);
        assert.equal(res.body.error.code, 'UNAUTHORIZED');
      }
    }
    const rows = await h.rows('SELECT COUNT(*) AS n FROM im_messages WHERE client_msg_id = ?', [ 'c1' ]);
    assert.equal(Number(rows[0].n), 0);
  });

  it('multi-device: every device of the recipient gets each message, a late device by push or sync; the sender\'s other devices too', async () => {
    const alice = await h.user('alice', 'alice-phone');
    const aliceLaptop = await h.login(alice, 'alice-laptop');
    const bob = await h.user('bob', 'bob-phone');
    const bobLaptop = await h.login(bob, 'bob-laptop');
    const bobTablet = await h.login(bob, 'bob-tablet');
    const aPhone = await h.socket(alice);
    const { socket: aLaptop, inbox: aliceLaptopInbox } = await h.online(aliceLaptop);
    const { inbox: phoneInbox } = await h.online(bob);
    const { inbox: laptopInbox } = await h.online(bobLaptop);
    const aliceStatus = statuses(aLaptop);

    const sent = [];
    for (let i = 0; i < 5; i++) sent.push((await h.text(aPhone, to(bob), `m${i}`)).message);
    await waitFor(() => firstSeqs(phoneInbox).length === 5 && firstSeqs(laptopInbox).length === 5, 5000, 'both devices');
    assert.deepStrictEqual(firstSeqs(phoneInbox), [ 1, 2, 3, 4, 5 ]);
    assert.deepStrictEqual(firstSeqs(laptopInbox), [ 1, 2, 3, 4, 5 ]);
    // Alice's laptop sees what her phone sent, and hears the receipts (message:status goes to every device of the sender).
    await waitFor(() => firstSeqs(aliceLaptopInbox).length === 5, 5000, 'the sender\'s other device');
    await waitFor(() => aliceStatus.filter(e => e.status === 'delivered').length >= 1, 5000, 'status on the other device');
    await h.waitStatus(alice.token, sent[4].id, 'delivered');

    // A third device of bob connects later: everything is delivered already, so it reads by sync.
    const bTablet = await h.socket(bobTablet);
    const reply = await request(bTablet, 'sync', {});
    assert.deepStrictEqual(reply.messages, sent);
  });

  it('GET /im/conversations: lastSeq, readSeq, unread, the peer and the last message', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const carol = await h.user('carol');
    const a = await h.socket(alice);
    const b = await h.socket(bob);
    for (let i = 0; i < 3; i++) await h.text(a, to(bob), `a${i}`);
    await h.text(b, to(alice), 'b0');
    const last = (await h.text(a, to(bob), 'a3')).message;
    await h.text(a, to(carol), 'c0');

    const forBob = (await h.get('/im/conversations', bob.token).expect(200)).body.conversations;
    assert.deepStrictEqual(forBob, [
      { conversationId: last.conversationId, type: 'direct', peerId: alice.userId, lastSeq: 5, readSeq: 4, unread: 1, lastMessage: last },
    ]);
    const forAlice = (await h.get('/im/conversations', alice.token).expect(200)).body.conversations;
    assert.equal(forAlice.length, 2);
    const withBob = forAlice.find((c: any) => c.peerId === bob.userId);
    assert.deepStrictEqual(withBob, { conversationId: last.conversationId, type: 'direct', peerId: bob.userId, lastSeq: 5, readSeq: 5, unread: 0, lastMessage: last });
    const withCarol = forAlice.find((c: any) => c.peerId === carol.userId);
    assert.deepStrictEqual([ withCarol.lastSeq, withCarol.readSeq, withCarol.unread ], [ 1, 1, 0 ]);
    // Most recently active first.
    assert.equal(forAlice[0].peerId, carol.userId);
    assert.deepStrictEqual(await request(b, 'message:read', { conversationId: last.conversationId, seq: 5 }), { ok: true });
    const afterRead = (await h.get('/im/conversations', bob.token).expect(200)).body.conversations;
    assert.deepStrictEqual([ afterRead[0].readSeq, afterRead[0].unread ], [ 5, 0 ]);
  });

  it('GET /im/conversations in pages: limit and cursor walk every conversation once, most recently active first', async () => {
    const alice = await h.user('alice');
    const peers = await Promise.all([ 1, 2, 3, 4, 5, 6 ].map(i => h.user(`peer${i}`)));
    // One batch: its conversations are written in one commit, so several share their updated_at (ties by id).
    const items = peers.slice(0, 4).map(peer => ({ to: to(peer), type: 'text', content: { text: 'hi' }, clientMsgId: h.clientMsgId() }));
    await h.post('/im/messages/batch', { messages: items }, alice.token).expect(200);
    for (const peer of peers.slice(4)) await h.post('/im/messages', { to: to(peer), type: 'text', content: { text: 'hi' }, clientMsgId: h.clientMsgId() }, alice.token).expect(201);

    const whole = (await h.get('/im/conversations', alice.token).expect(200)).body;
    assert.equal(whole.conversations.length, 6);
    assert.equal(whole.hasMore, false);
    assert.equal(whole.next, undefined);
    assert.deepStrictEqual(whole.conversations.slice(0, 2).map((c: any) => c.peerId), [ peers[5].userId, peers[4].userId ]);

    const walked: string[] = [];
    const pages: boolean[] = [];
    let cursor: string | undefined;
    do {
      const query = cursor === undefined ? '?limit=4' : `?limit=4&cursor=${encodeURIComponent(cursor)}`;
      const page = (await h.get(`/im/conversations${query}`, alice.token).expect(200)).body;
      assert.ok(page.conversations.length <= 4);
      walked.push(...page.conversations.map((c: any) => c.conversationId));
      pages.push(page.hasMore);
      assert.equal(typeof page.next === 'string', page.hasMore);
      cursor = page.next;
    } while (cursor !== undefined && pages.length < 5);
    assert.deepStrictEqual(pages, [ true, false ]);
    assert.deepStrictEqual(walked, whole.conversations.map((c: any) => c.conversationId), 'each once, in the order of the whole list');

    // Pages of one: the ties of the batch are walked by id.
    const single: string[] = [];
    cursor = undefined;
    for (let i = 0; i < 7; i++) {
      const page: any = (await h.get(`/im/conversations?limit=1${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, alice.token).expect(200)).body;
      single.push(...page.conversations.map((c: any) => c.conversationId));
      cursor = page.next;
      if (cursor === undefined) break;
    }
    assert.deepStrictEqual(single, walked);

    // Over the maximum is clamped, never refused; a bad cursor or limit is VALIDATION_FAILED.
    assert.equal((await h.get('/im/conversations?limit=100000000000000000000', alice.token).expect(200)).body.conversations.length, 6);
    for (const query of [ 'cursor=x', 'cursor=12.', 'cursor=12.%20padded', 'cursor=1&cursor=2', `cursor=${'9'.repeat(14)}.d:a:b`, 'cursor=', 'limit=0', 'limit=two' ]) {
      const res = await h.get(`/im/conversations?${query}`, alice.token);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED', query);
      assert.equal(res.body.error.details.field, query.split('=')[0], query);
    }
  });

  it('history: keyset pages after, before and newest, with hasMore; limits are checked', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const eve = await h.user('eve');
    const sent = (await h.post('/im/messages/batch', {
      messages: Array.from({ length: 12 }, (_, i) => ({ to: to(bob), type: 'text', content: { text: `h${i + 1}` }, clientMsgId: h.clientMsgId() })),
    }, alice.token).expect(200)).body.results.map((r: any) => r.message);
    const conversationId = sent[0].conversationId;
    const path = `/im/conversations/${encodeURIComponent(conversationId)}/messages`;
    const page = async (query: string, token = bob.token) => (await h.get(`${path}${query}`, token).expect(200)).body;
    const seqs = (p: any) => p.messages.map((m: any) => m.seq);

    assert.deepStrictEqual((await page('')).messages, sent, 'newest 50 by default, ascending, equal to what was sent');
    assert.equal((await page('')).hasMore, false);
    const newest = await page('?limit=5');
    assert.deepStrictEqual([ seqs(newest), newest.hasMore ], [[ 8, 9, 10, 11, 12 ], true ]);
    const older = await page('?beforeSeq=8&limit=5');
    assert.deepStrictEqual([ seqs(older), older.hasMore ], [[ 3, 4, 5, 6, 7 ], true ]);
    const oldest = await page('?beforeSeq=3&limit=5');
    assert.deepStrictEqual([ seqs(oldest), oldest.hasMore ], [[ 1, 2 ], false ]);
    const first = await page('?afterSeq=0&limit=5');
    assert.deepStrictEqual([ seqs(first), first.hasMore ], [[ 1, 2, 3, 4, 5 ], true ]);
    const next = await page('?afterSeq=10&limit=5');
    assert.deepStrictEqual([ seqs(next), next.hasMore ], [[ 11, 12 ], false ]);
    const exact = await page('?afterSeq=7&limit=5');
    assert.deepStrictEqual([ seqs(exact), exact.hasMore ], [[ 8, 9, 10, 11, 12 ], false ]);
    const none = await page('?afterSeq=12');
    assert.deepStrictEqual([ none.messages, none.hasMore ], [[], false ]);
    assert.deepStrictEqual(seqs(await page('?limit=100')), sent.map((m: any) => m.seq));
    assert.deepStrictEqual(await page('', alice.token), await page(''));

    for (const query of [ '?limit=101', '?limit=0', '?limit=abc', '?afterSeq=-1', '?beforeSeq=0', '?afterSeq=1&beforeSeq=5', '?afterSeq=1.5' ]) {
      const res = await h.get(`${path}${query}`, bob.token).expect(400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED', query);
    }
    assert.equal((await h.get(path, eve.token).expect(404)).body.error.code, 'NOT_FOUND');
    assert.equal((await h.get('/im/conversations/d:nobody:none/messages', bob.token).expect(404)).body.error.code, 'NOT_FOUND');
  });

  it('POST /im/messages (201) and POST /im/messages/batch: results in order, mixed valid and invalid, seqs in request order', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const { inbox: bobInbox } = await h.online(bob);
    const single = await h.post('/im/messages', { to: to(bob), type: 'text', content: { text: 'over http' }, clientMsgId: h.clientMsgId() }, alice.token).expect(201);
    assert.equal(single.body.ok, true);
    assert.equal(single.body.message.seq, 1);
    await arrival(bobInbox, single.body.message.id);

    const repeated = h.clientMsgId();
    const items = [
      { to: to(bob), type: 'text', content: { text: 'b1' }, clientMsgId: h.clientMsgId() },
      { to: to(bob), type: 'text', content: { text: '' }, clientMsgId: h.clientMsgId() },
      { to: to(bob), type: 'nope', content: {}, clientMsgId: h.clientMsgId() },
      { to: to(bob), type: 'text', content: { text: 'b2' }, clientMsgId: repeated },
      { to: { type: 'user', id: 'u_nobody' }, type: 'text', content: { text: 'x' }, clientMsgId: h.clientMsgId() },
      { type: 'text', content: { text: 'no to' }, clientMsgId: h.clientMsgId() },
      { to: to(bob), type: 'text', content: { text: 'b3' }, clientMsgId: h.clientMsgId() },
      { to: to(bob), type: 'text', content: { text: 'b2 again' }, clientMsgId: repeated },
      { to: to(bob), type: 'text', content: { text: 'b4' }, clientMsgId: h.clientMsgId() },
    ];
    const { results } = (await h.post('/im/messages/batch', { messages: items }, alice.token).expect(200)).body;
    assert.equal(results.length, items.length);
    assert.deepStrictEqual(results.map((r: any) => (r.ok ? r.message.content.text : r.error.code)), [
      'b1', 'VALIDATION_FAILED', 'UNKNOWN_MESSAGE_TYPE', 'b2', 'NOT_FOUND', 'VALIDATION_FAILED', 'b3', 'b2', 'b4',
    ]);
    assert.deepStrictEqual(results.filter((r: any) => r.ok).map((r: any) => r.message.seq), [ 2, 3, 4, 3, 5 ]);
    assert.deepStrictEqual(results[7].message, results[3].message);
    await waitFor(() => firstSeqs(bobInbox).length === 5, 5000, 'the batch pushed');
    assert.deepStrictEqual(firstSeqs(bobInbox), [ 1, 2, 3, 4, 5 ]);

    // 100 is the most; more, none or not an array is VALIDATION_FAILED, and nothing is written.
    const hundred = Array.from({ length: 100 }, (_, i) => ({ to: to(bob), type: 'text', content: { text: `n${i}` }, clientMsgId: h.clientMsgId() }));
    const big = (await h.post('/im/messages/batch', { messages: hundred }, alice.token).expect(200)).body.results;
    assert.deepStrictEqual(big.map((r: any) => r.message.seq), Array.from({ length: 100 }, (_, i) => 6 + i));
    const [ before ] = await h.rows('SELECT COUNT(*) AS n FROM im_messages');
    for (const body of [ { messages: [ ...hundred, hundred[0] ] }, { messages: [] }, { messages: 'x' }, {}, { messages: {} } ]) {
      const res = await h.post('/im/messages/batch', body, alice.token).expect(400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    }
    const [ after ] = await h.rows('SELECT COUNT(*) AS n FROM im_messages');
    assert.equal(Number(after.n), Number(before.n));
  });

  it('bad envelopes are VALIDATION_FAILED (socket and HTTP) and nothing is written', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const good = { to: to(bob), type: 'text', content: { text: 'x' }, clientMsgId: 'c_fixed' };
    const bad: Array<[ string, unknown ]> = [
      [ 'to', { ...good, to: undefined } ],
      [ 'to', { ...good, to: 'bob' } ],
      [ 'to', { ...good, to: [ bob.userId ] } ],
      [ 'to.type', { ...good, to: { type: 'channel', id: bob.userId } } ],
      [ 'to.id', { ...good, to: { type: 'user' } } ],
      [ 'to.id', { ...good, to: { type: 'user', id: '' } } ],
      [ 'to.id', { ...good, to: { type: 'user', id: 42 } } ],
      [ 'to.id', { ...good, to: { type: 'user', id: 'x'.repeat(129) } } ],
      [ 'to.id', { ...good, to: { type: 'user', id: 'a\u0000b' } } ],
      [ 'clientMsgId', { ...good, clientMsgId: undefined } ],
      [ 'clientMsgId', { ...good, clientMsgId: '' } ],
      [ 'clientMsgId', { ...good, clientMsgId: 7 } ],
      [ 'clientMsgId', { ...good, clientMsgId: 'c'.repeat(65) } ],
      [ 'clientMsgId', { ...good, clientMsgId: 'lone \ud800 surrogate' } ],
      [ 'content', { ...good, content: 'text' } ],
      [ 'content', { ...good, content: [ 'text' ] } ],
      [ 'content', { ...good, content: null } ],
      [ 'content', { ...good, content: undefined } ],
      [ 'meta', { ...good, meta: 'm' } ],
      [ 'meta', { ...good, meta: null } ],
      [ 'meta', { ...good, meta: [ 1 ] } ],
      [ 'type', { ...good, type: '' } ],
      [ 'type', { ...good, type: 5 } ],
      [ 'body', [ good ] ],
      [ 'body', 'hello' ],
      [ 'body', null ],
    ];
    for (const [ field, body ] of bad) {
      const ack = await h.send(a, body as Record<string, unknown>);
      assert.equal(ack.ok, false, `${field}: ${JSON.stringify(body)}`);
      assert.equal(ack.error.code, 'VALIDATION_FAILED', `${field}: ${JSON.stringify(ack)}`);
      assert.equal(ack.error.details.field, field, JSON.stringify(ack));
      if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
        const res = await h.post('/im/messages', body, alice.token).expect(400);
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      }
    }
    // Binary attachments are not JSON: refused rather than stored differently from what was delivered.
    const binary = await h.send(a, { ...good, content: { text: 'x', data: Buffer.from('abc') } });
    assert.equal(binary.error.code, 'VALIDATION_FAILED');
    assert.equal(binary.error.details.field, 'content.data');

    const rows = await h.rows('SELECT COUNT(*) AS n FROM im_messages WHERE sender_id = ?', [ alice.userId ]);
    assert.equal(Number(rows[0].n), 0);
    const conversations = await h.rows('SELECT COUNT(*) AS n FROM im_members WHERE user_id = ?', [ alice.userId ]);
    assert.equal(Number(conversations[0].n), 0);
    // The same clientMsgId is still free.
    assert.equal((await h.send(a, good)).ok, true);
    // An unknown recipient is NOT_FOUND.
    assert.equal((await h.send(a, { ...good, to: { type: 'user', id: 'u_nobody' }, clientMsgId: 'c2' })).error.code, 'NOT_FOUND');
  });

  it('host-app user ids with ":" or "@" never share a conversation with another pair', async () => {
    // Users of the host application's own user system (as verifyCredentials brings them in).
    const ids = [ 'acme:b', 'x', 'acme', 'b:x', 'ann@example.com' ];
    const logins: Record<string, TestLogin> = {};
    for (const id of ids) {
      await h.app.imStore.users.ensure(id, `host_${id.replace(/[^a-z0-9]/gi, '_')}_${process.pid}`);
      const session = await h.app.imSessions.create(id, 'dev');
      logins[id] = { username: id, password: '', ...session };
    }
    const s1 = await h.socket(logins['acme:b']);
    const s2 = await h.socket(logins.acme);
    // (acme:b, x) and (acme, b:x) would both be d:acme:b:x.
    const one = (await h.text(s1, { type: 'user', id: 'x' }, 'for x only')).message;
    const two = (await h.text(s2, { type: 'user', id: 'b:x' }, 'for b:x only')).message;
    assert.notEqual(one.conversationId, two.conversationId);
    assert.equal(one.seq, 1);
    assert.equal(two.seq, 1);
    const denied = await h.get(`/im/conversations/${encodeURIComponent(one.conversationId)}/messages`, logins['b:x'].token).expect(404);
    assert.equal(denied.body.error.code, 'NOT_FOUND');
    const forX = (await h.get('/im/conversations', logins.x.token).expect(200)).body.conversations;
    assert.deepStrictEqual(forX.map((c: any) => [ c.conversationId, c.peerId ]), [[ one.conversationId, 'acme:b' ]]);
    const forBx = (await h.get('/im/conversations', logins['b:x'].token).expect(200)).body.conversations;
    assert.deepStrictEqual(forBx.map((c: any) => [ c.conversationId, c.peerId ]), [[ two.conversationId, 'acme' ]]);
    const s3 = await h.socket(logins['ann@example.com']);
    const three = (await h.text(s3, { type: 'user', id: 'acme:b' }, 'hello')).message;
    const forAcmeB = (await h.get('/im/conversations', logins['acme:b'].token).expect(200)).body.conversations;
    assert.deepStrictEqual(forAcmeB.map((c: any) => c.peerId).sort(), [ 'ann@example.com', 'x' ]);
    const history = (await h.get(`/im/conversations/${encodeURIComponent(three.conversationId)}/messages`, logins['acme:b'].token).expect(200)).body;
    assert.deepStrictEqual(history.messages, [ three ]);
  });

  it('a note to oneself is stored and listed with oneself as the peer', async () => {
    const alice = await h.user('alice');
    const phone = await h.socket(alice);
    const { inbox: laptopInbox } = await h.online(await h.login(alice, 'laptop'));
    const { message } = await h.text(phone, to(alice), 'remember the milk');
    await arrival(laptopInbox, message.id);
    const list = (await h.get('/im/conversations', alice.token).expect(200)).body.conversations;
    assert.deepStrictEqual(list, [ { conversationId: message.conversationId, type: 'direct', peerId: alice.userId, lastSeq: 1, readSeq: 1, unread: 0, lastMessage: message } ]);
    assert.deepStrictEqual((await h.status(alice.token, message.id)).recipients, []);
    void nextEvent;
  });
});
