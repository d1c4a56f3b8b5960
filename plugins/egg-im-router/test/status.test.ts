import assert from 'node:assert';
import { request, waitFor } from 'egg-im-testkit';
import { arrival, cursorFrames, Harness, sleep, statuses } from './support/harness';

/** Delivery status: the status API, `message:status` to the sender, and read receipts. */
describe('egg-im-router: delivery status and read receipts', () => {
  const h = new Harness('messaging');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });

  it('status API: sender or member only (others NOT_FOUND, as for an unknown message)', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const eve = await h.user('eve');
    const a = await h.socket(alice);
    const { message } = await h.text(a, to(bob), 'status?');
    const forAlice = await h.status(alice.token, message.id);
    const forBob = await h.status(bob.token, message.id);
    assert.deepStrictEqual(Object.keys(forAlice).sort(), [ 'conversationId', 'messageId', 'recipients', 'seq', 'status' ]);
    assert.equal(forAlice.messageId, message.id);
    assert.equal(forAlice.conversationId, message.conversationId);
    assert.equal(forAlice.seq, 1);
    assert.deepStrictEqual(forBob, forAlice);
    const denied = await h.get(`/im/messages/${message.id}/status`, eve.token).expect(404);
    assert.equal(denied.body.error.code, 'NOT_FOUND');
    const unknown = await h.get('/im/messages/m_doesnotexist/status', alice.token).expect(404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
  });

  it('message:read in a group reads the reader\'s member row, not the group\'s member list', async () => {
    const owner = await h.user('owner');
    const reader = await h.user('reader');
    const others = await Promise.all([ 1, 2, 3 ].map(i => h.user(`other${i}`)));
    const { groupId, conversationId } = await h.createGroup(owner, [ reader, ...others ]);
    const o = await h.socket(owner);
    await h.text(o, { type: 'group', id: groupId }, 'hello all');
    const r = await h.socket(reader);
    const { membership } = h.app.im;
    const members = membership.members.bind(membership);
    let listsRead = 0;
    membership.members = async (id: string) => {
      listsRead++;
      return members(id);
    };
    try {
      assert.deepStrictEqual(await request(r, 'message:read', { conversationId, seq: 1 }), { ok: true });
      assert.equal(listsRead, 0);
    } finally {
      membership.members = members;
    }
    const [ message ] = (await h.get(`/im/conversations/${encodeURIComponent(conversationId)}/messages`, owner.token).expect(200)).body.messages;
    assert.equal((await h.status(owner.token, message.id)).recipients.find((x: any) => x.userId === reader.userId).status, 'read');
  });

  it('message:read moves the recipient to read and tells the sender', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { socket: b, inbox: bobInbox } = await h.online(bob);
    const aliceStatus = statuses(a);
    const m1 = (await h.text(a, to(bob), 'one')).message;
    const m2 = (await h.text(a, to(bob), 'two')).message;
    const m3 = (await h.text(a, to(bob), 'three')).message;
    await arrival(bobInbox, m3.id);

    const ok = await request(b, 'message:read', { conversationId: m1.conversationId, seq: 2 });
    assert.deepStrictEqual(ok, { ok: true });
    const event = await waitFor(() => aliceStatus.find(e => e.status === 'read'), 5000, 'message:status read');
    // Statuses are cumulative by seq: the sender hears of its latest message that was read.
    assert.deepStrictEqual(event, { messageId: m2.id, conversationId: m2.conversationId, seq: 2, userId: bob.userId, status: 'read' });
    for (const m of [ m1, m2 ]) {
      const status = await h.status(alice.token, m.id);
      assert.equal(status.status, 'read');
      assert.equal(status.recipients[0].status, 'read');
      assert.ok(status.recipients[0].readAt);
      assert.ok(status.recipients[0].deliveredAt);
    }
    assert.equal((await h.waitStatus(alice.token, m3.id, 'delivered')).status, 'delivered');

    // Reading again (or lower) changes nothing and tells nobody.
    const before = aliceStatus.length;
    assert.deepStrictEqual(await request(b, 'message:read', { conversationId: m1.conversationId, seq: 1 }), { ok: true });
    await sleep(150);
    assert.equal(aliceStatus.length, before);

    // Bad reads are VALIDATION_FAILED; a conversation of others is NOT_FOUND.
    const eve = await h.user('eve');
    const e = await h.socket(eve);
    assert.equal((await request(b, 'message:read', { conversationId: m1.conversationId })).error.code, 'VALIDATION_FAILED');
    assert.equal((await request(b, 'message:read', { seq: 1 })).error.code, 'VALIDATION_FAILED');
    assert.equal((await request(b, 'message:read', { conversationId: m1.conversationId, seq: 0 })).error.code, 'VALIDATION_FAILED');
    assert.equal((await request(e, 'message:read', { conversationId: m1.conversationId, seq: 3 })).error.code, 'NOT_FOUND');
  });

  it('a device that asks for cursors (auth.cursors) hears delivered and read as message:cursors; the others keep message:status', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const carol = await h.user('carol');
    const { groupId } = await h.createGroup(alice, [ bob, carol ]);
    const { socket: phone } = await h.online(alice, { cursors: true, record: false });
    const laptop = await h.socket(await h.login(alice));
    const frames = cursorFrames(phone);
    const phoneStatuses = statuses(phone);
    const laptopStatuses = statuses(laptop);
    const { socket: b, inbox: bobInbox } = await h.online(bob);
    const { inbox: carolInbox } = await h.online(carol);

    const sent: any[] = [];
    for (const text of [ 'one', 'two', 'three' ]) sent.push((await h.text(phone, { type: 'group', id: groupId }, text)).message);
    const last = sent[2];
    await arrival(bobInbox, last.id);
    await arrival(carolInbox, last.id);
    const highest = (userId: string, field: 'deliveredSeq' | 'readSeq') => Math.max(0, ...frames.flatMap(frame => frame.cursors)
      .filter((c: any) => c.userId === userId && c.conversationId === last.conversationId && c[field] !== undefined).map((c: any) => c[field]));
    await waitFor(() => highest(bob.userId, 'deliveredSeq') === last.seq && highest(carol.userId, 'deliveredSeq') === last.seq, 5000, 'delivered cursors');
    // The other device still hears of each message and recipient.
    await waitFor(() => laptopStatuses.filter(e => e.status === 'delivered').length === 6, 5000, 'six delivered statuses');
    for (const frame of frames) {
      assert.deepStrictEqual(Object.keys(frame), [ 'cursors' ]);
      assert.ok(frame.cursors.length > 0);
      for (const cursor of frame.cursors) {
        assert.ok(Object.keys(cursor).every(key => [ 'conversationId', 'userId', 'deliveredSeq', 'readSeq' ].includes(key)), JSON.stringify(cursor));
        assert.ok(sent.some(m => m.seq === cursor.deliveredSeq), JSON.stringify(cursor));
      }
    }
    // Coalesced: never more cursor entries than statuses, one entry per member in a frame.
    const entries = frames.flatMap(frame => frame.cursors);
    assert.ok(entries.length <= 6, `${entries.length} cursor entries for 6 statuses`);
    for (const frame of frames) assert.equal(new Set(frame.cursors.map((c: any) => c.userId)).size, frame.cursors.length);

    assert.deepStrictEqual(await request(b, 'message:read', { conversationId: last.conversationId, seq: sent[1].seq }), { ok: true });
    await waitFor(() => highest(bob.userId, 'readSeq') === sent[1].seq, 5000, 'read cursor');
    await waitFor(() => laptopStatuses.find(e => e.status === 'read'), 5000, 'read status on the other device');
    assert.equal(highest(carol.userId, 'readSeq'), 0);
    // Delivered and read reach the cursor device only as cursors.
    assert.deepStrictEqual(phoneStatuses, []);
  });

  describe('the delivered cursor in the ack (a one-to-one send from a device with cursors)', () => {
    const cursorsOf = (frames: any[], userId: string, seq: number) => frames.flatMap(frame => frame.cursors)
      .filter((c: any) => c.userId === userId && c.deliveredSeq === seq);
    /** The wait, for one test: the default (30 ms) is too short to count on under a loaded test machine. */
    const waitFor30 = () => { h.app.config.im.delivery.deliveredInAckMs = 30; };
    const waitLong = () => { h.app.config.im.delivery.deliveredInAckMs = 1000; };
    afterEach(waitFor30);
    /** A device of `login` that holds its acknowledgements until `release()`. */
    const holdingAcks = async (login: { token: string }) => {
      const socket = await h.socket(login);
      const held: Array<() => void> = [];
      socket.on('message:new' as any, (_message: unknown, ack: () => void) => held.push(ack));
      return { socket, held, release: () => held.splice(0).forEach(ack => ack()) };
    };

    it('rides in the ack when the recipient acknowledges in time; no frame repeats it to that device, the others still hear', async () => {
      waitLong();
      const alice = await h.user('alice');
      const bob = await h.user('bob');
      const { socket: phone } = await h.online(alice, { cursors: true, record: false });
      const { socket: tablet } = await h.online(await h.login(alice), { cursors: true, record: false });
      const laptop = await h.socket(await h.login(alice));
      const { inbox: bobInbox } = await h.online(bob);
      // Bob's connect has been served (its backlog read): what is routed to him now is pushed at once.
      await arrival(bobInbox, (await h.text(laptop, to(bob), 'warm-up')).message.id);
      const phoneFrames = cursorFrames(phone);
      const tabletFrames = cursorFrames(tablet);
      const laptopStatuses = statuses(laptop);

      const reply = await h.text(phone, to(bob), 'with its receipt');
      assert.equal(reply.ok, true);
      const { message } = reply;
      assert.deepStrictEqual(reply.cursors, [ { conversationId: message.conversationId, userId: bob.userId, deliveredSeq: message.seq } ]);
      await waitFor(() => cursorsOf(tabletFrames, bob.userId, message.seq).length === 1, 5000, 'the tablet\'s cursor frame');
      await waitFor(() => laptopStatuses.some(e => e.messageId === message.id && e.status === 'delivered'), 5000, 'the laptop\'s status');
      await sleep(100);
      assert.deepStrictEqual(cursorsOf(phoneFrames, bob.userId, message.seq), [], 'the phone had it in the ack');
      assert.equal((await h.status(alice.token, message.id)).status, 'delivered');

      // The same clientMsgId again (the client lost the first ack): the same message, and the recorded cursor.
      const again = await h.send(phone, { to: to(bob), type: 'text', content: { text: 'with its receipt' }, clientMsgId: message.clientMsgId });
      assert.equal(again.message.id, message.id);
      assert.deepStrictEqual(again.cursors, reply.cursors);
    });

    it('leaves without it when the recipient is offline, or acknowledges after the wait (then a frame brings it)', async () => {
      const alice = await h.user('alice');
      const bob = await h.user('bob');
      const carol = await h.user('carol');
      const { socket: phone } = await h.online(alice, { cursors: true, record: false });
      const frames = cursorFrames(phone);

      const offline = await h.text(phone, to(bob), 'bob is away');
      assert.equal(offline.ok, true);
      assert.equal(offline.cursors, undefined);

      const slow = await holdingAcks(carol);
      const late = await h.text(phone, to(carol), 'carol is slow');
      assert.equal(late.ok, true);
      assert.equal(late.cursors, undefined);
      await waitFor(() => slow.held.length === 1, 5000, 'the push to carol');
      slow.release();
      await waitFor(() => cursorsOf(frames, carol.userId, late.message.seq).length === 1, 5000, 'the cursor frame after the late acknowledgement');
    });

    it('is never followed by a lower cursor of the same member in a frame', async () => {
      waitLong();
      const alice = await h.user('alice');
      const bob = await h.user('bob');
      const { socket: phone } = await h.online(alice, { cursors: true, record: false });
      const slow = await holdingAcks(bob);
      const events: Array<{ ack: number } | { frame: any }> = [];
      phone.on('message:cursors' as any, (frame: any) => events.push({ frame }));
      const send = (text: string) => new Promise<any>(resolve => phone.emit('message:send' as any, { to: to(bob), type: 'text', content: { text }, clientMsgId: h.clientMsgId() },
        (reply: any) => { events.push({ ack: reply.message.seq }); resolve(reply); }));

      // The first ack leaves without a cursor (0 ms wait); the second waits while bob acknowledges both at once.
      h.app.config.im.delivery.deliveredInAckMs = 0;
      const first = await send('one');
      assert.equal(first.cursors, undefined);
      waitLong();
      const second = send('two');
      await waitFor(() => slow.held.length === 2, 5000, 'both pushes to bob');
      slow.release();
      const reply = await second;
      assert.deepStrictEqual(reply.cursors, [ { conversationId: reply.message.conversationId, userId: bob.userId, deliveredSeq: reply.message.seq } ]);
      await sleep(150);
      const ackAt = events.findIndex(e => 'ack' in e && e.ack === reply.message.seq);
      const after = events.slice(ackAt + 1).flatMap(e => ('frame' in e ? e.frame.cursors : []));
      assert.deepStrictEqual(after.filter((c: any) => c.userId === bob.userId && c.deliveredSeq < reply.message.seq), []);
    });

    it('is not in the ack of a device that did not ask for cursors, nor of a group message (two members too)', async () => {
      waitLong();
      const alice = await h.user('alice');
      const bob = await h.user('bob');
      const carol = await h.user('carol');
      const laptop = await h.socket(await h.login(alice));
      const { socket: phone } = await h.online(alice, { cursors: true, record: false });
      await h.online(bob);
      await h.online(carol);
      const plain = await h.text(laptop, to(bob), 'no cursors asked');
      assert.equal(plain.ok, true);
      assert.equal(plain.cursors, undefined);
      const { groupId } = await h.createGroup(alice, [ bob, carol ]);
      const group = await h.text(phone, { type: 'group', id: groupId }, 'to the group');
      assert.equal(group.ok, true);
      assert.equal(group.cursors, undefined);
      const pair = await h.createGroup(alice, [ bob ], 'two of us');
      const small = await h.text(phone, { type: 'group', id: pair.groupId }, 'to the group of two');
      assert.equal(small.ok, true);
      assert.equal(small.cursors, undefined);
    });
  });
});
