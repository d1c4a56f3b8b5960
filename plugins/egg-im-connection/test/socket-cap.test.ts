import assert from 'node:assert';
import { io } from 'socket.io-client';
import { NodeMessageType } from 'egg-im-protocol';
import { connect, login, register, sleep, waitFor, type Socket, type TestLogin, type TestUser } from 'egg-im-testkit';
import { assertNoSecretsInLogs, readLogs, socketServerOf, startFixture, startSecondNode, watch, type Fixture, type SecondNode } from './support/fixture';

/** The handshake's refusal for a user over the cap: `connect_error` RATE_LIMITED with `{ scope: 'sockets', limit }`. */
async function refusedOverCap(promise: Promise<Socket>, limit: number): Promise<void> {
  const err: any = await promise.then(
    socket => { socket.close(); throw new Error('connected, but RATE_LIMITED was expected'); },
    (e: unknown) => e,
  );
  assert.strictEqual(err.message, 'RATE_LIMITED');
  assert.deepStrictEqual(Object.keys(err.data).sort(), [ 'code', 'details', 'message' ]);
  assert.strictEqual(err.data.code, 'RATE_LIMITED');
  assert.strictEqual(typeof err.data.message, 'string');
  assert.deepStrictEqual(err.data.details, { scope: 'sockets', limit });
}

// The fixture: at most 3 sockets per user, presence TTL 3 s; two nodes on one database and Redis prefix.
describe('egg-im-connection: sockets per user, across nodes', () => {
  let fx: Fixture;
  let node2: SecondNode;
  const sockets: Socket[] = [];
  const open = async (url: string, token: string) => {
    const socket = await connect(url, token);
    sockets.push(socket);
    return socket;
  };
  const newUser = async (label: string): Promise<TestUser> => {
    const user = await register(fx.app, label);
    fx.secrets.add(user.password);
    return user;
  };
  const newLogin = async (user: TestUser, device: string): Promise<TestLogin> => {
    const session = await login(fx.app, user, device);
    fx.secrets.add(session.token);
    return session;
  };
  /** The user's sockets the servers hold, on both nodes. */
  const serverSockets = (userId: string) => [ fx.app, node2.app ]
    .flatMap(app => [ ...socketServerOf(app).io.of('/').sockets.values() ].filter(s => s.data.userId === userId)).length;

  before(async () => {
    fx = await startFixture('socket-cap');
    node2 = await startSecondNode(fx, 'socket-cap');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await node2?.close();
    await fx?.close();
  });

  it('refuses the newest socket over the cap on either node; the connected ones stay', async () => {
    const user = await newUser('cap');
    const phone = await newLogin(user, 'phone');
    const laptop = await newLogin(user, 'laptop');
    const first = [ await open(fx.url, phone.token), await open(fx.url, laptop.token), await open(node2.url, phone.token) ];
    await refusedOverCap(connect(node2.url, laptop.token), 3);
    await refusedOverCap(connect(fx.url, phone.token), 3);
    await sleep(100);
    assert.ok(first.every(s => s.connected), 'the first three stay connected');
    assert.strictEqual(serverSockets(user.userId), 3);
    // another user is not affected
    const other = await newLogin(await newUser('other'), 'phone');
    await open(node2.url, other.token);
    await waitFor(() => readLogs(fx.logDir).some(f => f.text.includes(`refused a socket (socket.maxPerUser): user ${user.userId} device laptop: 3 sockets already`)),
      2000, 'the refusal in the log');
  });

  it('gives a place back when a socket closes, on any node', async () => {
    const user = await newUser('release');
    const session = await newLogin(user, 'phone');
    const [ a ] = [ await open(fx.url, session.token), await open(node2.url, session.token), await open(node2.url, session.token) ];
    await refusedOverCap(connect(node2.url, session.token), 3);
    a.close();
    const replacement = await waitFor(() => connect(node2.url, session.token).then(s => s, () => undefined), 3000, 'a place after the close');
    sockets.push(replacement);
    assert.ok(replacement.connected);
    await refusedOverCap(connect(fx.url, session.token), 3);
  });

  it('admits exactly the cap out of parallel handshakes on both nodes', async () => {
    const user = await newUser('parallel');
    const session = await newLogin(user, 'phone');
    const attempts = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => connect(i % 2 ? node2.url : fx.url, session.token)));
    for (const a of attempts) if (a.status === 'fulfilled') sockets.push(a.value);
    const refused = attempts.filter(a => a.status === 'rejected').map(a => (a as PromiseRejectedResult).reason);
    assert.strictEqual(attempts.length - refused.length, 3, 'three connected');
    assert.ok(refused.every(err => err.message === 'RATE_LIMITED' && err.data.details.scope === 'sockets'));
    assert.strictEqual(serverSockets(user.userId), 3);
  });

  it('gives the places of a session that ended during the handshake back', async () => {
    const user = await newUser('raced');
    const session = await newLogin(user, 'phone');
    // the revocation reaches this node just before the handshake completes (see sockets.test.ts)
    socketServerOf(fx.app).endSession(session.sessionId);
    for (let i = 0; i < 4; i++) {
      // watched from before the connection: the end may arrive in the same read as the CONNECT packet
      const socket = io(fx.url, { transports: [ 'websocket' ], reconnection: false, forceNew: true, auth: { token: session.token } });
      sockets.push(socket);
      const seen = watch(socket);
      await waitFor(() => seen.disconnectedAt, 2000, 'the late socket to be ended');
      assert.deepStrictEqual(seen.expired, { sessionId: session.sessionId });
    }
    const other = await newLogin(user, 'laptop');
    await open(fx.url, other.token);
    await open(fx.url, other.token);
    await open(node2.url, other.token);
  });

  it('does not count the sockets of a node that stopped beating once their entries lapse', async function() {
    this.timeout(20000);
    const user = await newUser('dead-node');
    const session = await newLogin(user, 'phone');
    for (let i = 0; i < 3; i++) await open(node2.url, session.token);
    await refusedOverCap(connect(fx.url, session.token), 3);
    // What the cluster sees of a node that died: its entries in Redis, no heartbeat, no goodbye.
    const presenceOfNode2 = socketServerOf(node2.app).presence as any;
    const local: Map<string, unknown> = presenceOfNode2.local;
    const saved = new Map(local);
    local.clear();
    presenceOfNode2.stop();
    try {
      // Each entry lapses on its own (the heartbeat refreshed them in different slices): a place per lapsed entry.
      for (let i = 0; i < 3; i++) {
        const socket = await waitFor(() => connect(fx.url, session.token).then(s => s, () => undefined), 8000, `place ${i + 1} once the dead node's entries lapsed`);
        sockets.push(socket);
      }
      await refusedOverCap(connect(fx.url, session.token), 3);
    } finally {
      for (const [ k, v ] of saved) local.set(k, v);
      presenceOfNode2.start();
    }
  });

  it('refuses a handshake whose admission failed unexpectedly as INTERNAL, its cause in the log only', async () => {
    const session = await newLogin(await newUser('broken'), 'phone');
    const presence = socketServerOf(fx.app).presence as any;
    const admit = presence.admit;
    presence.admit = async () => { throw new Error('cache internals: key im:presence:x WRONGTYPE'); };
    try {
      const err: any = await connect(fx.url, session.token).then(
        socket => { socket.close(); throw new Error('connected, but INTERNAL was expected'); },
        (e: unknown) => e,
      );
      assert.strictEqual(err.message, 'INTERNAL');
      assert.deepStrictEqual(err.data, { code: 'INTERNAL', message: 'could not check the connection' });
    } finally {
      presence.admit = admit;
    }
    await waitFor(() => readLogs(fx.logDir).some(f => f.text.includes(`handshake failed (user ${session.userId})`) && f.text.includes('cache internals')),
      2000, 'the cause in the log');
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await node2.close();
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});

