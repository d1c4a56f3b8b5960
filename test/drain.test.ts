import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { io as connectRaw, type Socket as RawSocket } from 'socket.io-client';
import { ImClient, type TypedMessage, type BuiltinMessageTypes } from 'egg-im-client';
import { createTestDatabase, dropTestDatabase, sleep, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';
import { Balancer } from './support/balancer';
import { startNode, type Node } from './support/cluster';
import { getJson } from './support/process';

/** Clients (in pairs writing to each other), the total send rate, how long they send, and when node A gets SIGTERM. */
const CLIENTS = Number(process.env.TEST_DRAIN_CLIENTS) || 100;
const RATE_PER_S = Number(process.env.TEST_DRAIN_RATE) || 100;
const LOAD_MS = 8000;
const STOP_AT_MS = 3000;
/** A legacy client ignores `server:draining`: the drain lasts this long (then its connection is closed). */
const DRAIN_MS = 3000;

interface Sent { id: string; conversationId: string; seq: number; to: number; sentAt: number }

/**
 * Two nodes (MariaDB, Redis) behind a balancer that follows /readyz; CLIENTS typed clients send to each other
 * at RATE_PER_S; one node gets SIGTERM mid-load. Its clients are told to move, finish their calls, and reconnect
 * through the balancer to the other node: no client sees an error, every acknowledged message reaches its
 * recipient once and in order, and the slowest delivery is measured.
 */
describe('a node stopped under load (SIGTERM) drains: clients move without an error, nothing is lost', function() {
  this.timeout(150000);
  let database: { name: string; url: string } | undefined;
  const prefix = `${uniqueName('drain')}:`;
  const nodes: Node[] = [];
  let balancer: Balancer | undefined;
  const clients: Array<ImClient<BuiltinMessageTypes>> = [];
  let legacy: RawSocket | undefined;

  before(async () => {
    database = await createTestDatabase('drain');
    const env = {
      IM_DATABASE_URL: database.url,
      IM_REDIS_URL: TEST_REDIS_URL,
      IM_REDIS_PREFIX: prefix,
      TEST_DRAIN_MS: String(DRAIN_MS),
      TEST_LOGIN_PER_IP: String(CLIENTS * 2),
    };
    // Both at once; if one fails to start, the other is still stopped in after().
    const results = await Promise.allSettled([ startNode(env), startNode(env) ]);
    for (const result of results) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = results.find(result => result.status === 'rejected');
    if (failed) throw failed.reason;
    balancer = await Balancer.start(nodes.map(node => node.port));
  });

  after(async () => {
    for (const client of clients) client.close();
    legacy?.close();
    await balancer?.close();
    await Promise.all(nodes.map(node => node.stop('SIGTERM')));
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  it(`${CLIENTS} clients at ${RATE_PER_S} msg/s: the stopped node's clients reconnect to the other one`, async () => {
    const [ nodeA ] = nodes;
    const baseUrl = balancer!.url;
    const run = uniqueName('d');
    // Accounts, in batches (scrypt on two small nodes).
    for (let first = 0; first < CLIENTS; first += 20) {
      await Promise.all(Array.from({ length: Math.min(20, CLIENTS - first) }, async (_, k) => {
        const username = `${run}_${first + k}`;
        await ImClient.register({ baseUrl, username, password: `pw-${username}` });
        clients[first + k] = await ImClient.login<BuiltinMessageTypes>({ baseUrl, username, password: `pw-${username}` });
      }));
    }
    const errors: string[] = [];
    const moved = new Set<number>();
    const leftAt = new Map<number, number>();
    const reconnectMs: number[] = [];
    const received: Array<Map<string, number>> = clients.map(() => new Map());
    const seqsReceived: Array<Map<string, number[]>> = clients.map(() => new Map());
    clients.forEach((client, i) => {
      client.on('error', err => errors.push(`client ${i}: ${err.code} ${err.message}`));
      client.on('disconnect', () => {
        moved.add(i);
        leftAt.set(i, Date.now());
      });
      client.on('connect', () => {
        if (leftAt.has(i)) reconnectMs.push(Date.now() - leftAt.get(i)!);
      });
      client.on('message', (message: TypedMessage<BuiltinMessageTypes>) => {
        if (received[i].has(message.id)) errors.push(`client ${i}: message ${message.id} delivered twice`);
        received[i].set(message.id, Date.now());
        const seqs = seqsReceived[i].get(message.conversationId) ?? [];
        seqs.push(message.seq);
        seqsReceived[i].set(message.conversationId, seqs);
      });
    });
    const synced = Promise.all(clients.map(client => new Promise<void>(resolve => client.once('synced', () => resolve()))));
    await Promise.all(clients.map(client => client.connect()));
    await synced;
    // A client that knows nothing of server:draining, on node A: the drain waits DRAIN_MS for it, then closes it.
    const legacyLogin = await ImClient.login({ baseUrl: nodeA.url, username: `${run}_0`, password: `pw-${run}_0`, deviceId: 'legacy' });
    legacy = connectRaw(nodeA.url, { transports: [ 'websocket' ], auth: { token: legacyLogin.token }, reconnection: false });
    const legacyEvents: string[] = [];
    legacy.on('server:draining', () => legacyEvents.push('draining'));
    legacy.on('disconnect', reason => legacyEvents.push(`disconnect:${reason}`));
    await waitFor(() => legacy!.connected, 10000, 'the legacy client to connect');

    // The load: each client writes to its partner (0↔1, 2↔3, ...), one send at a time, evenly spread.
    const sent: Sent[] = [];
    const startedAt = Date.now();
    const intervalMs = (CLIENTS / RATE_PER_S) * 1000;
    const senders = clients.map(async (client, i) => {
      const partner = clients[i ^ 1];
      await sleep(Math.random() * intervalMs);
      for (let n = 0; Date.now() - startedAt < LOAD_MS; n++) {
        const sentAt = Date.now();
        try {
          const message = await client.send({ type: 'user', id: partner.userId }, 'text', { text: `${i}:${n}` });
          sent.push({ id: message.id, conversationId: message.conversationId, seq: message.seq, to: i ^ 1, sentAt });
        } catch (err) {
          errors.push(`client ${i} send ${n}: ${(err as Error).message}`);
        }
        await sleep(Math.max(0, sentAt + intervalMs - Date.now()));
      }
    });

    await sleep(STOP_AT_MS);
    const stoppedAt = Date.now();
    nodeA.process.child.kill('SIGTERM');
    // At once: not ready, and saying why (the balancer takes the node out on it).
    let readyz: { status: number; body: any } | undefined;
    await waitFor(async () => {
      readyz = await getJson(`${nodeA.url}/readyz`);
      return readyz.status === 503;
    }, 2000, 'node A to answer 503');
    assert.equal(readyz!.body.status, 'draining');
    // New connections are refused while draining.
    const refused = await connectError(nodeA.url, legacyLogin.token);
    assert.match(refused, /websocket error|xhr poll error/);

    await Promise.all(senders);
    const exited = await nodeA.process.exited;
    assert.equal(exited.code, 0, nodeA.process.output());
    const log = fs.readFileSync(path.join(nodeA.logDir, 'egg-web.log'), 'utf8');
    const drained = /drained in (\d+) ms: (\d+) connection\(s\) told to reconnect, (\d+) closed at the deadline .* (\d+) event\(s\) unanswered/.exec(log);
    assert.ok(drained, log.split('\n').filter(line => /egg-im\]|drain/.test(line)).join('\n'));
    // The legacy client is the one left at the deadline; the typed clients all moved by themselves.
    const onA = Number(drained[2]) - 1;
    assert.ok(onA > 0 && onA < CLIENTS, `the balancer spread the clients (${onA} on node A)`);
    assert.equal(Number(drained[3]), 1, 'only the legacy client was still there at the deadline');
    assert.equal(Number(drained[4]), 0, 'every event was answered');
    assert.deepStrictEqual(legacyEvents, [ 'draining', 'disconnect:transport close' ]);

    // Every acknowledged message reaches its recipient, once, in order per conversation.
    const expected = sent.length;
    await waitFor(() => sent.every(m => received[m.to].has(m.id)), 30000, `every one of ${expected} acknowledged messages to be delivered`);
    await sleep(500);
    assert.deepStrictEqual(errors, []);
    for (const [ i, byConversation ] of seqsReceived.entries()) {
      for (const [ conversationId, seqs ] of byConversation) {
        assert.ok(seqs.every((seq, k) => k === 0 || seq > seqs[k - 1]), `client ${i}, ${conversationId}: in order ${seqs}`);
      }
      const own = sent.filter(m => m.to === i).length;
      assert.equal(received[i].size, own, `client ${i}: exactly the messages sent to it`);
    }
    const latency = (m: Sent) => received[m.to].get(m.id)! - m.sentAt;
    const latencies = sent.map(latency).sort((x, y) => x - y);
    const before = sent.filter(m => m.sentAt < stoppedAt).map(latency).sort((x, y) => x - y);
    const aroundStop = sent.filter(m => m.sentAt >= stoppedAt - 500 && m.sentAt <= stoppedAt + 3000).length;
    const slowest = latencies[latencies.length - 1];
    const worst = sent.reduce((a, b) => (latency(a) >= latency(b) ? a : b));
    console.log(`      slowest: sent ${worst.sentAt - stoppedAt} ms after the SIGTERM, sender moved ${moved.has(worst.to ^ 1)}, recipient moved ${moved.has(worst.to)}`);
    const report = `drain under load: ${CLIENTS} clients (${onA} on the stopped node), ${(expected / (LOAD_MS / 1000)).toFixed(0)} msg/s, ` +
      `${expected} messages acknowledged (${aroundStop} sent within 3 s of the SIGTERM), 0 send errors, 0 lost, ` +
      `delivery p50 ${latencies[Math.floor(latencies.length / 2)]} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]} ms, ` +
      `slowest ${slowest} ms (before the SIGTERM: p50 ${before[Math.floor(before.length / 2)]} ms, slowest ${before[before.length - 1]} ms); ` +
      `node A drained in ${drained[1]} ms; its clients back on node B within ${Math.max(...reconnectMs)} ms (${reconnectMs.length})`;
    console.log(`      ${report}`);
    assert.ok(slowest < 10000, report);
  });
});

/** The connect_error message of a new connection to `url`. */
function connectError(url: string, token: string): Promise<string> {
  return new Promise(resolve => {
    const socket = connectRaw(url, { transports: [ 'websocket' ], auth: { token }, reconnection: false });
    socket.on('connect', () => { socket.close(); resolve('connected'); });
    socket.on('connect_error', err => { socket.close(); resolve(err.message); });
  });
}
