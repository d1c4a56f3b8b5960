import assert from 'node:assert';
import { createClient } from 'redis';
import { sleep, startRedisServer, waitFor, type ThrowawayRedis } from 'egg-im-testkit';
import { NODE_PROTOCOL_VERSION, NodeMessageType, type DeliverMessage, type NodeMessage, type StatusMessage } from 'egg-im-protocol';
import { readLogs, socketServerOf, startFixture, startSecondNode, type Fixture, type SecondNode } from './support/fixture';

const message = (n: number) => ({
  id: `msg-${n}`, conversationId: 'c1', seq: n, senderId: 'alice', type: 'text', content: { text: `hello ${n}` }, meta: {},
  clientMsgId: `client-${n}`, createdAt: new Date(0).toISOString(),
});
const deliver = (n: number): DeliverMessage => ({ type: NodeMessageType.Deliver, messageJson: JSON.stringify(message(n)), memberIds: [ 'alice', 'bob' ], originSocketId: 'sock1' });
const status = (n: number): StatusMessage => ({
  type: NodeMessageType.Status, senderId: 'alice', status: { messageId: `msg-${n}`, conversationId: 'c1', seq: n, userId: 'bob', status: 'delivered' },
});

// The fixture: two nodes on one database and key prefix, on a redis-server of the test's own (killed and
// restarted below), with nodes.confirmAfterMs = 300.
describe('egg-im-connection: the bus between nodes (imSockets.nodes)', () => {
  let redis: ThrowawayRedis;
  let fx: Fixture;
  let node2: SecondNode;
  /** What node 2 received, by type, in arrival order. */
  const received: NodeMessage[] = [];

  before(async () => {
    redis = await startRedisServer();
    fx = await startFixture('nodes', { redisUrl: redis.url });
    node2 = await startSecondNode(fx, 'nodes');
    for (const type of [ NodeMessageType.Deliver, NodeMessageType.Status, NodeMessageType.SessionEnded ]) {
      node2.app.imSockets.nodes.subscribe(type, m => received.push(m));
    }
    await waitFor(() => fx.app.imSockets.nodes.ready && node2.app.imSockets.nodes.ready, 5000, 'both nodes joined');
  });
  beforeEach(() => {
    received.length = 0;
  });
  after(async () => {
    await node2?.close();
    await fx?.close();
    await redis?.dispose();
  });

  it('is multi and ready with Redis', () => {
    for (const app of [ fx.app, node2.app ]) {
      assert.strictEqual(app.imSockets.nodes.multi, true);
      assert.strictEqual(app.imSockets.nodes.ready, true);
    }
  });

  it('carries every message type to the other node\'s handlers of that type, and not back to the sender', async () => {
    const ownEcho: NodeMessage[] = [];
    fx.app.imSockets.nodes.subscribe(NodeMessageType.Status, m => ownEcho.push(m));
    const published = [ deliver(1), status(1), { type: NodeMessageType.SessionEnded, sessionId: 'session-1' } as const ];
    for (const m of published) fx.app.imSockets.nodes.publish(m);
    await waitFor(() => received.length === 3, 3000, 'the messages on node 2');
    assert.deepStrictEqual(received, published);
    await sleep(100);
    assert.deepStrictEqual(ownEcho, []);
  });

  it('sends what is published within nodes.lingerMs as one packet: one Redis publish', async () => {
    const subscriber = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
    subscriber.on('error', () => undefined);
    await subscriber.connect();
    const publishes: string[] = [];
    try {
      await subscriber.pSubscribe(`${fx.prefix}sio*`, (_text, channel) => publishes.push(channel));
      for (let n = 1; n <= 50; n++) fx.app.imSockets.nodes.publish(n % 2 ? deliver(n) : status(n));
      await waitFor(() => received.length === 50, 3000, 'the 50 messages on node 2');
      await sleep(100);
      assert.deepStrictEqual(publishes, [ `${fx.prefix}sio-request#/#` ], 'one serverSideEmit, one publish');
      assert.deepStrictEqual(received.map(m => (m.type === NodeMessageType.Deliver ? JSON.parse(m.messageJson).seq : (m as StatusMessage).status.seq)),
        Array.from({ length: 50 }, (_, i) => i + 1));
      // past the linger (5 ms by default), the next publish is the next packet
      fx.app.imSockets.nodes.publish(status(51));
      await sleep(30);
      fx.app.imSockets.nodes.publish(status(52));
      await waitFor(() => received.length === 52, 3000, 'two more');
      await sleep(100);
      assert.strictEqual(publishes.length, 3);
    } finally {
      await subscriber.close();
    }
  });

  it('ends a session\'s sockets on the other node through the bus (SessionEnded)', async () => {
    const ended: string[] = [];
    const server2 = socketServerOf(node2.app) as unknown as { endLocalSession(sessionId: string): void };
    const original = server2.endLocalSession;
    server2.endLocalSession = function(this: unknown, sessionId: string) {
      ended.push(sessionId);
      return original.call(this, sessionId);
    };
    try {
      socketServerOf(fx.app).endSession('session-2');
      await waitFor(() => ended.length === 1, 3000, 'the session ended on node 2');
      assert.deepStrictEqual(ended, [ 'session-2' ]);
    } finally {
      server2.endLocalSession = original;
    }
  });

  it('drops a packet of another version, says so once, and reads the next good one', async () => {
    const io2 = socketServerOf(node2.app).io as unknown as { serverSideEmit(event: string, ...args: unknown[]): void };
    const future = JSON.stringify({ v: NODE_PROTOCOL_VERSION + 1, from: 'node-of-next-release', messages: [ status(1) ] });
    const line = `dropped a packet from another node that this node cannot read (version ${NODE_PROTOCOL_VERSION + 1}; this node reads ${NODE_PROTOCOL_VERSION})`;
    const logged = () => readLogs(fx.logDir).reduce((sum, f) => sum + f.text.split(line).length - 1, 0);
    const received1: NodeMessage[] = [];
    fx.app.imSockets.nodes.subscribe(NodeMessageType.Deliver, m => received1.push(m));
    io2.serverSideEmit('im:nodes', future);
    io2.serverSideEmit('im:nodes', future);
    io2.serverSideEmit('im:nodes', '{garbage');
    node2.app.imSockets.nodes.publish(deliver(7));
    await waitFor(() => received1.length === 1, 3000, 'the good packet after the bad ones');
    assert.deepStrictEqual(received1, [ deliver(7) ]);
    await waitFor(() => logged() > 0, 5000, 'the warning in the log');
    await sleep(1500); // the log files are written in batches
    assert.strictEqual(logged(), 1);
  });

  describe('confirmation()', () => {
    it('is true while Redis is up, after the settle time; calls in one window share it', async () => {
      const nodes = fx.app.imSockets.nodes;
      nodes.publish(deliver(1));
      const started = Date.now();
      const first = nodes.confirmation();
      const second = nodes.confirmation();
      assert.strictEqual(first, second);
      assert.strictEqual(await first, true);
      assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms (nodes.confirmAfterMs is 300)`);
    });

    it('is false when the adapter\'s connection drops in the window; onReady says when it is back, and the bus works again', async function() {
      this.timeout(30000);
      const nodes = fx.app.imSockets.nodes;
      let readyAgain = 0;
      nodes.onReady(() => readyAgain++);
      nodes.publish(deliver(1));
      const answer = nodes.confirmation();
      await redis.stop('SIGKILL');
      assert.strictEqual(await answer, false);
      await waitFor(() => !nodes.ready, 3000, 'the adapter to notice');
      assert.strictEqual(await nodes.confirmation(), false, 'not ready at the call');
      assert.strictEqual(readyAgain, 0);

      await redis.start();
      await waitFor(() => nodes.ready && node2.app.imSockets.nodes.ready, 10000, 'both adapters back');
      assert.strictEqual(readyAgain, 1);
      assert.strictEqual(await nodes.confirmation(), true);
      await waitFor(async () => {
        nodes.publish(status(9));
        await sleep(100);
        return received.some(m => m.type === NodeMessageType.Status && m.status.seq === 9);
      }, 10000, 'messages flowing to node 2 again (its subscriber is back)');
    });
  });
});
