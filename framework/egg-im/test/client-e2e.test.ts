import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import { ImClient, ImClientError, type BuiltinMessageTypes, type CursorEvent, type ImClientOptions, type StatusEvent, type TypedMessage } from 'egg-im/client';
import { createTestDatabase, dropTestDatabase, listen, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { queryDatabase } from 'egg-im-testkit/lib/messaging';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';

type AppTypes = BuiltinMessageTypes & { location: { lat: number; lng: number; name?: string } };

/** Short timings, so that lost acks and reconnects resolve within the test. */
const FAST: Partial<ImClientOptions> = {
  ackTimeoutMs: 1000,
  connectWaitMs: 5000,
  retry: { attempts: 5, baseDelayMs: 50, maxDelayMs: 200 },
  reconnection: { delayMs: 50, maxDelayMs: 200 },
  gapWaitMs: 100,
};

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<ImClientError> {
  try {
    await promise;
  } catch (err) {
    assert(err instanceof ImClientError, `expected an ImClientError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  throw new assert.AssertionError({ message: `expected a rejection with ${code}` });
}

/** The typed client (egg-im/client) against the real server: the framework with MariaDB and Redis. */
describe('egg-im/client against the real server', function() {
  this.timeout(60000);
  const prefix = `${uniqueName('e2e')}:`;
  let database: { name: string; url: string };
  let app: MockApplication;
  let baseUrl: string;
  const clients: ImClient<any>[] = [];
  let counter = 0;

  before(async () => {
    database = await createTestDatabase('e2e');
    mm(process.env, 'IM_DATABASE_URL', database.url);
    mm(process.env, 'IM_REDIS_URL', TEST_REDIS_URL);
    mm(process.env, 'TEST_IM_PREFIX', prefix);
    app = mm.app({ baseDir: 'apps/client-e2e', framework: true, cache: false } as any);
    await app.ready();
    baseUrl = await listen(app);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await app?.close();
    mm.restore();
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  /** Registers a user through the client and logs it in (not connected). */
  async function newUser(label: string, options: Partial<ImClientOptions> = {}) {
    const username = `${label}_${process.pid}_${++counter}`;
    const password = `pw-${username}-secret`;
    const { userId } = await ImClient.register({ baseUrl, username, password });
    const client = await ImClient.login<AppTypes>({ baseUrl, username, password, ...FAST, ...options });
    clients.push(client);
    assert.equal(client.userId, userId);
    return { client, username, password, userId };
  }

  /** Connects and records every `message`, `receipt` and `status` event. */
  async function online(client: ImClient<AppTypes>) {
    const received: TypedMessage<AppTypes>[] = [];
    const receipts: CursorEvent[] = [];
    const statuses: StatusEvent[] = [];
    client.on('message', message => received.push(message));
    client.on('receipt', receipt => receipts.push(receipt));
    client.on('status', event => statuses.push(event));
    const synced = new Promise<void>(resolve => client.once('synced', resolve));
    await client.connect();
    await synced;
    return { received, receipts, statuses, seqs: () => received.map(m => m.seq) };
  }

  /** Closes the transport of every socket of a user on the server (a network drop: the client reconnects). */
  function dropTransport(userId: string): number {
    let dropped = 0;
    for (const socket of app.imSockets.ofUser(userId)) {
      socket.conn.close();
      dropped++;
    }
    return dropped;
  }

  it('logs in, connects, sends typed messages and receives them typed, with delivery statuses', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    const a = await online(alice.client);
    const b = await online(bob.client);

    const text = await alice.client.send({ type: 'user', id: bob.userId }, 'text', { text: 'hi bob 👋' });
    assert.equal(text.type, 'text');
    assert.equal(text.content.text, 'hi bob 👋');
    assert.equal(text.senderId, alice.userId);
    const place = await alice.client.send<'location'>({ type: 'user', id: bob.userId }, 'location', { lat: 52.52, lng: 13.405, name: 'Berlin' }, { tag: 'trip' });
    assert.deepStrictEqual([ text.seq, place.seq ], [ 1, 2 ]);

    await waitFor(() => b.received.length === 2, 5000, 'bob to receive both');
    assert.deepStrictEqual(b.received, [ text, place ]);
    const received = b.received[1];
    if (received.type !== 'location') throw new Error('narrowing by type');
    assert.equal(received.content.lat, 52.52);
    assert.deepStrictEqual(received.meta, { tag: 'trip' });
    // Alice's own sends are the results of send(), not message events; she hears bob's receipts.
    assert.deepStrictEqual(a.received, []);
    const bobs = (field: 'deliveredSeq' | 'readSeq') => a.receipts.some(r => r.conversationId === place.conversationId && r.userId === bob.userId && r[field] === place.seq);
    await waitFor(() => bobs('deliveredSeq'), 5000, 'delivered receipt');
    assert.equal((await alice.client.messageStatus(place.id)).status, 'delivered');

    await bob.client.markRead(place.conversationId, place.seq);
    await waitFor(() => bobs('readSeq'), 5000, 'read receipt');
    // Delivered and read came as receipts (cursors), not as one status per message.
    assert.deepStrictEqual(a.statuses, []);
    const { conversations } = await bob.client.conversations();
    assert.deepStrictEqual(conversations, [ { conversationId: place.conversationId, type: 'direct', peerId: alice.userId, lastSeq: 2, readSeq: 2, unread: 0, lastMessage: place } ]);
    assert.deepStrictEqual(bob.client.cursors, { [place.conversationId]: 2 });
  });

  it('finds users in the directory by username prefix and by id; a bad query rejects with its field', async () => {
    const alice = await newUser('dirAlice');
    const bob = await newUser('dirBob');
    assert.deepStrictEqual(await alice.client.findUsers(bob.username), { users: [ { userId: bob.userId, username: bob.username } ] });
    assert.deepStrictEqual((await alice.client.findUsers('dirBob_', 50)).users.find(u => u.userId === bob.userId), { userId: bob.userId, username: bob.username });
    assert.deepStrictEqual(await alice.client.users([ bob.userId, 'u_nobody', alice.userId ]), {
      users: [ { userId: bob.userId, username: bob.username }, { userId: alice.userId, username: alice.username } ],
    });
    const err = await alice.client.findUsers('dir', 51).then(() => undefined, (e: unknown) => e);
    assert(err instanceof ImClientError && err.code === 'VALIDATION_FAILED' && err.status === 400, String(err));
    assert.deepStrictEqual(err.details, { field: 'limit' });
  });

  it('server errors reject with the contract codes, without retrying them', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await online(alice.client);
    const invalid = await rejectsWith(alice.client.send<'location'>({ type: 'user', id: bob.userId }, 'location', { lat: 123, lng: 0 }), 'VALIDATION_FAILED');
    assert.deepStrictEqual(invalid.details, { type: 'location', problems: [ 'content.lat must be a latitude' ] });
    await rejectsWith(alice.client.send({ type: 'user', id: bob.userId }, 'hologram' as any, {} as any), 'UNKNOWN_MESSAGE_TYPE');
    await rejectsWith(alice.client.send({ type: 'group', id: 'g_nope' }, 'text', { text: 'x' }), 'NOT_FOUND');
    const tooBig = await rejectsWith(alice.client.send({ type: 'user', id: bob.userId }, 'text', { text: 'x'.repeat(70000) }), 'PAYLOAD_TOO_LARGE');
    assert.equal(tooBig.retryable, false);
    await rejectsWith(alice.client.history('d:nobody:none', { limit: 101 }), 'VALIDATION_FAILED');
    const rows = await queryDatabase(database.url, 'SELECT COUNT(*) AS n FROM im_messages WHERE sender_id = ?', [ alice.userId ]);
    assert.equal(Number(rows[0].n), 0);
  });

  it('a send whose ack is lost (the connection drops after the commit) is retried with the same clientMsgId and stored once', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await online(alice.client);
    const b = await online(bob.client);
    const pipeline = app.im.pipeline;
    const realSend = pipeline.send;
    let dropped = 0;
    // The real pipeline commits the message; then the transport of the sending socket is closed before the ack goes out.
    pipeline.send = async function(this: typeof pipeline, senderId, body, origin) {
      const message = await realSend.call(this, senderId, body, origin);
      if (senderId === alice.userId && dropped === 0) dropped = dropTransport(alice.userId);
      return message;
    };
    const disconnects: string[] = [];
    alice.client.on('disconnect', reason => disconnects.push(reason));
    let sent: TypedMessage<AppTypes>;
    try {
      sent = await alice.client.send({ type: 'user', id: bob.userId }, 'text', { text: 'exactly once' }, undefined, { clientMsgId: 'e2e-once' });
    } finally {
      pipeline.send = realSend;
    }
    assert.equal(dropped, 1, 'the transport was dropped after the commit');
    assert.ok(disconnects.length >= 1, 'the client saw the drop');
    assert.equal(sent.clientMsgId, 'e2e-once');
    const rows = await queryDatabase(database.url, 'SELECT id, seq FROM im_messages WHERE sender_id = ? AND client_msg_id = ?', [ alice.userId, 'e2e-once' ]);
    assert.deepStrictEqual(rows.map(r => [ r.id, Number(r.seq) ]), [[ sent.id, 1 ]], 'one message, the one send() resolved with');
    await waitFor(() => b.received.length === 1, 5000, 'bob to receive it');
    await new Promise(resolve => setTimeout(resolve, 300));
    assert.deepStrictEqual(b.received, [ sent ], 'once');
    // Sending the same clientMsgId again on purpose answers the same message.
    assert.deepStrictEqual(await alice.client.send({ type: 'user', id: bob.userId }, 'text', { text: 'again' }, undefined, { clientMsgId: 'e2e-once' }), sent);
  });

  it('after a reconnect the client syncs what it missed, in order and once; a new client resumes from saved cursors', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await online(alice.client);
    const b = await online(bob.client);
    const to = { type: 'user' as const, id: bob.userId };
    const first = await alice.client.send(to, 'text', { text: 'one' });
    await waitFor(() => b.received.length === 1, 5000, 'the first message');

    // The network drops; alice writes while bob's client reconnects.
    const reconnected = new Promise<void>(resolve => bob.client.once('connect', resolve));
    const missedWhileAway: TypedMessage<AppTypes>[] = [];
    assert.equal(dropTransport(bob.userId), 1);
    for (let i = 0; i < 4; i++) missedWhileAway.push(await alice.client.send(to, 'text', { text: `while away ${i}` }));
    await reconnected;
    await waitFor(() => b.received.length === 5, 5000, 'everything after the reconnect');
    assert.deepStrictEqual(b.received, [ first, ...missedWhileAway ]);
    assert.deepStrictEqual(bob.client.cursors, { [first.conversationId]: 5 });

    // Bob's app closes; alice writes; a new client for bob, from the saved cursors, gets only what is new.
    const saved = bob.client.cursors;
    bob.client.close();
    const later = [ await alice.client.send(to, 'text', { text: 'later 1' }), await alice.client.send(to, 'location', { lat: 0, lng: 0 }) ];
    const resumed = await ImClient.login<AppTypes>({ baseUrl, username: bob.username, password: bob.password, cursors: saved, ...FAST });
    clients.push(resumed);
    const r = await online(resumed);
    await waitFor(() => r.received.length === 2, 5000, 'what is new');
    await new Promise(resolve => setTimeout(resolve, 300));
    assert.deepStrictEqual(r.received, later);
    assert.deepStrictEqual(resumed.cursors, { [first.conversationId]: 7 });
    const page = await resumed.history(first.conversationId, { limit: 100 });
    assert.deepStrictEqual(page.messages, [ first, ...missedWhileAway, ...later ]);
    assert.equal(page.hasMore, false);
  });

  it('groups through the client: create, add, send from both sides, batch over HTTP', async () => {
    const owner = await newUser('owner');
    const member = await newUser('member');
    const o = await online(owner.client);
    const m = await online(member.client);
    const { groupId, conversationId } = await owner.client.createGroup('e2e group', [ member.userId ]);
    const hello = await owner.client.send({ type: 'group', id: groupId }, 'text', { text: 'welcome' });
    const results = await member.client.sendBatch([
      { to: { type: 'group', id: groupId }, type: 'text', content: { text: 'thanks' } },
      { to: { type: 'group', id: groupId }, type: 'location', content: { lat: 100, lng: 0 } },
      { to: { type: 'group', id: groupId }, type: 'text', content: { text: 'see you' } },
    ]);
    assert.deepStrictEqual(results.map(r => (r.ok ? r.message.seq : r.error.code)), [ 2, 'VALIDATION_FAILED', 3 ]);
    await waitFor(() => m.received.length === 1 && o.received.length === 2, 5000, 'both sides');
    assert.deepStrictEqual(m.received, [ hello ]);
    assert.deepStrictEqual(o.received.map(x => x.content), [ { text: 'thanks' }, { text: 'see you' } ]);
    assert.equal(hello.conversationId, conversationId);
    const outsider = await newUser('outsider');
    await rejectsWith(outsider.client.history(conversationId), 'NOT_FOUND');
  });

  it('a member added to a group after it had messages gets the new ones (the gap below is not its to fill)', async () => {
    const owner = await newUser('owner');
    const late = await newUser('late');
    await online(owner.client);
    const { groupId } = await owner.client.createGroup('late joiners', []);
    for (const text of [ 'one', 'two', 'three' ]) await owner.client.send({ type: 'group', id: groupId }, 'text', { text });
    await owner.client.addMembers(groupId, [ late.userId ]);
    const l = await online(late.client);
    const four = await owner.client.send({ type: 'group', id: groupId }, 'text', { text: 'four' });
    await waitFor(() => l.received.length === 1, 5000, 'the late joiner to get the new message');
    assert.deepStrictEqual(l.received, [ four ]);
    assert.equal(late.client.cursors[four.conversationId], 4);
    const five = await owner.client.send({ type: 'group', id: groupId }, 'text', { text: 'five' });
    await waitFor(() => l.received.length === 2, 5000, 'the next one');
    assert.deepStrictEqual(l.seqs(), [ 4, 5 ]);
    assert.equal(five.seq, 5);
  });
});
