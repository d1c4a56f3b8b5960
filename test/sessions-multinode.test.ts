import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { connect, createTestDatabase, dropTestDatabase, sleep, TEST_REDIS_URL, uniqueName, waitFor, type Socket, type TestLogin } from 'egg-im-testkit';
import { httpJson, remoteLogin, remoteRegister } from 'egg-im-testkit/lib/http';
import { deleteKeysUnder, keysUnder } from 'egg-im-testkit/lib/redisKeys';
import { NODE_START_MS, startNode, type Node } from './support/cluster';

/** The presence TTL of the nodes: a dead node's entries lapse this long after its last heartbeat (every 1 s). */
const PRESENCE_TTL_MS = 3000;

/** What happened to a client socket, recorded from the moment `watch` is called. */
function watch(socket: Socket) {
  const seen: { expired?: unknown; expiredAt?: number; reason?: string; disconnectedAt?: number } = {};
  socket.on('session:expired', (payload: unknown) => { seen.expired = payload; seen.expiredAt = Date.now(); });
  socket.on('disconnect', reason => { seen.reason = reason; seen.disconnectedAt = Date.now(); });
  return seen;
}

/** Every log file of a node, concatenated (read before the node stops: stop() removes its log folder). */
function nodeLogs(node: Node): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else texts.push(fs.readFileSync(full, 'utf8'));
    }
  };
  if (fs.existsSync(node.logDir)) walk(node.logDir);
  return texts.join('\n');
}

