import assert from 'node:assert';
import path from 'node:path';
import { createTestDatabase, dropTestDatabase, request, sleep, startRedisServer, uniqueName, waitFor, type Socket, type TestLogin, type ThrowawayRedis } from 'egg-im-testkit';
import { remoteLogin, remoteRegister } from 'egg-im-testkit/lib/http';
import { connectDevice, firstSeqs, type WireMessage } from 'egg-im-testkit/lib/messaging';
import { startNode, type Node } from './support/cluster';

/** Pairs of users per direction (node 1 → node 2 and node 2 → node 1), and how often each sender sends. */
const PAIRS = 6;
const SEND_EVERY_MS = 300;
const OUTAGE_MS = 10000;
/** A held message must reach its recipient this soon after Redis is back (the target is 2 s; this is the test's bound). */
const HEAL_BOUND_MS = 5000;

interface Pair {
  sender: Socket;
  to: { type: 'user'; id: string };
  recipient: { socket: Socket; inbox: WireMessage[] };
  /** When each message id first reached the recipient's socket. */
  arrivals: Map<string, number>;
  sent: Array<{ message: WireMessage; ackedAt: number }>;
}

const median = (values: number[]) => {
  const sorted = [ ...values ].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};

/**
 * Redis goes away for ten seconds while users on two nodes write to each other, and comes back on the same
 * port. Routing to the other node pauses meanwhile (the messages wait in the outbox); once Redis is back,
 * every held message must reach its recipient quickly, once per seq and in seq order. The nodes run with the
 * production timings (outbox sweep, grace period, retries).
 */
describe('Redis returns after an outage: the held cross-node messages flow again at once', function() {
  this.timeout(180000);
  let redis: ThrowawayRedis;
  let database: { name: string; url: string } | undefined;
  const nodes: Node[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    redis = await startRedisServer();
    database = await createTestDatabase('heal');
    const env = { IM_DATABASE_URL: database.url, IM_REDIS_URL: redis.url, IM_REDIS_PREFIX: `${uniqueName('heal')}:` };
    const baseDir = path.join(__dirname, 'fixtures/apps/heal-node');
    nodes.push(...await Promise.all([ startNode(env, baseDir), startNode(env, baseDir) ]));
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(nodes.map(node => node.stop('SIGTERM')));
    await redis?.dispose();
    if (database) await dropTestDatabase(database.name);
  });

  const user = async (node: Node, label: string): Promise<TestLogin> => remoteLogin(node.url, await remoteRegister(node.url, label));
  const device = async (node: Node, login: TestLogin) => {
    const d = await connectDevice(node.url, login.token);
    sockets.push(d.socket);
    return d;
  };

  async function makePair(from: Node, to: Node, i: number): Promise<Pair> {
    const [ a, b ] = await Promise.all([ user(from, `hs${i}`), user(to, `hr${i}`) ]);
    const sender = (await device(from, a)).socket;
    const recipient = await device(to, b);
    const arrivals = new Map<string, number>();
    recipient.socket.on('message:new', (message: WireMessage) => {
      if (!arrivals.has(message.id)) arrivals.set(message.id, Date.now());
    });
    return { sender, to: { type: 'user', id: b.userId }, recipient, arrivals, sent: [] };
  }

  async function sendOne(pair: Pair, n: number): Promise<void> {
    const ack = await request(pair.sender, 'message:send',
      { to: pair.to, type: 'text', content: { text: `m${n}` }, clientMsgId: `heal-${n}-${Math.random().toString(36).slice(2)}` }, 15000);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    pair.sent.push({ message: ack.message, ackedAt: Date.now() });
  }

  /** Each sender sends one message every SEND_EVERY_MS until `until()` says stop (sends of one sender are sequential). */
  async function sendUntil(pair: Pair, until: () => boolean): Promise<void> {
    for (let n = pair.sent.length; !until(); n++) {
      const started = Date.now();
      await sendOne(pair, n);
      await sleep(Math.max(0, SEND_EVERY_MS - (Date.now() - started)));
    }
  }

  it('delivers every message held during the outage within seconds of Redis returning, once per seq and in order', async () => {
    const [ node1, node2 ] = nodes;
    const pairs: Pair[] = [];
    for (let i = 0; i < PAIRS; i++) pairs.push(await makePair(node1, node2, i), await makePair(node2, node1, PAIRS + i));
    // Each conversation starts with one message delivered across the nodes.
    for (const pair of pairs) await sendOne(pair, 0);
    await waitFor(() => pairs.every(p => p.arrivals.size === 1), 15000, 'the first messages across the nodes');

    let stopSending = false;
    const senders = pairs.map(pair => sendUntil(pair, () => stopSending));
    await sleep(1000);
    const killedAt = Date.now();
    await redis.stop('SIGKILL');
    await sleep(OUTAGE_MS);
    const returnedAt = Date.now();
    await redis.start();
    await sleep(3000);
    stopSending = true;
    await Promise.all(senders);

    const total = pairs.reduce((n, p) => n + p.sent.length, 0);
    const missing = () => pairs.flatMap(p => p.sent.filter(s => !p.arrivals.has(s.message.id)).map(s => `${s.message.conversationId}#${s.message.seq}`));
    await waitFor(() => missing().length === 0, 30000, `every one of ${total} messages at its recipient`).catch(() => undefined);
    await sleep(500);

    // Held: acknowledged to the sender while Redis was down. Measured from the moment Redis was restarted.
    const held = pairs.flatMap(p => p.sent.filter(s => s.ackedAt >= killedAt && s.ackedAt < returnedAt).map(s => ({ pair: p, ...s })));
    const afterReturn = held.filter(h => h.pair.arrivals.has(h.message.id)).map(h => h.pair.arrivals.get(h.message.id)! - returnedAt);
    const late = afterReturn.filter(ms => ms > 0);
    const pushes = pairs.reduce((n, p) => n + p.recipient.inbox.length, 0);
    console.log('      %d messages, %d held, %d never delivered; held ones delivered after Redis returned: %d, max %d ms, median %d ms; pushes %d',
      total, held.length, missing().length, late.length, Math.max(0, ...late), median(late), pushes);

    assert.deepStrictEqual(missing(), [], 'every message reached its recipient');
    for (const pair of pairs) {
      const conversationId = pair.sent[0].message.conversationId;
      const seqs = pair.sent.map(s => s.message.seq).sort((a, b) => a - b);
      assert.deepStrictEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${conversationId}: the sender was given every seq once`);
      assert.deepStrictEqual(firstSeqs(pair.recipient.inbox, conversationId), seqs, `${conversationId}: every seq reached the recipient, first pushes in seq order`);
    }
    assert.ok(held.length >= PAIRS, `messages were sent during the outage (${held.length})`);
    const slow = held.filter(h => h.pair.arrivals.get(h.message.id)! - returnedAt > HEAL_BOUND_MS);
    assert.equal(slow.length, 0, `held messages delivered more than ${HEAL_BOUND_MS} ms after Redis returned: ` +
      slow.slice(0, 10).map(h => `${h.message.conversationId}#${h.message.seq} +${h.pair.arrivals.get(h.message.id)! - returnedAt} ms`).join(', '));
  });
});
