import assert from 'node:assert';
import { createClient } from 'redis';
import { createTestDatabase, dropTestDatabase, request, sleep, TEST_REDIS_URL, uniqueName, waitFor, type Socket } from 'egg-im-testkit';
import { remoteLogin, remoteRegister } from 'egg-im-testkit/lib/http';
import { connectDevice, firstSeqs } from 'egg-im-testkit/lib/messaging';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';
import { startNode, type Node } from './support/cluster';

/**
 * A node joins a cluster of one while messages flow: its users get every message, those committed before their
 * backlog was read and those after it. (A node that believed itself alone and skipped its publishes broke this:
 * a message skipped after the new node read a backlog never came, and the next one moved the delivery cursor
 * past it; see docs/performance.md.)
 */
describe('messaging: a node joins one that was alone', function() {
  this.timeout(120000);
  let database: { name: string; url: string } | undefined;
  const prefix = `${uniqueName('msgjoin')}:`;
  const nodes: Node[] = [];
  const sockets: Socket[] = [];
  const subscriber = createClient({ url: TEST_REDIS_URL });
  const publishes: number[] = [];

  const start = async () => {
    const node = await startNode({ IM_DATABASE_URL: database!.url, IM_REDIS_URL: TEST_REDIS_URL, IM_REDIS_PREFIX: prefix, TEST_ACK_TIMEOUT_MS: '1000' });
    nodes.push(node);
    return node;
  };

  before(async () => {
    database = await createTestDatabase('msgjoin');
    subscriber.on('error', () => undefined);
    await subscriber.connect();
    // Every publish of the node bus (socket.io's serverSideEmit) goes to the adapter's request channel. Watched
    // through a pattern: a plain subscriber would count as a node (PUBSUB NUMSUB).
    await subscriber.pSubscribe(`${prefix}sio-request#*`, () => publishes.push(Date.now()));
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(nodes.map(node => node.stop('SIGTERM')));
    await subscriber.quit().catch(() => undefined);
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  it('every message sent while a second node starts reaches its user there', async () => {
    const node1 = await start();
    const alice = await remoteLogin(node1.url, await remoteRegister(node1.url, 'alice'));
    const bob = await remoteRegister(node1.url, 'bob');
    const a = await connectDevice(node1.url, alice.token);
    sockets.push(a.socket);
    const sent: number[] = [];
    let sending = true;
    const sender = (async () => {
      for (let n = 1; sending; n++) {
        const ack = await request(a.socket, 'message:send', { to: { type: 'user', id: bob.userId }, type: 'text', content: { text: `m${n}` }, clientMsgId: `join-${n}` });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        sent.push(ack.message.seq);
        await sleep(50);
      }
    })();

    await sleep(2000);
    assert.ok(sent.length > 10, `sent ${sent.length}`);
    assert.ok(publishes.length > 0, 'node 1 publishes while it is alone: a node may join at any moment');

    const joinedAt = sent.at(-1);
    const node2 = await start();
    const connectedAt = sent.at(-1);
    const b = await connectDevice(node2.url, (await remoteLogin(node2.url, bob)).token);
    sockets.push(b.socket);
    await sleep(3000);
    sending = false;
    await sender;
    const all = sent.slice().sort((x, y) => x - y);
    await waitFor(() => new Set(firstSeqs(b.inbox)).size === all.length, 15000, `bob to have all ${all.length} messages on node 2`)
      .catch(err => {
        const have = new Set(firstSeqs(b.inbox));
        throw new Error(`${err.message}: missing ${all.filter(seq => !have.has(seq)).join(', ')}; node 2 started at seq ${joinedAt}, bob connected at ${connectedAt}`);
      });
    assert.deepStrictEqual([ ...new Set(firstSeqs(b.inbox)) ].sort((x, y) => x - y), all);
  });
});
