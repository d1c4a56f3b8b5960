import assert from 'node:assert';
import { waitFor } from 'egg-im-testkit';
import { arrival, firstSeqs, Harness, sleep } from './support/harness';

/**
 * Sequencing and push order. The fixture holds an out-of-order push for 30 s (reorderWaitMs), so any message
 * wrongly held for a predecessor shows up as a stall; on one node nothing legitimately arrives out of order.
 */
describe('egg-im-router: ordering', () => {
  const h = new Harness('messaging');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });
  const group = (groupId: string) => ({ type: 'group' as const, id: groupId });

  it('a reply after one\'s own message is pushed at once (its own seq does not stall the reorder lane)', async () => {
    // The fixture holds an out-of-order message for 30 s: a stall would time these arrivals out.
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const { socket: a, inbox: aliceInbox } = await h.online(alice);
    const { socket: b, inbox: bobInbox } = await h.online(bob);
    const m1 = (await h.text(a, to(bob), 'hi')).message;
    await arrival(bobInbox, m1.id);
    const m2 = (await h.text(b, to(alice), 'hi back')).message;
    await arrival(aliceInbox, m2.id);
    const m3 = (await h.text(a, to(bob), 'how are you')).message;
    await arrival(bobInbox, m3.id, 3000);
    const m4 = (await h.text(b, to(alice), 'fine')).message;
    await arrival(aliceInbox, m4.id, 3000);
    assert.deepStrictEqual([ m1.seq, m2.seq, m3.seq, m4.seq ], [ 1, 2, 3, 4 ]);
  });

  it('on connect the backlog is pushed at once in seq order, skipping the user\'s own messages in between', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const seqs = [];
    for (let i = 0; i < 3; i++) {
      seqs.push((await h.text(a, to(bob), `from alice ${i}`)).message.seq);
      // Bob writes from a device without a socket (HTTP): his own messages sit between alice's.
      const res = await h.post('/im/messages', { to: to(alice), type: 'text', content: { text: `from bob ${i}` }, clientMsgId: h.clientMsgId() }, bob.token).expect(201);
      seqs.push(res.body.message.seq);
    }
    assert.deepStrictEqual(seqs, [ 1, 2, 3, 4, 5, 6 ]);
    const { inbox: bobInbox } = await h.online(bob);
    await waitFor(() => bobInbox.length >= 3, 3000, 'the backlog (1, 3, 5) without waiting for 2, 4, 6');
    const live = (await h.text(a, to(bob), 'live')).message;
    await arrival(bobInbox, live.id, 3000);
    assert.deepStrictEqual(firstSeqs(bobInbox), [ 1, 3, 5, 7 ]);
  });

  it('a message routed while the backlog is being read on connect is pushed after the backlog', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    for (let i = 0; i < 3; i++) await h.text(a, to(bob), `backlog ${i}`);
    const messages = h.app.imStore.messages;
    const real = messages.undelivered;
    // The real read of the backlog, held after it answered, while a new message is routed.
    let release!: () => void;
    const held = new Promise<void>(resolve => { release = resolve; });
    let reading = false;
    messages.undelivered = async (userId: string, limit: number) => {
      const backlog = await real.call(messages, userId, limit);
      if (userId === bob.userId) {
        reading = true;
        await held;
      }
      return backlog;
    };
    try {
      const { inbox: bobInbox } = await h.online(bob);
      await waitFor(() => reading, 5000, 'the backlog read');
      const live = (await h.text(a, to(bob), 'while replaying')).message;
      await sleep(100);
      release();
      await arrival(bobInbox, live.id, 3000);
      await waitFor(() => firstSeqs(bobInbox).length === 4, 3000, 'all four');
      assert.deepStrictEqual(firstSeqs(bobInbox), [ 1, 2, 3, 4 ]);
    } finally {
      release();
      messages.undelivered = real;
    }
  });

  it('ordering: 5 senders × 40 messages at once get seqs 1..200, gapless and unique; every receiver\'s first pushes are in seq order', async function() {
    this.timeout(60000);
    const owner = await h.user('owner');
    const senders = await Promise.all(Array.from({ length: 5 }, () => h.user('s')));
    const listeners = await Promise.all(Array.from({ length: 2 }, () => h.user('l')));
    const { groupId, conversationId } = await h.createGroup(owner, [ ...senders, ...listeners ]);
    const senderOnline = await Promise.all(senders.map(s => h.online(s)));
    const senderSockets = senderOnline.map(o => o.socket);
    const senderInboxes = senderOnline.map(o => o.inbox);
    const listenerInboxes = (await Promise.all(listeners.map(l => h.online(l)))).map(o => o.inbox);

    const acks = await Promise.all(senderSockets.flatMap(socket => Array.from({ length: 40 }, (_, i) => h.text(socket, group(groupId), `#${i}`))));
    assert.ok(acks.every(a => a.ok), JSON.stringify(acks.find(a => !a.ok)));
    const seqs = acks.map(a => a.message.seq).sort((a, b) => a - b);
    assert.deepStrictEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
    const rows = await h.rows('SELECT seq FROM im_messages WHERE conversation_id = ? ORDER BY seq', [ conversationId ]);
    assert.deepStrictEqual(rows.map(r => Number(r.seq)), seqs);
    const [ conversation ] = await h.rows('SELECT last_seq FROM im_conversations WHERE id = ?', [ conversationId ]);
    assert.equal(Number(conversation.last_seq), 200);

    const ascending = (list: number[]) => list.every((seq, i) => i === 0 || seq > list[i - 1]);
    for (const [ i, list ] of listenerInboxes.entries()) {
      await waitFor(() => firstSeqs(list).length === 200, 20000, `listener ${i} to get 200`);
      assert.deepStrictEqual(firstSeqs(list), seqs, `listener ${i}`);
    }
    for (const [ i, list ] of senderInboxes.entries()) {
      const others = acks.filter(a => a.message.senderId !== senders[i].userId).map(a => a.message.seq).sort((a, b) => a - b);
      await waitFor(() => firstSeqs(list).length === others.length, 20000, `sender ${i} to get the others' 160`);
      assert.ok(ascending(firstSeqs(list)), `sender ${i}: ${firstSeqs(list).join(',')}`);
      assert.deepStrictEqual(firstSeqs(list), others);
    }
  });
});
