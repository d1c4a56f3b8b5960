import assert from 'node:assert';
import { createTestDatabase, dropTestDatabase, request, sleep, TEST_REDIS_URL, uniqueName, waitFor, type Socket, type TestLogin } from 'egg-im-testkit';
import { httpJson, remoteLogin, remoteRegister } from 'egg-im-testkit/lib/http';
import { connectDevice, firstSeqs, queryDatabase, type WireMessage } from 'egg-im-testkit/lib/messaging';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';
import { startNode, type Node } from './support/cluster';

/**
 * The message path across real node processes (production mode, one worker each) sharing MariaDB and Redis:
 * every node pushes to its own sockets, and routed messages reach the others through the socket.io Redis adapter.
 */
describe('messaging across nodes', function() {
  this.timeout(90000);
  let database: { name: string; url: string } | undefined;
  const prefix = `${uniqueName('msgmulti')}:`;
  const nodes: Node[] = [];
  let node1: Node;
  let node2: Node;
  const sockets: Socket[] = [];

  /** Environment of a node; the outbox is swept every 200 ms for entries older than 1.5 s. */
  const env = (extra: Record<string, string> = {}) => ({
    IM_DATABASE_URL: database!.url,
    IM_REDIS_URL: TEST_REDIS_URL,
    IM_REDIS_PREFIX: prefix,
    TEST_ACK_TIMEOUT_MS: '1000',
    TEST_OUTBOX_SWEEP_MS: '200',
    TEST_OUTBOX_GRACE_MS: '1500',
    ...extra,
  });
  const start = async (extra?: Record<string, string>) => {
    const node = await startNode(env(extra));
    nodes.push(node);
    return node;
  };
  const user = async (node: Node, label: string, deviceId?: string) => remoteLogin(node.url, await remoteRegister(node.url, label), deviceId);
  const device = async (node: Node, login: TestLogin, options?: { ack?: boolean; cursors?: boolean }) => {
    const d = await connectDevice(node.url, login.token, options);
    sockets.push(d.socket);
    return d;
  };
  const send = (socket: Socket, to: { type: 'user' | 'group'; id: string }, text: string) =>
    request(socket, 'message:send', { to, type: 'text', content: { text }, clientMsgId: `c${Date.now()}${Math.random().toString(36).slice(2)}` });
  const status = async (node: Node, login: TestLogin, messageId: string) => {
    const res = await httpJson(node.url, 'GET', `/im/messages/${messageId}/status`, { token: login.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    database = await createTestDatabase('msgmulti');
    [ node1, node2 ] = await Promise.all([ start(), start() ]);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(nodes.map(node => node.stop('SIGTERM')));
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  it('a group with members on both nodes: every member receives every message, in seq order', async () => {
    const owner = await user(node1, 'owner');
    const a1 = await user(node1, 'a');
    const b1 = await user(node2, 'b');
    const b2 = await user(node2, 'c');
    const created = await httpJson(node2.url, 'POST', '/im/groups', { token: owner.token, body: { name: 'both nodes', memberIds: [ a1.userId, b1.userId, b2.userId ] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const group = { type: 'group' as const, id: created.body.groupId };

    const ownerDevice = await device(node1, owner);
    const members = [
      { login: a1, ...await device(node1, a1) },
      { login: b1, ...await device(node2, b1) },
      { login: b2, ...await device(node2, b2) },
      // a second device of a1, on the other node
      { login: a1, ...await device(node2, await remoteLogin(node2.url, a1, 'second')) },
    ];
    // Senders on both nodes at once.
    const acks = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => send(ownerDevice.socket, group, `owner ${i}`)),
      ...Array.from({ length: 10 }, (_, i) => send(members[1].socket, group, `b ${i}`)),
    ]);
    assert.ok(acks.every(a => a.ok), JSON.stringify(acks.find(a => !a.ok)));
    const all = acks.map(a => a.message as WireMessage).sort((x, y) => x.seq - y.seq);
    assert.deepStrictEqual(all.map(m => m.seq), Array.from({ length: 20 }, (_, i) => i + 1));

    for (const [ i, member ] of members.entries()) {
      const expected = all.filter(m => m.senderId !== member.login.userId).map(m => m.seq);
      await waitFor(() => firstSeqs(member.inbox).length === expected.length, 10000, `member ${i} to get ${expected.length}`);
      assert.deepStrictEqual(firstSeqs(member.inbox), expected, `member ${i}: first pushes in seq order`);
    }
    // The owner hears the receipts from both nodes' members.
    await waitFor(async () => (await status(node2, owner, all[0].id)).status === 'delivered', 10000, 'delivered to everyone');
  });

  it('one-to-one across nodes: delivery, the receipt back to the sender, a reply, and the replay on connect', async () => {
    const alice = await user(node1, 'alice');
    const bob = await user(node2, 'bob');
    const a = await device(node1, alice);
    const statuses: any[] = [];
    a.socket.on('message:status', (event: unknown) => statuses.push(event));
    // Another device of alice's on node 1 asked for cursors: bob's receipt on node 2 reaches it as one.
    const tablet = await device(node1, await remoteLogin(node1.url, alice), { cursors: true });
    const cursors: any[] = [];
    tablet.socket.on('message:cursors', (event: any) => cursors.push(...event.cursors));
    const b = await device(node2, bob);

    const hello = (await send(a.socket, { type: 'user', id: bob.userId }, 'across')).message;
    await waitFor(() => b.inbox.find(m => m.id === hello.id), 10000, 'bob to receive on node 2');
    assert.deepStrictEqual(b.inbox[0], hello);
    await waitFor(() => statuses.find(e => e.messageId === hello.id && e.status === 'delivered'), 10000, 'the receipt on node 1');
    await waitFor(() => cursors.find(c => c.conversationId === hello.conversationId && c.userId === bob.userId && c.deliveredSeq === hello.seq), 10000, 'the cursor on node 1');
    // The status API is the record: bob's receipt is written in a batch (write.backgroundLingerMs), so the live
    // status can reach alice before the record has it.
    await waitFor(async () => (await status(node1, alice, hello.id)).recipients[0].status === 'delivered', 5000, 'the receipt recorded');
    const reply = (await send(b.socket, { type: 'user', id: alice.userId }, 'back')).message;
    await waitFor(() => a.inbox.find(m => m.id === reply.id), 10000, 'alice to receive on node 1');
    assert.equal(reply.seq, 2);

    // Bob goes offline; alice writes on node 1; bob comes back on node 1 this time.
    b.socket.close();
    const later = (await send(a.socket, { type: 'user', id: bob.userId }, 'while you were away')).message;
    const back = await device(node1, bob);
    await waitFor(() => back.inbox.find(m => m.id === later.id), 10000, 'the replay');
    assert.deepStrictEqual(firstSeqs(back.inbox), [ 3 ]);
  });

  it('the node that accepted a message is killed after the ack, before routing it: the recipient on another node still gets it', async () => {
    // node3 acks after its commit but does not route (test switch im.delivery.routeAfterCommit: false), and
    // sweeps no outbox: exactly the state a crash between commit and routing leaves. It is SIGKILLed right
    // after the ack; node 1 or 2 must find the outbox entry and route it to the recipient's socket on node 2.
    const node3 = await start({ TEST_ROUTE_AFTER_COMMIT: 'false', TEST_OUTBOX_SWEEP_MS: '0' });
    const carol = await user(node3, 'carol');
    const dave = await user(node2, 'dave');
    const c = await device(node3, carol);
    const d = await device(node2, dave);
    const arrivals: number[] = [];
    d.socket.on('message:new', () => arrivals.push(Date.now()));

    const ack = await send(c.socket, { type: 'user', id: dave.userId }, 'survives the crash');
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await node3.stop('SIGKILL');
    const killedAt = Date.now();
    assert.equal(d.inbox.length, 0, 'nothing was routed before the crash');
    const [ entry ] = await queryDatabase(database!.url, 'SELECT message_id FROM im_outbox WHERE message_id = ?', [ ack.message.id ]);
    assert.ok(entry, 'the outbox entry was committed with the message');

    await waitFor(() => d.inbox.find(m => m.id === ack.message.id), 15000, 'dave to get the message from the outbox sweeper');
    assert.ok(arrivals[0] >= killedAt);
    assert.deepStrictEqual(d.inbox[0], ack.message, 'the message as the sender was told it');
    await waitFor(async () => (await status(node2, dave, ack.message.id)).status === 'delivered', 10000, 'delivered');
    await waitFor(async () => Number((await queryDatabase(database!.url, 'SELECT COUNT(*) AS n FROM im_outbox'))[0].n) === 0, 10000, 'the outbox to empty');
    await sleep(300);
    assert.ok(firstSeqs(d.inbox).length === 1 && d.inbox.every(m => m.id === ack.message.id));
  });
});