describe('egg-im-connection: sockets per user without Redis (memory mode, one node)', () => {
  let fx: Fixture;
  const sockets: Socket[] = [];

  before(async () => {
    fx = await startFixture('socket-cap-memory');
  });
  after(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await fx?.close();
  });

  it('has no other nodes: the bus is not multi, is ready, and confirms at once', async () => {
    const { nodes } = fx.app.imSockets;
    assert.strictEqual(nodes.multi, false);
    assert.strictEqual(nodes.ready, true);
    nodes.publish({ type: NodeMessageType.SessionEnded, sessionId: 'nobody' });
    assert.strictEqual(await nodes.confirmation(), true);
  });

  it('counts this node\'s sockets: refuses the fourth, admits again after a close', async () => {
    assert.strictEqual(fx.app.imCache.mode, 'memory');
    const user = await register(fx.app, 'memcap');
    const session = await login(fx.app, user, 'phone');
    for (let i = 0; i < 3; i++) sockets.push(await connect(fx.url, session.token));
    await refusedOverCap(connect(fx.url, session.token), 3);
    sockets.shift()!.close();
    const again = await waitFor(() => connect(fx.url, session.token).then(s => s, () => undefined), 3000, 'a place after the close');
    sockets.push(again);
    await refusedOverCap(connect(fx.url, session.token), 3);
  });
});