describe('sessions and presence across two nodes (socket.io Redis adapter)', function() {
  this.timeout(NODE_START_MS + 30000); // the before hook starts two nodes
  let database: { name: string; url: string } | undefined;
  const prefix = `${uniqueName('multi')}:`;
  const nodes: Node[] = [];
  let node1: Node;
  let node2: Node;
  const sockets: Socket[] = [];
  const tokens = new Set<string>();

  const presence = async (node: Node, viewer: TestLogin, userId: string) => {
    const res = await httpJson(node.url, 'GET', `/im/users/${userId}/presence`, { token: viewer.token });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  /** Waits until both nodes answer the same presence and it satisfies `check`; returns it. */
  const presenceEverywhere = (viewer: TestLogin, userId: string, check: (p: any) => boolean, timeoutMs = 5000) =>
    waitFor(async () => {
      const [ a, b ] = await Promise.all([ presence(node1, viewer, userId), presence(node2, viewer, userId) ]);
      return check(a) && JSON.stringify(a) === JSON.stringify(b) ? a : undefined;
    }, timeoutMs, `the same presence of ${userId} from both nodes`);
  const open = async (node: Node, session: TestLogin) => {
    const socket = await connect(node.url, session.token);
    sockets.push(socket);
    return socket;
  };
  const loginOn = async (node: Node, user: Awaited<ReturnType<typeof remoteRegister>>, deviceId: string) => {
    const session = await remoteLogin(node.url, user, deviceId);
    tokens.add(session.token);
    return session;
  };

  before(async () => {
    database = await createTestDatabase('multi');
    const env = {
      IM_DATABASE_URL: database.url,
      IM_REDIS_URL: TEST_REDIS_URL,
      IM_REDIS_PREFIX: prefix,
      TEST_PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
    };
    // Both at once; whichever started is stopped in after() even if the other failed.
    const started = await Promise.allSettled([ startNode(env), startNode(env) ]);
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find(result => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [ node1, node2 ] = nodes;
  });

  after(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await Promise.all(nodes.map(node => node.stop()));
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
    assert.deepStrictEqual(await keysUnder(prefix), [], 'keys were left behind');
  });

  it('logout on node 1 disconnects that session\'s socket on node 2 within a second; the user\'s other device stays', async () => {
    const user = await remoteRegister(node1.url, 'multi');
    const viewer = await loginOn(node1, await remoteRegister(node1.url, 'viewer'), 'viewer');
    const a = await loginOn(node1, user, 'device-a');
    const b = await loginOn(node1, user, 'device-b');
    const socketA = await open(node1, a);
    const socketB = await open(node2, b);
    const seenA = watch(socketA);
    const seenB = watch(socketB);

    // online on two devices, one per node, and both nodes say so
    assert.deepStrictEqual(await presenceEverywhere(viewer, user.userId, p => p.devices === 2),
      { userId: user.userId, online: true, devices: 2 });

    const loggedOutAt = Date.now();
    const res = await httpJson(node1.url, 'POST', '/im/auth/logout', { token: b.token });
    assert.strictEqual(res.status, 204);
    await waitFor(() => seenB.disconnectedAt, 3000, 'B to be disconnected on node 2');
    assert.deepStrictEqual(seenB.expired, { sessionId: b.sessionId }, 'B is told its session ended');
    assert.ok(seenB.expiredAt! <= seenB.disconnectedAt!);
    assert.strictEqual(seenB.reason, 'io server disconnect');
    const delay = seenB.disconnectedAt! - loggedOutAt;
    assert.ok(delay < 1000, `B was disconnected ${delay} ms after the logout`);

    // A, on node 1, of the same user, is untouched
    await sleep(300);
    assert.ok(socketA.connected, 'A stays connected');
    assert.strictEqual(seenA.expired, undefined);
    assert.strictEqual(seenA.disconnectedAt, undefined);
    assert.deepStrictEqual(await presenceEverywhere(viewer, user.userId, p => p.devices === 1),
      { userId: user.userId, online: true, devices: 1 });

    // B's token is dead on every node, A's lives
    for (const node of [ node1, node2 ]) {
      const refused: any = await connect(node.url, b.token).then(s => { s.close(); throw new Error('connected'); }, e => e);
      assert.strictEqual(refused.message, 'UNAUTHORIZED');
      assert.strictEqual((await httpJson(node.url, 'GET', `/im/users/${user.userId}/presence`, { token: b.token })).status, 401);
      assert.strictEqual((await httpJson(node.url, 'GET', `/im/users/${user.userId}/presence`, { token: a.token })).status, 200);
    }

    // the last device leaves: offline everywhere, with the same lastSeenAt
    const closedAt = Date.now();
    socketA.close();
    const offline = await presenceEverywhere(viewer, user.userId, p => !p.online);
    assert.strictEqual(offline.devices, 0);
    assert.ok(Math.abs(Date.parse(offline.lastSeenAt) - closedAt) < 1000, offline.lastSeenAt);
  });

  it('lets the presence of a killed node lapse: offline with lastSeenAt after the presence TTL', async () => {
    const viewer = await loginOn(node1, await remoteRegister(node1.url, 'viewer2'), 'viewer');
    const user = await remoteRegister(node1.url, 'victim');
    const session = await loginOn(node1, user, 'only-device');
    const socket = await open(node2, session);
    const seen = watch(socket);
    assert.deepStrictEqual(await presenceEverywhere(viewer, user.userId, p => p.online),
      { userId: user.userId, online: true, devices: 1 });
    // let node 2 heartbeat at least once after the connection
    await sleep(1200);

    assert.ok(!nodeLogs(node2).includes(session.token), 'node 2 logged a token');
    const killedAt = Date.now();
    await node2.stop('SIGKILL');
    await waitFor(() => seen.disconnectedAt, 3000, 'the client to notice the node is gone');

    // nobody said goodbye: node 1 still sees the entry until it lapses, then offline with the last heartbeat
    const offline = await waitFor(async () => {
      const p = await presence(node1, viewer, user.userId);
      return p.online ? undefined : p;
    }, PRESENCE_TTL_MS + 3000, 'the user to be offline');
    const offlineAfter = Date.now() - killedAt;
    assert.ok(offlineAfter >= PRESENCE_TTL_MS - 1200, `offline ${offlineAfter} ms after the kill: before the entry could lapse`);
    // the entry lapses with its score (last heartbeat + TTL), not only when the whole key expires (2 × TTL)
    assert.ok(offlineAfter < PRESENCE_TTL_MS + 1500, `offline only ${offlineAfter} ms after the kill`);
    assert.strictEqual(offline.devices, 0);
    assert.strictEqual(typeof offline.lastSeenAt, 'string', JSON.stringify(offline));
    const lastSeen = Date.parse(offline.lastSeenAt);
    assert.ok(lastSeen <= killedAt && lastSeen > killedAt - 1500, `lastSeenAt ${offline.lastSeenAt}, killed at ${new Date(killedAt).toISOString()}`);
    // and it stays so
    assert.deepStrictEqual(await presence(node1, viewer, user.userId), offline);
  });

  it('wrote no token to node 1\'s logs', () => {
    const logs = nodeLogs(node1);
    assert.ok(logs.includes('[egg-im-connection]'), 'node 1 has logs');
    for (const token of tokens) assert.ok(!logs.includes(token), 'node 1 logged a token');
  });
});
