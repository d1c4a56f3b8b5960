import assert from 'node:assert';
import { ImClient, type BuiltinMessageTypes, type ImClientError } from 'egg-im-client';
import { createTestDatabase, dropTestDatabase, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';
import { Balancer } from './support/balancer';
import { NODE_START_MS, startNode, type Node } from './support/cluster';

const PRESENCE_TTL_MS = 3000;

/**
 * A node is killed: its sockets' presence entries stay until they lapse, so a user at `socket.maxPerUser` (1 here)
 * whose device reconnects to the other node is refused (`RATE_LIMITED`, scope "sockets") for a few seconds. The typed
 * client keeps trying such a refusal, and is back once the dead node's entry has lapsed.
 */
describe('a reconnect refused by a limit: the typed client tries again', function() {
  this.timeout(NODE_START_MS + 30000);
  let database: { name: string; url: string } | undefined;
  const prefix = `${uniqueName('refused')}:`;
  const nodes: Node[] = [];
  let balancer: Balancer | undefined;
  const clients: Array<ImClient<BuiltinMessageTypes>> = [];

  before(async () => {
    database = await createTestDatabase('refused');
    const env = {
      IM_DATABASE_URL: database.url,
      IM_REDIS_URL: TEST_REDIS_URL,
      IM_REDIS_PREFIX: prefix,
      TEST_PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
      TEST_SOCKETS_PER_USER: '1',
    };
    const started = await Promise.allSettled([ startNode(env), startNode(env) ]);
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find(result => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    balancer = await Balancer.start(nodes.map(node => node.port));
  });

  after(async () => {
    for (const client of clients) client.close();
    await balancer?.close();
    await Promise.all(nodes.map(node => node.stop()));
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  it('is refused while the killed node\'s entry lasts, then reconnects and sends', async () => {
    const run = uniqueName('r');
    const [ first ] = nodes;
    for (const name of [ 'a', 'b' ]) await ImClient.register({ baseUrl: first.url, username: `${run}_${name}`, password: 'pw-secret-1' });
    // Logged in on a node; the socket goes through the balancer (its first connection).
    const alice = await ImClient.login<BuiltinMessageTypes>({ baseUrl: first.url, username: `${run}_a`, password: 'pw-secret-1' });
    const bob = await ImClient.login<BuiltinMessageTypes>({ baseUrl: first.url, username: `${run}_b`, password: 'pw-secret-1' });
    clients.push(alice, bob);
    const aliceThere = new ImClient<BuiltinMessageTypes>({
      baseUrl: balancer!.url, token: alice.token, userId: alice.userId, sessionId: alice.sessionId,
      reconnection: { delayMs: 200, maxDelayMs: 500 }, connectWaitMs: 20000,
    });
    clients.push(aliceThere);
    const stops: ImClientError[] = [];
    aliceThere.on('error', err => stops.push(err));
    const refusals: ImClientError[] = [];
    aliceThere.on('reconnectRefused', err => refusals.push(err));
    await aliceThere.connect();
    const victim = nodes.find(node => node.port === balancer!.routedTo[0])!;
    const other = nodes.find(node => node !== victim)!;
    // Let the victim write the socket's presence entry, then kill it: nobody removes the entry.
    await waitFor(async () => (await (await fetch(`${other.url}/im/users/${alice.userId}/presence`, {
      headers: { authorization: `Bearer ${bob.token}` },
    })).json()).online === true, 5000, 'alice online on the other node');
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    await waitFor(() => !aliceThere.connected, 5000, 'the client to notice');

    await waitFor(() => aliceThere.connected, PRESENCE_TTL_MS + 10000, 'the reconnect once the entry lapsed');
    const backAfter = Date.now() - killedAt;
    assert.deepStrictEqual(stops, []);
    // Refused first (the dead node's entry still counted), and back once it lapsed.
    assert.ok(refusals.length >= 1, `back ${backAfter} ms after the kill without a refusal`);
    for (const refusal of refusals) {
      assert.strictEqual(refusal.code, 'RATE_LIMITED');
      assert.deepStrictEqual(refusal.details, { scope: 'sockets', limit: 1 });
    }
    const sent = await aliceThere.send({ type: 'user', id: bob.userId }, 'text', { text: 'back' });
    assert.strictEqual(sent.content.text, 'back');
  });
});
