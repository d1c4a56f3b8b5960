import assert from 'node:assert';
import { ImClient, ImClientError, type BuiltinMessageTypes, type ImClientOptions, type TypedMessage } from 'egg-im-client';
import type { Message } from 'egg-im-protocol';
import { ClientTestServer, failure } from './support/clientServer';

type AppTypes = BuiltinMessageTypes & { location: { lat: number; lng: number } };

/** Fast timings so retries and reconnects happen within the test budget. */
const FAST: Partial<ImClientOptions> = {
  ackTimeoutMs: 300,
  connectWaitMs: 3000,
  retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 100 },
  reconnection: { delayMs: 50, maxDelayMs: 100 },
  gapWaitMs: 50,
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

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

describe('egg-im-client', () => {
  let server: ClientTestServer;
  let clients: ImClient<any>[];
  let alice: string;
  let bob: string;

  beforeEach(async () => {
    server = await ClientTestServer.start();
    clients = [];
    alice = server.addUser('alice');
    bob = server.addUser('bob');
  });

  afterEach(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  async function login(username: string, options: Partial<ImClientOptions> = {}): Promise<ImClient<AppTypes>> {
    const client = await ImClient.login<AppTypes>({ baseUrl: server.baseUrl, username, password: 'secret', ...FAST, ...options });
    clients.push(client);
    return client;
  }

  /** Logs in, connects and waits for the first sync; records every delivered message. */
  async function online(username: string, options: Partial<ImClientOptions> = {}) {
    const client = await login(username, options);
    const received: TypedMessage<AppTypes>[] = [];
    client.on('message', (message) => received.push(message));
    const synced = new Promise<void>((resolve) => client.once('synced', resolve));
    await client.connect();
    await synced;
    return { client, received, seqs: () => received.map((m) => m.seq) };
  }

  describe('login and connect', () => {
    it('logs in over HTTP and connects with the token in auth, never in the query', async () => {
      const client = await login('alice', { deviceId: 'laptop' });
      assert.equal(client.userId, alice);
      assert.equal(client.deviceId, 'laptop');
      assert.match(client.token, /^t-/);
      assert.match(String(client.sessionId), /^s-/);
      await client.connect();
      assert.equal(client.connected, true);
      assert.equal(server.handshakes.length, 1);
      assert.deepEqual(server.handshakes[0], { token: client.token, queryToken: undefined, cursors: true, accepted: true, transport: 'websocket', at: server.handshakes[0].at });
    });

    it('registers, and maps HTTP errors to ImClientError with code and status', async () => {
      const { userId } = await ImClient.register({ baseUrl: server.baseUrl, username: 'carol', password: 'pw' });
      assert.equal(userId, 'u-carol');
      const taken = await rejectsWith(ImClient.register({ baseUrl: server.baseUrl, username: 'carol', password: 'pw' }), 'USERNAME_TAKEN');
      assert.equal(taken.status, 409);
      const wrong = await rejectsWith(ImClient.login({ baseUrl: server.baseUrl, username: 'carol', password: 'nope' }), 'INVALID_CREDENTIALS');
      assert.equal(wrong.status, 401);
    });

    it('rejects a refused handshake with the server code, and does not retry it', async () => {
      const stranger = new ImClient({ baseUrl: server.baseUrl, token: 'unknown', userId: 'x', ...FAST });
      clients.push(stranger);
      const refused = await rejectsWith(stranger.connect(), 'UNAUTHORIZED');
      assert.equal(refused.message, 'missing or unknown token');

      const session = server.openSession(bob);
      session.expired = true;
      const expired = new ImClient({ baseUrl: server.baseUrl, token: session.token, userId: bob, ...FAST });
      clients.push(expired);
      await rejectsWith(expired.connect(), 'SESSION_EXPIRED');

      await sleep(300); // several reconnection delays
      assert.equal(server.handshakes.length, 2);
      assert.equal(stranger.connected || expired.connected, false);
      await rejectsWith(expired.send({ type: 'user', id: alice }, 'text', { text: 'hi' }), 'SESSION_EXPIRED');
    });

    it('tries a reconnect refused by a limit or an outage again, after the server\'s retryAfterMs', async () => {
      const { client } = await online('alice');
      const stops: ImClientError[] = [];
      client.on('error', (err) => stops.push(err));
      const refused: Array<{ code: string; retryInMs: number }> = [];
      client.on('reconnectRefused', (err, retryInMs) => refused.push({ code: err.code, retryInMs }));
      const before = server.handshakes.length;
      server.refusals.push(
        { code: 'RATE_LIMITED', message: 'too many requests', details: { retryAfterMs: 400, scope: 'requests' } },
        { code: 'STORE_UNAVAILABLE', message: 'the store is unavailable' },
        { code: 'RATE_LIMITED', message: 'too many sockets', details: { scope: 'sockets', limit: 20 } },
      );
      server.dropTransport(alice);
      await waitFor('the drop', () => !client.connected);
      await waitFor('the reconnect after three refusals', () => client.connected, 5000);
      const tries = server.handshakes.slice(before);
      assert.deepEqual(tries.map((h) => h.accepted), [ false, false, false, true ]);
      assert(tries[1].at - tries[0].at >= 390, `the second try came ${tries[1].at - tries[0].at} ms after the first`);
      assert.deepEqual(refused.map((r) => r.code), [ 'RATE_LIMITED', 'STORE_UNAVAILABLE', 'RATE_LIMITED' ]);
      assert(refused[0].retryInMs >= 400, `told to wait ${refused[0].retryInMs} ms`);
      assert.deepEqual(stops, []);
      const sent = await client.send({ type: 'user', id: bob }, 'text', { text: 'back' });
      assert.equal(sent.content.text, 'back');
    });

    it('connect() while a reconnect\'s handshake is in flight sends no second handshake', async () => {
      const { client } = await online('alice');
      const before = server.handshakes.length;
      server.handshakeDelayMs = 300;
      server.dropTransport(alice);
      await waitFor('the reconnect\'s handshake to arrive', () => server.handshaking === 1);
      await client.connect();
      await sleep(400);
      assert.equal(server.handshakes.length - before, 1);
      assert.equal(server.socketsOf(alice).length, 1);
    });

    it('stops when a reconnect is refused for its token, or after reconnection.attempts passing refusals in a row', async () => {
      const { client } = await online('alice');
      const stops: ImClientError[] = [];
      client.on('error', (err) => stops.push(err));
      server.refusals.push({ code: 'UNAUTHORIZED', message: 'missing or unknown token' });
      server.dropTransport(alice);
      await waitFor('the stop', () => stops.length === 1);
      assert.equal(stops[0].code, 'UNAUTHORIZED');

      const { client: limited } = await online('bob', { reconnection: { delayMs: 20, maxDelayMs: 20, attempts: 3 } });
      const limitedStops: ImClientError[] = [];
      limited.on('error', (err) => limitedStops.push(err));
      const before = server.handshakes.length;
      for (let i = 0; i < 5; i++) server.refusals.push({ code: 'STORE_UNAVAILABLE', message: 'the store is unavailable' });
      server.dropTransport(bob);
      await waitFor('the stop after three refusals', () => limitedStops.length === 1);
      assert.equal(limitedStops[0].code, 'STORE_UNAVAILABLE');
      await sleep(200);
      assert.equal(server.handshakes.length - before, 3);
      assert.equal(limited.connected, false);
    });

    it('logout ends the session on the server and closes the client', async () => {
      const { client } = await online('alice');
      await client.logout();
      assert.equal(client.connected, false);
      assert.equal(server.sessions.has(client.token), false);
      await rejectsWith(client.send({ type: 'user', id: bob }, 'text', { text: 'late' }), 'CLOSED');
    });
  });

  describe('send', () => {
    it('resolves once with the stored message when the first ack is lost (same clientMsgId on retry)', async () => {
      const { client } = await online('alice');
      const b = await online('bob');
      server.faults.push('drop-ack');
      let resolved = 0;
      const message = await client.send({ type: 'user', id: bob }, 'text', { text: 'hi' }).then((m) => { resolved++; return m; });
      const sends = server.sendLog.filter((s) => s.userId === alice);
      assert.equal(sends.length, 2, 'the client retried after the ack timeout');
      assert.equal(sends[0].clientMsgId, sends[1].clientMsgId);
      assert.equal(message.clientMsgId, sends[0].clientMsgId);
      const stored = server.conversations.get(server.directId(alice, bob))!.messages;
      assert.equal(stored.length, 1, 'stored once');
      assert.equal(message.id, stored[0].id);
      assert.equal(message.seq, 1);
      await waitFor('bob to receive it', () => b.received.length === 1);
      await sleep(100);
      assert.equal(resolved, 1);
      assert.deepEqual(b.seqs(), [ 1 ]);
    });

    it('waits for the reconnection when the socket drops before the ack, and retries with the same clientMsgId', async () => {
      const { client } = await online('alice');
      const disconnects: boolean[] = [];
      client.on('disconnect', (_reason, willReconnect) => disconnects.push(willReconnect));
      server.faults.push('disconnect');
      const message = await client.send({ type: 'user', id: bob }, 'text', { text: 'through a drop' });
      assert.deepEqual(disconnects, [ true ]);
      const sends = server.sendLog.filter((s) => s.userId === alice);
      assert.equal(sends.length, 2);
      assert.equal(sends[1].clientMsgId, sends[0].clientMsgId);
      assert.equal(server.handshakes.filter((h) => h.token === client.token).length, 2);
      assert.equal(server.conversations.get(message.conversationId)!.messages.length, 1);
      assert.deepEqual(message.content, { text: 'through a drop' });
    });

    it('retries STORE_UNAVAILABLE, and rejects other server codes at once with their details', async () => {
      const { client } = await online('alice');
      server.faults.push(failure('STORE_UNAVAILABLE', 'database down'));
      const message = await client.send({ type: 'user', id: bob }, 'text', { text: 'retry me' });
      assert.equal(message.seq, 1);
      assert.equal(server.sendLog.length, 2);

      const invalid = await rejectsWith(client.send({ type: 'user', id: bob }, 'text', { text: '' }), 'VALIDATION_FAILED');
      assert.deepEqual(invalid.details, { field: 'content.text' });
      assert.equal(invalid.status, undefined);
      assert.equal(server.sendLog.length, 3, 'not retried');
      await rejectsWith(client.send({ type: 'user', id: bob }, 'poll' as 'text', { text: 'x' }), 'UNKNOWN_MESSAGE_TYPE');
    });

    it('honours RATE_LIMITED details.retryAfterMs before retrying', async () => {
      const { client } = await online('alice');
      server.faults.push(failure('RATE_LIMITED', 'slow down', { retryAfterMs: 400 }));
      const message = await client.send({ type: 'user', id: bob }, 'text', { text: 'patient' });
      assert.equal(message.seq, 1);
      const [ first, second ] = server.sendLog;
      assert.equal(second.clientMsgId, first.clientMsgId);
      assert(second.at - first.at >= 390, `retried after ${second.at - first.at} ms, not after retryAfterMs`);
    });

    it('gives up after the bounded number of attempts', async () => {
      const { client } = await online('alice');
      server.faults.push(...Array.from({ length: 10 }, () => failure('STORE_UNAVAILABLE', 'still down')));
      await rejectsWith(client.send({ type: 'user', id: bob }, 'text', { text: 'no luck' }), 'STORE_UNAVAILABLE');
      assert.equal(server.sendLog.length, 4);
    });

    it('types content by the app message map, and the message event narrows on type', async () => {
      const a = await online('alice');
      const b = await online('bob');
      const lats: number[] = [];
      b.client.on('message', (message) => {
        // @ts-expect-error not narrowed yet: the content may be a text's
        const _unknownLat: number = message.content.lat;
        if (message.type === 'location') lats.push(message.content.lat);
      });
      const sent = await a.client.send<'location'>({ type: 'user', id: bob }, 'location', { lat: 48.85, lng: 2.35 });
      assert.equal(sent.content.lng, 2.35);
      await waitFor('the location', () => lats.length === 1);
      assert.deepEqual(lats, [ 48.85 ]);
      const compileOnly = () => {
        // @ts-expect-error content must match the type
        void a.client.send({ type: 'user', id: bob }, 'location', { text: 'nope' });
        // @ts-expect-error unknown type name
        void a.client.send({ type: 'user', id: bob }, 'sticker', { id: 1 });
      };
      void compileOnly;
      // A map declared as an interface works too.
      interface InterfaceTypes { ping: { at: number } }
      const byInterface = (client: ImClient<InterfaceTypes>) => client.send({ type: 'user', id: bob }, 'ping', { at: 1 });
      void byInterface;
    });

    it('sendBatch posts the items and feeds the cursors without echoing own messages', async () => {
      const a = await online('alice');
      const results = await a.client.sendBatch([
        { to: { type: 'user', id: bob }, type: 'text', content: { text: 'one' } },
        { to: { type: 'user', id: bob }, type: 'text', content: { text: '' } },
        { to: { type: 'user', id: bob }, type: 'location', content: { lat: 1, lng: 2 } },
      ]);
      assert.deepEqual(results.map((r) => r.ok), [ true, false, true ]);
      assert.equal(results[1].ok === false && results[1].error.code, 'VALIDATION_FAILED');
      const conversationId = server.directId(alice, bob);
      assert.deepEqual(a.client.cursors, { [conversationId]: 2 });
      assert.equal(a.received.length, 0, 'own sends are results, not message events');
    });
  });

  describe('receive', () => {
    it('acks message:new and delivers it', async () => {
      const a = await online('alice');
      const b = await online('bob');
      const sent = await a.client.send({ type: 'user', id: bob }, 'text', { text: 'hello bob' });
      await waitFor('delivery', () => b.received.length === 1);
      assert.equal(b.received[0].id, sent.id);
      await waitFor('the ack', () => server.acks.some((ack) => ack.userId === bob && ack.messageId === sent.id));
      assert.deepEqual(b.client.cursors, { [sent.conversationId]: 1 });
    });

    it('acks duplicates and drops them', async () => {
      const b = await online('bob');
      const message = server.store(alice, bob);
      await server.push(bob, message);
      await server.push(bob, message);
      await server.push(bob, { ...message });
      assert.equal(server.acks.filter((ack) => ack.messageId === message.id).length, 3);
      await sleep(100);
      assert.deepEqual(b.seqs(), [ 1 ]);
    });

    it('re-orders out-of-order pushes by seq', async () => {
      const b = await online('bob', { gapWaitMs: 5000 });
      const [ m1, m2, m3 ] = [ server.store(alice, bob), server.store(alice, bob), server.store(alice, bob) ];
      const syncs = server.syncLog.length;
      await server.push(bob, m3);
      await server.push(bob, m2);
      assert.deepEqual(b.seqs(), [], 'held until the gap is filled');
      await server.push(bob, m1);
      assert.deepEqual(b.seqs(), [ 1, 2, 3 ]);
      assert.equal(server.syncLog.length, syncs, 'the pushes filled the gap, not a sync');
    });

    it('fills a gap with sync, then delivers in order', async () => {
      const b = await online('bob');
      const conversationId = server.directId(alice, bob);
      server.store(alice, bob);
      server.store(alice, bob);
      const m3 = server.store(alice, bob);
      const syncs = server.syncLog.length;
      await server.push(bob, m3);
      await waitFor('the gap to be filled', () => b.received.length === 3);
      assert.deepEqual(b.seqs(), [ 1, 2, 3 ]);
      const gapSync = server.syncLog[syncs];
      assert(gapSync, 'a sync was made');
      assert.deepEqual(gapSync.body.cursors, {});
      assert.deepEqual(b.client.cursors, { [conversationId]: 3 });
    });

    it('syncs after a reconnect until hasMore is false', async () => {
      const b = await online('bob');
      server.maxSyncLimit = 2;
      for (let i = 0; i < 5; i++) server.store(alice, bob);
      const syncs = server.syncLog.length;
      const synced = new Promise<void>((resolve) => b.client.once('synced', resolve));
      server.dropTransport(bob);
      await synced;
      assert.deepEqual(b.seqs(), [ 1, 2, 3, 4, 5 ]);
      const conversationId = server.directId(alice, bob);
      assert.deepEqual(server.syncLog.slice(syncs).map((s) => s.body.cursors?.[conversationId] ?? 0), [ 0, 2, 4 ]);
    });

    it('starts from seeded cursors and exposes them', async () => {
      const conversationId = server.directId(alice, bob);
      for (let i = 0; i < 4; i++) server.store(alice, bob);
      const b = await online('bob', { cursors: { [conversationId]: 2 } });
      assert.deepEqual(server.syncLog[0].body.cursors, { [conversationId]: 2 });
      assert.deepEqual(b.seqs(), [ 3, 4 ]);
      assert.deepEqual(b.client.cursors, { [conversationId]: 4 });
    });

    it('surfaces message:status as status, and markRead sends message:read', async () => {
      const a = await online('alice');
      const statuses: unknown[] = [];
      a.client.on('status', (event) => statuses.push(event));
      const sent = await a.client.send({ type: 'user', id: bob }, 'text', { text: 'read me' });
      const event = { messageId: sent.id, conversationId: sent.conversationId, seq: sent.seq, userId: bob, status: 'delivered' as const };
      for (const socket of server.socketsOf(alice)) socket.emit('message:status', event);
      await waitFor('the status event', () => statuses.length === 1);
      assert.deepEqual(statuses[0], event);
      await a.client.markRead(sent.conversationId, sent.seq);
      assert.deepEqual(server.readLog, [{ userId: alice, conversationId: sent.conversationId, seq: 1 }]);
    });

    it('asks for cursors at the handshake and surfaces each cursor of message:cursors as a receipt', async () => {
      const a = await online('alice');
      assert.equal(server.handshakes.at(-1)?.cursors, true);
      const receipts: unknown[] = [];
      a.client.on('receipt', (receipt) => receipts.push(receipt));
      const conversationId = server.directId(alice, bob);
      const group = 'g:team';
      const cursors = [ { conversationId, userId: bob, deliveredSeq: 3 }, { conversationId: group, userId: bob, deliveredSeq: 2, readSeq: 1 } ];
      for (const socket of server.socketsOf(alice)) socket.emit('message:cursors', { cursors });
      await waitFor('two receipts', () => receipts.length === 2);
      assert.deepEqual(receipts, cursors);
    });

    it('surfaces a delivered cursor that rode in the send\'s ack as a receipt, after the send resolves', async () => {
      server.cursorInAck = true;
      const a = await online('alice');
      const events: unknown[] = [];
      a.client.on('receipt', (receipt) => events.push(receipt));
      const sent = await a.client.send({ type: 'user', id: bob }, 'text', { text: 'with its receipt' });
      events.push('resolved');
      await waitFor('the receipt', () => events.length === 2);
      assert.deepEqual(events, [ 'resolved', { conversationId: sent.conversationId, userId: bob, deliveredSeq: sent.seq } ]);
    });
  });

  describe('session end', () => {
    it('emits sessionExpired on session:expired and stops reconnecting', async () => {
      const b = await online('bob');
      const expired = new Promise<{ sessionId?: string }>((resolve) => b.client.once('sessionExpired', resolve));
      const handshakes = server.handshakes.length;
      server.expire(b.client.token);
      assert.deepEqual(await expired, { sessionId: b.client.sessionId });
      await sleep(400); // eight reconnection delays
      assert.equal(server.handshakes.length, handshakes, 'no reconnection attempt');
      assert.equal(b.client.connected, false);
      await rejectsWith(b.client.send({ type: 'user', id: alice }, 'text', { text: 'too late' }), 'SESSION_EXPIRED');
    });
  });

  describe('a node draining', () => {
    it('on server:draining: the call in flight is answered there, then it reconnects; a call made meanwhile waits for the new connection', async () => {
      const { client } = await online('alice', { reconnection: { delayMs: 300, maxDelayMs: 300 } });
      const errors: unknown[] = [];
      client.on('error', (err) => errors.push(err));
      const disconnects: Array<[string, boolean]> = [];
      let second: Promise<TypedMessage<AppTypes>> | undefined;
      client.on('disconnect', (reason, willReconnect) => {
        disconnects.push([ reason, willReconnect ]);
        second ??= client.send({ type: 'user', id: bob }, 'text', { text: 'while moving' });
      });
      const first = client.send({ type: 'user', id: bob }, 'text', { text: 'in flight' });
      // Reaches the client before the ack of the send above: the client has a call in flight when told.
      for (const socket of server.io.of('/').sockets.values()) socket.emit('server:draining', { deadlineMs: 5000 });

      assert.deepEqual((await first).content, { text: 'in flight' });
      await waitFor('the client to leave', () => disconnects.length === 1);
      assert.deepEqual(disconnects, [ [ 'forced close', true ] ], 'closed from the client side, to reconnect');
      assert.equal(client.connected, false);
      assert.deepEqual((await second!).content, { text: 'while moving' });
      assert.equal(server.handshakes.filter((h) => h.token === client.token).length, 2, 'reconnected once');
      const sends = server.sendLog.filter((s) => s.userId === alice);
      assert.equal(sends.length, 2, 'each call sent once: none needed a retry');
      assert.notEqual(sends[0].clientMsgId, sends[1].clientMsgId);
      assert.deepEqual(errors, []);
    });
  });

  describe('HTTP helpers', () => {
    it('reads history and conversations, and rejects with code, status and details', async () => {
      const client = await login('bob');
      const stored: Message[] = [ server.store(alice, bob), server.store(alice, bob, { text: 'second' }) ];
      const conversationId = server.directId(alice, bob);
      const page = await client.history(conversationId, { afterSeq: 1, limit: 10 });
      assert.deepEqual(page, { messages: [ stored[1] ], hasMore: false });
      const { conversations } = await client.conversations();
      assert.deepEqual(conversations.map((c) => [ c.conversationId, c.type, c.peerId, c.lastSeq ]), [[ conversationId, 'direct', alice, 2 ]]);
      const tooMany = await rejectsWith(client.history(conversationId, { limit: 101 }), 'VALIDATION_FAILED');
      assert.equal(tooMany.status, 400);
      assert.deepEqual(tooMany.details, { field: 'limit', max: 100 });
      const missing = await rejectsWith(client.presence(alice), 'NOT_FOUND');
      assert.equal(missing.status, 404);
      const group = await client.createGroup('team', [ alice ]);
      assert.equal(group.conversationId, `g:${group.groupId}`);
    });
  });
});
