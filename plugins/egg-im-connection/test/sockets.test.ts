import assert from 'node:assert';
import { randomBytes } from 'node:crypto';
import { connect, login, register, registerAndLogin, request, sleep, waitFor, type Socket, type TestLogin } from 'egg-im-testkit';
import { keysUnder } from 'egg-im-testkit/lib/redisKeys';
import mysql from 'mysql2/promise';
import { io } from 'socket.io-client';
import { assertNoSecretsInLogs, presence, presenceWhen, readLogs, socketServerOf, startFixture, watch, type Fixture } from './support/fixture';

/** The handshake's refusal: `message` is the code, `data` the error object `{ code, message, details? }`. */
async function refused(promise: Promise<Socket>, code: string): Promise<any> {
  const err: any = await promise.then(
    socket => { socket.close(); throw new Error(`connected, but ${code} was expected`); },
    (e: unknown) => e,
  );
  assert.strictEqual(err.message, code);
  assert.strictEqual(err.data?.code, code, JSON.stringify(err.data));
  assert.strictEqual(typeof err.data.message, 'string');
  assert.deepStrictEqual(Object.keys(err.data).filter(k => ![ 'code', 'message', 'details' ].includes(k)), []);
  return err.data;
}

describe('egg-im-connection: sockets (handshake, logout, presence)', () => {
  let fx: Fixture;
  const sockets: Socket[] = [];
  const open = async (token: string | undefined, options?: Record<string, unknown>) => {
    const socket = await connect(fx.url, token, options);
    sockets.push(socket);
    return socket;
  };
  const loginUser = async (label: string, deviceId?: string): Promise<TestLogin> => {
    const session = await registerAndLogin(fx.app, label, deviceId);
    fx.secrets.add(session.token).add(session.password);
    return session;
  };

  before(async () => {
    fx = await startFixture('sockets');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await fx?.close();
  });

  it('joins the nodes through the Redis adapter', () => {
    assert.strictEqual(socketServerOf(fx.app).io.of('/').adapter.constructor.name, 'RedisAdapter');
  });

  describe('handshake', () => {
    it('accepts the token of a live session in auth.token; the socket carries its session', async () => {
      const session = await loginUser('hs', 'phone');
      const socket = await open(session.token);
      assert.ok(socket.connected);
      const server = socketServerOf(fx.app).io.of('/').sockets.get(socket.id!);
      assert.ok(server);
      assert.deepStrictEqual({ ...server.data }, {
        sessionId: session.sessionId, userId: session.userId, deviceId: 'phone', expiresAt: Date.parse(session.expiresAt), cursors: false,
      });
      assert.ok(server.rooms.has(`s:${session.sessionId}`) && fx.app.imSockets.ofUser(session.userId).includes(server));
      const reply = await request(socket, 'echo', { hello: 'world' });
      assert.deepStrictEqual(reply, { ok: true, payload: { hello: 'world' } });
    });

    it('refuses a handshake without a token: UNAUTHORIZED', async () => {
      await refused(connect(fx.url, undefined), 'UNAUTHORIZED');
      await refused(connect(fx.url, '', {}), 'UNAUTHORIZED');
      await refused(connect(fx.url, undefined, { auth: { token: 12345 } }), 'UNAUTHORIZED');
    });

    it('auth.cursors is true or false: anything else refuses the handshake with VALIDATION_FAILED, before the token is looked at', async () => {
      const session = await registerAndLogin(fx.app, 'cursors');
      for (const cursors of [ 'yes', 1, null, {} ]) {
        const body = await refused(connect(fx.url, undefined, { auth: { token: session.token, cursors } }), 'VALIDATION_FAILED');
        assert.deepStrictEqual(body.details, { field: 'auth.cursors' });
      }
      for (const cursors of [ true, false ]) {
        const socket = await connect(fx.url, undefined, { auth: { token: session.token, cursors } });
        assert.strictEqual(socketServerOf(fx.app).io.of('/').sockets.get(socket.id!)?.data.cursors, cursors);
        socket.close();
      }
    });

    it('refuses an unknown token: UNAUTHORIZED', async () => {
      await refused(connect(fx.url, randomBytes(32).toString('base64url')), 'UNAUTHORIZED');
      await refused(connect(fx.url, 'x'.repeat(300)), 'UNAUTHORIZED');
    });

    it('refuses a forged token (one character of a real one changed): UNAUTHORIZED', async () => {
      const session = await loginUser('forged');
      const last = session.token.at(-1) === 'A' ? 'B' : 'A';
      await refused(connect(fx.url, session.token.slice(0, -1) + last), 'UNAUTHORIZED');
      await refused(connect(fx.url, session.token + 'x'), 'UNAUTHORIZED');
    });

    it('never reads the token from the query string: a token only there is refused', async () => {
      const session = await loginUser('query');
      await refused(connect(fx.url, undefined, { query: { token: session.token } }), 'UNAUTHORIZED');
      await refused(connect(fx.url, undefined, { query: { token: session.token, auth: session.token } }), 'UNAUTHORIZED');
      // and with polling, where the query string is the request's URL
      await refused(connect(fx.url, undefined, { query: { token: session.token }, transports: [ 'polling' ] }), 'UNAUTHORIZED');
    });

    it('refuses the token of a revoked session (after logout): UNAUTHORIZED', async () => {
      const session = await loginUser('revoked');
      (await open(session.token)).close();
      await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${session.token}`).expect(204);
      const data = await refused(connect(fx.url, session.token), 'UNAUTHORIZED');
      assert.strictEqual(data.message, 'unknown or revoked session token');
    });

    it('works over the polling transport too (single node, no sticky sessions needed)', async () => {
      const session = await loginUser('polling');
      const socket = await open(session.token, { transports: [ 'polling' ] });
      assert.deepStrictEqual(await request(socket, 'echo', 1), { ok: true, payload: 1 });
    });
  });

  describe('logout', () => {
    it('tells and disconnects every socket of the session; the same user\'s other device stays connected', async () => {
      const user = await register(fx.app, 'multi');
      fx.secrets.add(user.password);
      const phone = await login(fx.app, user, 'phone');
      const laptop = await login(fx.app, user, 'laptop');
      fx.secrets.add(phone.token).add(laptop.token);
      // two sockets of the phone's session (say, two tabs), one of the laptop's
      const [ p1, p2, l1 ] = [ await open(phone.token), await open(phone.token), await open(laptop.token) ];
      const seen = [ p1, p2, l1 ].map(watch);

      const loggedOutAt = Date.now();
      await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${phone.token}`).expect(204);
      await waitFor(() => seen[0].disconnectedAt && seen[1].disconnectedAt, 2000, 'the phone\'s sockets to close');
      for (const s of seen.slice(0, 2)) {
        assert.deepStrictEqual(s.expired, { sessionId: phone.sessionId });
        assert.ok(s.expiredAt! <= s.disconnectedAt!, 'told before being disconnected');
        // a server-side disconnect: the client does not try to reconnect with a dead token
        assert.strictEqual(s.reason, 'io server disconnect');
        assert.ok(s.disconnectedAt! - loggedOutAt < 1000, `disconnected ${s.disconnectedAt! - loggedOutAt} ms after the logout`);
      }
      await sleep(200);
      assert.ok(l1.connected, 'the laptop stays connected');
      assert.strictEqual(seen[2].expired, undefined);
      assert.deepStrictEqual(await request(l1, 'echo', 'still here'), { ok: true, payload: 'still here' });
      // the ended sockets' resources are released: no room of the session, no presence entry of its device
      assert.strictEqual(socketServerOf(fx.app).io.of('/').adapter.rooms.get(`s:${phone.sessionId}`), undefined);
      const p = await presenceWhen(fx.app, laptop.token, user.userId, x => x.devices === 1);
      assert.deepStrictEqual(p, { userId: user.userId, online: true, devices: 1 });
    });
  });

  it('ends on arrival a socket whose handshake finished just after its session was ended (revocation race)', async () => {
    const session = await loginUser('race', 'phone');
    // The broadcast of a revocation reaches this node while a handshake that read the session from the
    // database just before the revocation is still running: the session is ended before the socket joins.
    socketServerOf(fx.app).endSession(session.sessionId);
    // watched from before the connection: the end may arrive in the same read as the CONNECT packet
    const socket = io(fx.url, { transports: [ 'websocket' ], reconnection: false, forceNew: true, auth: { token: session.token } });
    sockets.push(socket);
    const seen = watch(socket);
    let connected = false;
    socket.on('connect', () => { connected = true; });
    await waitFor(() => seen.disconnectedAt, 2000, 'the late socket to be ended');
    assert.deepStrictEqual(seen.expired, { sessionId: session.sessionId });
    assert.ok(connected, 'the handshake itself succeeded (the session is valid in the database)');
    assert.strictEqual(seen.reason, 'io server disconnect');
    assert.strictEqual(socketServerOf(fx.app).io.of('/').adapter.rooms.get(`s:${session.sessionId}`), undefined);
  });

  describe('presence', () => {
    it('is online while a device is connected, counts devices, and is offline with lastSeenAt after the last', async () => {
      const viewer = await loginUser('viewer');
      const user = await register(fx.app, 'pres');
      fx.secrets.add(user.password);
      const phone = await login(fx.app, user, 'phone');
      const laptop = await login(fx.app, user, 'laptop');
      fx.secrets.add(phone.token).add(laptop.token);

      // never connected: offline, no lastSeenAt
      assert.deepStrictEqual(await presence(fx.app, viewer.token, user.userId), { userId: user.userId, online: false, devices: 0 });

      const p1 = await open(phone.token);
      assert.deepStrictEqual(await presenceWhen(fx.app, viewer.token, user.userId, x => x.online),
        { userId: user.userId, online: true, devices: 1 });
      const l1 = await open(laptop.token);
      // a second socket of the same device is still one device
      const p2 = await open(phone.token);
      assert.deepStrictEqual(await presenceWhen(fx.app, viewer.token, user.userId, x => x.devices === 2),
        { userId: user.userId, online: true, devices: 2 });
      await sleep(100);
      assert.strictEqual((await presence(fx.app, viewer.token, user.userId)).devices, 2);

      p1.close();
      p2.close();
      assert.deepStrictEqual(await presenceWhen(fx.app, viewer.token, user.userId, x => x.devices === 1),
        { userId: user.userId, online: true, devices: 1 });

      const closedAt = Date.now();
      l1.close();
      const offline = await presenceWhen(fx.app, viewer.token, user.userId, x => !x.online);
      assert.deepStrictEqual(Object.keys(offline).sort(), [ 'devices', 'lastSeenAt', 'online', 'userId' ]);
      assert.strictEqual(offline.devices, 0);
      const lastSeen = Date.parse(offline.lastSeenAt);
      assert.strictEqual(new Date(lastSeen).toISOString(), offline.lastSeenAt);
      assert.ok(Math.abs(lastSeen - closedAt) < 1000, `lastSeenAt ${offline.lastSeenAt}, closed at ${new Date(closedAt).toISOString()}`);
      // stored in the user table too, for when the cache has lost it
      await waitFor(async () => (await fx.app.imStore.users.lastSeenAt(user.userId))?.toISOString() === offline.lastSeenAt,
        2000, 'lastSeenAt in the user table');
      // a user sees their own presence the same way
      assert.deepStrictEqual(await presence(fx.app, laptop.token, user.userId), offline);
    });

    it('the heartbeat refreshes each entry once per cycle, a slice at a time', async () => {
      for (let i = 0; i < 12; i++) await open((await loginUser(`slices${i}`)).token);
      const node = socketServerOf(fx.app).presence as any;
      const write = node.write;
      const written: string[] = [];
      node.write = function(entries: Array<{ member: string }>) {
        written.push(...entries.map(e => e.member));
        return write.call(this, entries);
      };
      // The cycle is driven by hand: the node's own heartbeat timer (a slice every 100 ms here) would write
      // the same entries a second time whenever one of its ticks fell inside the loop.
      node.stop();
      try {
        for (let slice = 0; slice < 10; slice++) {
          await node.heartbeat(slice);
          await sleep(20);
        }
      } finally {
        node.write = write;
        node.start();
      }
      const members = [ ...node.local.values() ].map((e: { member: string }) => e.member);
      assert.ok(members.length >= 12);
      assert.deepStrictEqual(written.sort(), members.sort());
    });

    it('lets the entries of a node that stopped heartbeating lapse: offline with the last heartbeat as lastSeenAt', async function() {
      this.timeout(20000);
      const viewer = await loginUser('viewer2');
      const session = await loginUser('lapse', 'phone');
      // a second user nobody asks about until the whole presence key has expired (2 × TTL)
      const unasked = await loginUser('unasked', 'tablet');
      await open(session.token);
      await open(unasked.token);
      await presenceWhen(fx.app, viewer.token, session.userId, x => x.online);
      await presenceWhen(fx.app, viewer.token, unasked.userId, x => x.online);
      // What the rest of the cluster sees of a node that died: its entries in Redis, no heartbeat, no goodbye.
      // Drop this node's own (in-memory) knowledge of the socket and stop its heartbeat.
      const presenceOfNode = socketServerOf(fx.app).presence as any;
      const local: Map<string, unknown> = presenceOfNode.local;
      const saved = new Map(local);
      local.clear();
      socketServerOf(fx.app).presence.stop();
      const lastBeat = Date.now();
      try {
        const offline = await presenceWhen(fx.app, viewer.token, session.userId, x => !x.online, 6000);
        assert.strictEqual(offline.devices, 0);
        const lastSeen = Date.parse(offline.lastSeenAt);
        // the presence TTL is 3 s and heartbeats come every second
        assert.ok(lastSeen <= lastBeat + 100 && lastSeen > lastBeat - 1500, `lastSeenAt ${offline.lastSeenAt}`);
        const after = Date.now() - lastBeat;
        assert.ok(after >= 1500, 'went offline only once the entry lapsed');
        // with its score (last heartbeat + TTL), not only when the whole key expires (2 × TTL)
        assert.ok(after < 3000 + 1500, `offline only ${after} ms after the last heartbeat`);

        // the key is gone with its lapsed entries, and nobody asked in time: the last heartbeat is still known
        const presenceKey = fx.app.imCache.key('presence', unasked.userId);
        await waitFor(async () => (await keysUnder(presenceKey)).every(k => k.key !== presenceKey), 8000, 'the presence key to expire');
        const p = await presence(fx.app, viewer.token, unasked.userId);
        assert.strictEqual(p.online, false);
        assert.strictEqual(typeof p.lastSeenAt, 'string', JSON.stringify(p));
        const unaskedSeen = Date.parse(p.lastSeenAt);
        assert.ok(unaskedSeen <= lastBeat + 100 && unaskedSeen > lastBeat - 1500, `lastSeenAt ${p.lastSeenAt}`);
      } finally {
        for (const [ k, v ] of saved) local.set(k, v);
        socketServerOf(fx.app).presence.start();
      }
    });

    it('requires a session to ask (401 UNAUTHORIZED without one)', async () => {
      const res = await fx.app.httpRequest().get('/im/users/anyone/presence').expect(401);
      assert.strictEqual(res.body.error.code, 'UNAUTHORIZED');
    });
  });

  describe('default limits', () => {
    it('never rate-limits a burst of 50 events on one connection', async () => {
      const session = await loginUser('burst');
      const socket = await open(session.token);
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => request(socket, 'echo', i)));
      assert.deepStrictEqual(replies, Array.from({ length: 50 }, (_, i) => ({ ok: true, payload: i })));
    });

    it('admits a message of the contract\'s 64 KB content limit in one frame', async () => {
      const session = await loginUser('big');
      const socket = await open(session.token);
      const text = 'x'.repeat(64 * 1024);
      const reply = await request(socket, 'echo', { content: { text } });
      assert.strictEqual(reply.payload.content.text.length, text.length);
    });
  });

  describe('writes', () => {
    /** The server side of a client socket, with a count of the writes its TCP socket makes. */
    const serverSide = (socket: Socket) => {
      const server = socketServerOf(fx.app).io.of('/').sockets.get(socket.id!) as any;
      assert.ok(server, 'the server has the socket');
      const tcp = server.conn.transport.socket._socket;
      const counted = { writes: 0 };
      const writeGeneric = tcp._writeGeneric;
      tcp._writeGeneric = function(...args: unknown[]) {
        counted.writes++;
        return writeGeneric.apply(this, args);
      };
      return { server, conn: server.conn, counted };
    };
    const burst = async (socket: Socket, emit: (i: number) => void, n: number) => {
      const got: number[] = [];
      socket.on('burst' as any, (i: number) => got.push(i));
      for (let i = 0; i < n; i++) emit(i);
      await waitFor(() => got.length === n, 5000, `${n} frames`);
      return got;
    };

    it('sends the frames buffered for one socket in one write, in order', async () => {
      const session = await loginUser('writes');
      const socket = await open(session.token);
      const { server, counted } = serverSide(socket);
      const got = await burst(socket, i => server.emit('burst', i), 100);
      assert.deepStrictEqual(got, Array.from({ length: 100 }, (_, i) => i));
      // The first frame leaves at once; the 99 sent while it was in flight are buffered, then one writev.
      assert.ok(counted.writes <= 3, `${counted.writes} writes for 100 frames`);
    });

    it('empties each flushed buffer once its frames are written', async () => {
      const session = await loginUser('writes-release');
      const socket = await open(session.token);
      const { server, conn } = serverSide(socket);
      const flushed: unknown[][] = [];
      conn.on('flush', (buffer: unknown[]) => flushed.push(buffer));
      const got = await burst(socket, i => server.emit('burst', i), 100);
      assert.strictEqual(got.length, 100);
      assert.ok(flushed.length > 0, 'the frames went through flushes');
      assert.deepStrictEqual(flushed.map(buffer => buffer.length), flushed.map(() => 0));
    });

    it('leaves a buffer whose flush did not happen to the next flush', async () => {
      const session = await loginUser('writes-kept');
      const socket = await open(session.token);
      const { server, conn } = serverSide(socket);
      const got: number[] = [];
      socket.on('burst' as any, (i: number) => got.push(i));
      let fail = true;
      conn.on('flush', () => {
        if (fail) {
          fail = false;
          throw new Error('a listener after egg-im\'s failed');
        }
      });
      assert.throws(() => server.emit('burst', 1), /a listener after egg-im's failed/);
      await new Promise(resolve => setImmediate(resolve));
      server.emit('burst', 2);
      await waitFor(() => got.length === 2, 5000, 'both frames');
      assert.deepStrictEqual(got, [ 1, 2 ]);
    });

    it('(the control) makes a write per frame without it', async () => {
      const session = await loginUser('writes-control');
      const socket = await open(session.token);
      const { server, conn, counted } = serverSide(socket);
      conn.removeAllListeners('flush');
      const got = await burst(socket, i => server.emit('burst', i), 100);
      assert.strictEqual(got.length, 100);
      assert.ok(counted.writes >= 50, `${counted.writes} writes for 100 frames`);
    });
  });

  describe('the sockets of a user on this node (ofUser, hasUser, userIds, emitToUser, emitToSockets)', () => {
    /** A user logged in on a phone and a laptop (not connected yet). */
    const userWithTwoDevices = async (label: string) => {
      const user = await register(fx.app, label);
      fx.secrets.add(user.password);
      const [ phone, laptop ] = [ await login(fx.app, user, 'phone'), await login(fx.app, user, 'laptop') ];
      fx.secrets.add(phone.token).add(laptop.token);
      return { user, phone, laptop };
    };

    it('lists a user\'s sockets, and emits to each of them or to the ones given', async () => {
      const { user, phone, laptop } = await userWithTwoDevices('api');
      const sockets = fx.app.imSockets;
      assert.deepStrictEqual(sockets.ofUser(user.userId), []);
      assert.strictEqual(sockets.hasUser(user.userId), false);
      const clients = [ await open(phone.token), await open(laptop.token) ];
      const servers = sockets.ofUser(user.userId);
      assert.deepStrictEqual(servers.map(s => s.id).sort(), clients.map(c => c.id).sort());
      assert.deepStrictEqual(servers.map(s => s.data.deviceId).sort(), [ 'laptop', 'phone' ]);
      assert.strictEqual(sockets.hasUser(user.userId), true);
      assert.ok(sockets.userIds().includes(user.userId));
      assert.ok(!sockets.userIds().some(id => id.startsWith('u:')), 'ids, not room names');

      const statuses = clients.map(() => [] as unknown[]);
      clients.forEach((client, i) => client.on('message:status', (event: unknown) => statuses[i].push(event)));
      const event = { messageId: 'm1', conversationId: 'c1', seq: 1, userId: 'someone', status: 'delivered' as const };
      sockets.emitToUser(user.userId, 'message:status', event);
      await waitFor(() => statuses.every(list => list.length === 1), 2000, 'the event on both devices');
      assert.deepStrictEqual(statuses, [ [ event ], [ event ] ]);

      // an ack callback is called once per socket that acknowledges
      clients.forEach(client => client.on('message:new', (_message: unknown, ack: () => void) => ack()));
      let acks = 0;
      const message = { id: 'm2', conversationId: 'c1', seq: 2, senderId: 'someone', type: 'text', content: { text: 'hi' }, meta: {}, clientMsgId: 'x', createdAt: new Date().toISOString() };
      sockets.emitToUser(user.userId, 'message:new', message, () => acks++);
      await waitFor(() => acks === 2, 2000, 'an ack from each device');

      const onlyPhone = servers.filter(s => s.data.deviceId === 'phone');
      sockets.emitToSockets(onlyPhone, 'message:status', { ...event, seq: 3 });
      await waitFor(() => statuses.flat().length === 3, 2000, 'the event on the phone');
      const phoneIndex = clients.findIndex(c => c.id === onlyPhone[0].id);
      assert.strictEqual(statuses[phoneIndex].length, 2);
      assert.strictEqual(statuses[1 - phoneIndex].length, 1);

      // nobody there: nothing happens
      sockets.emitToUser('nobody-here', 'message:status', event);
      for (const client of clients) client.close();
      await waitFor(() => !sockets.hasUser(user.userId), 2000, 'the user to leave this node');
      assert.deepStrictEqual(sockets.ofUser(user.userId), []);
    });

    it('no longer counts a closing socket as its user\'s when the disconnect hooks run', async () => {
      const { user, phone, laptop } = await userWithTwoDevices('leaving');
      const sockets = fx.app.imSockets;
      const seen: Array<{ closing: string; left: string[] }> = [];
      sockets.onDisconnect(socket => {
        if (socket.data.userId === user.userId) seen.push({ closing: socket.id, left: sockets.ofUser(user.userId).map(s => s.id) });
      });
      const [ first, second ] = [ await open(phone.token), await open(laptop.token) ];
      first.close();
      await waitFor(() => seen.length === 1, 2000, 'the first disconnect hook');
      assert.deepStrictEqual(seen[0], { closing: seen[0].closing, left: [ second.id ] });
      assert.strictEqual(sockets.hasUser(user.userId), true);
      second.close();
      await waitFor(() => seen.length === 2, 2000, 'the second disconnect hook');
      assert.deepStrictEqual(seen[1].left, []);
      assert.strictEqual(sockets.hasUser(user.userId), false);
    });
  });

  describe('after the run', () => {
    it('marks the users still connected at shutdown offline, before the store and the cache close', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      const users = await Promise.all([ 'stay1', 'stay2', 'stay3' ].map(label => loginUser(label)));
      for (const user of users) await open(user.token);
      await waitFor(async () => (await Promise.all(users.map(u => presence(fx.app, u.token, u.userId)))).every(p => p.online), 2000, 'online');
      const closingAt = Date.now();
      await fx.app.close();
      const connection = await mysql.createConnection({ uri: fx.databaseUrl });
      try {
        const [ rows ] = await connection.query('SELECT id, last_seen_at FROM im_users WHERE id IN (?)', [ users.map(u => u.userId) ]) as any;
        assert.strictEqual(rows.length, 3);
        for (const row of rows) {
          assert.ok(row.last_seen_at instanceof Date && row.last_seen_at.getTime() >= closingAt - 50, `${row.id}: ${row.last_seen_at}`);
        }
      } finally {
        await connection.end();
      }
      const logs = readLogs(fx.logDir).map(f => f.text).join('\n');
      assert.ok(!/presence of user \S+ not (updated|recorded)/.test(logs), 'a presence write failed at shutdown');
    });

    it('wrote no token and no password to any log file', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
