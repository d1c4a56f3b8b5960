import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, dropTestDatabase, request, TEST_REDIS_URL, uniqueName, waitFor, type Socket } from 'egg-im-testkit';
import { httpJson } from 'egg-im-testkit/lib/http';
import { connectDevice, queryDatabase, type WireMessage } from 'egg-im-testkit/lib/messaging';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';
import { ImClient } from 'egg-im/client';
import { BOT, USERS } from './fixtures/apps/host-app/lib/users';
import { startNode, type Node } from './support/cluster';

const HOST_APP = path.join(__dirname, 'fixtures/apps/host-app');
const [ ada, grace, linus, margaret ] = USERS;

interface Recorded {
  pushes: Array<{ messageId: string; userId: string }>;
  statuses: Array<{ messageId: string; userId: string; status: string }>;
  groups: Array<{ kind: string; groupId: string }>;
}

/**
 * A host app that brings its own identities, rules and reactions (test/fixtures/apps/host-app): its own JWT login,
 * UUID users egg-im has never seen, `verifyToken` and `userExists`, a `beforeSend` that refuses a word, rewrites
 * another, throws on a third and is slow on a fourth (policy `continue`), `afterSend` recording offline
 * recipients, a `status` hook. Two nodes on MariaDB and Redis.
 */
describe('a host app with its own identities and hooks, on two nodes', function() {
  this.timeout(90000);
  let database: { name: string; url: string } | undefined;
  const prefix = `${uniqueName('hostapp')}:`;
  const nodes: Node[] = [];
  const sockets: Socket[] = [];
  const acked: WireMessage[] = [];

  const hostLogin = async (node: Node, user: typeof USERS[number]) => {
    const res = await httpJson(node.url, 'POST', '/api/login', { body: { name: user.name, password: user.password } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.userId, user.id);
    return res.body.token as string;
  };
  const device = async (node: Node, token: string) => {
    const d = await connectDevice(node.url, token);
    sockets.push(d.socket);
    return d;
  };
  const sendTyped = async (socket: Socket, to: string, type: string, content: object) =>
    request(socket, 'message:send', { to: { type: 'user', id: to }, type, content, clientMsgId: uniqueName('c') });
  const sendOverSocket = (socket: Socket, to: string, text: string) => sendTyped(socket, to, 'text', { text });
  /** Every node's record of its hooks, together. */
  const recordedEverywhere = async () => {
    const all: Recorded = { pushes: [], statuses: [], groups: [] };
    for (const node of nodes) {
      const { body } = await httpJson(node.url, 'GET', '/api/recorded');
      all.pushes.push(...body.pushes);
      all.statuses.push(...body.statuses);
      all.groups.push(...body.groups);
    }
    return all;
  };
  const storedTexts = async () =>
    (await queryDatabase<{ content: string }>(database!.url, 'SELECT content FROM im_messages WHERE type = ?', [ 'text' ])).map(row => JSON.parse(row.content).text);
  const errorLog = (node: Node) => fs.readFileSync(path.join(node.logDir, 'common-error.log'), 'utf8');

  let node1: Node;
  let node2: Node;
  let adaToken: string;
  let graceToken: string;
  let adaDevice: { socket: Socket; inbox: WireMessage[] };
  let graceDevice: { socket: Socket; inbox: WireMessage[] };

  before(async () => {
    database = await createTestDatabase('hostapp');
    const env = { IM_DATABASE_URL: database.url, IM_REDIS_URL: TEST_REDIS_URL, IM_REDIS_PREFIX: prefix };
    [ node1, node2 ] = await Promise.all([ startNode(env, HOST_APP), startNode(env, HOST_APP) ]);
    nodes.push(node1, node2);
    adaToken = await hostLogin(node1, ada);
    graceToken = await hostLogin(node2, grace);
    adaDevice = await device(node1, adaToken);
    graceDevice = await device(node2, graceToken);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(nodes.map(node => node.stop('SIGTERM')));
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(prefix);
  });

  it('lets UUID users who never used egg-im\'s login exchange messages over sockets and HTTP, across the nodes', async () => {
    const first = await sendOverSocket(adaDevice.socket, grace.id, 'hello grace, from node 1');
    assert.equal(first.ok, true, JSON.stringify(first));
    acked.push(first.message);
    await waitFor(() => graceDevice.inbox.some(m => m.id === first.message.id), 5000, 'grace to receive ada\'s message on node 2');

    // grace answers over the HTTP API of the other node, with the host's JWT as the bearer
    const reply = await httpJson(node1.url, 'POST', '/im/messages', {
      token: graceToken,
      body: { to: { type: 'user', id: ada.id }, type: 'text', content: { text: 'hi ada, over HTTP' }, clientMsgId: uniqueName('c') },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    acked.push(reply.body.message);
    await waitFor(() => adaDevice.inbox.some(m => m.id === reply.body.message.id), 5000, 'ada to receive grace\'s reply');

    const users = await queryDatabase<{ id: string; password_hash: string | null }>(database!.url, 'SELECT id, password_hash FROM im_users ORDER BY id');
    assert.deepEqual(users.map(u => u.id), [ ada.id, grace.id ], 'the host\'s users are mirrored on first use, not before');
    assert(users.every(u => u.password_hash === null), 'egg-im keeps no password for them');
  });

  it('takes the typed client on the host\'s token, and the app\'s own message type', async () => {
    const baseUrl = node2.url;
    const [ hostToken, userId, peerId ] = [ graceToken, grace.id, ada.id ];
    const logged: unknown[][] = [];
    const console = { log: (...args: unknown[]) => logged.push(args) }; // what the snippet prints
    // #region client
    const client = new ImClient({ baseUrl, token: hostToken, userId });
    client.on('message', message => console.log(message.senderId, message.type, message.content));
    await client.connect();
    const ticket = await client.send({ type: 'user', id: peerId }, 'ticket', { subject: 'The export does nothing', priority: 'high' });
    // #endregion
    try {
      acked.push(ticket as unknown as WireMessage);
      await waitFor(() => adaDevice.inbox.some(m => m.id === ticket.id), 5000, 'ada to get the ticket');
      assert.deepEqual(adaDevice.inbox.find(m => m.id === ticket.id)!.content, { subject: 'The export does nothing', priority: 'high' });
      const wrong = await sendTyped(adaDevice.socket, grace.id, 'ticket', { subject: 'x', priority: 'urgent' });
      assert.equal(wrong.error.code, 'VALIDATION_FAILED');
      const reply = await sendOverSocket(adaDevice.socket, grace.id, 'on it');
      acked.push(reply.message);
      await waitFor(() => logged.some(args => args[2] && (args[2] as { text?: string }).text === 'on it'), 5000, 'the client to print ada\'s reply');
      assert.deepEqual(logged.find(args => (args[2] as { text?: string }).text === 'on it'), [ ada.id, 'text', { text: 'on it' } ]);

      // The conversation list in pages of one, walked by the typed client, is the whole list.
      const whole = await client.conversations();
      assert.equal(whole.hasMore, false);
      const walked: string[] = [];
      let page = await client.conversations({ limit: 1 });
      for (;;) {
        walked.push(...page.conversations.map(c => c.conversationId));
        if (!page.hasMore) break;
        page = await client.conversations({ limit: 1, cursor: page.next });
      }
      assert.deepEqual(walked, whole.conversations.map(c => c.conversationId));
      assert.equal(walked[0], reply.message.conversationId, 'the latest active first');
    } finally {
      client.close();
    }
  });

  it('refuses a message the host\'s beforeSend refuses, with its error, and stores it nowhere', async () => {
    const ack = await sendOverSocket(adaDevice.socket, grace.id, 'a forbidden word');
    assert.deepEqual(ack, { ok: false, error: { code: 'FORBIDDEN', message: 'this word is not allowed here', details: { field: 'content.text' } } });
    const overHttp = await httpJson(node2.url, 'POST', '/im/messages', {
      token: adaToken,
      body: { to: { type: 'user', id: grace.id }, type: 'text', content: { text: 'forbidden again' }, clientMsgId: uniqueName('c') },
    });
    assert.equal(overHttp.status, 403, JSON.stringify(overHttp.body));
    assert.equal(overHttp.body.error.message, 'this word is not allowed here');
    assert(!(await storedTexts()).some(text => text.includes('forbidden')));
  });

  it('stores and delivers what beforeSend rewrote', async () => {
    const ack = await sendOverSocket(adaDevice.socket, grace.id, 'darn, this works');
    assert.equal(ack.ok, true, JSON.stringify(ack));
    acked.push(ack.message);
    assert.equal(ack.message.content.text, 'd**n, this works');
    await waitFor(() => graceDevice.inbox.some(m => m.id === ack.message.id), 5000, 'grace to receive the rewritten message');
    assert.equal(graceDevice.inbox.find(m => m.id === ack.message.id)!.content.text, 'd**n, this works');
    assert((await storedTexts()).includes('d**n, this works'));
  });

  it('logs a throwing or slow beforeSend with ids and, by the configured policy (continue), lets the message through', async () => {
    const started = Date.now();
    const [ thrown, slow ] = await Promise.all([
      sendOverSocket(adaDevice.socket, grace.id, 'boom'),
      sendOverSocket(adaDevice.socket, grace.id, 'slow'),
    ]);
    assert.equal(thrown.ok, true, JSON.stringify(thrown));
    assert.equal(slow.ok, true, JSON.stringify(slow));
    assert(Date.now() - started < 2500, 'the slow hook (3 s) was not waited for beyond im.hooks.timeoutMs (300 ms)');
    acked.push(thrown.message, slow.message);
    await waitFor(() => [ thrown, slow ].every(a => graceDevice.inbox.some(m => m.id === a.message.id)), 5000, 'both to reach grace');
    await waitFor(() => errorLog(node1).includes('timed out after 300 ms'), 5000, 'the slow hook in the log');
    const log = errorLog(node1);
    const failures = log.split('\n').filter(line => line.includes('the beforeSend hook failed'));
    assert.equal(failures.length, 2, log);
    assert(failures.every(line => line.includes(`user ${ada.id}`) && line.includes(thrown.message.conversationId)), log);
    assert(log.includes('the moderation service is down'), 'the hook\'s own error is logged as the cause');
    assert(!/\bboom\b|\bslow\b/.test(log), 'no message content in the log');
  });

  it('reports a recipient with no connected device to afterSend, once, on the node that stored the message', async () => {
    const ack = await sendOverSocket(graceDevice.socket, linus.id, 'linus, you will get a push');
    assert.equal(ack.ok, true, JSON.stringify(ack));
    acked.push(ack.message);
    await waitFor(async () => (await recordedEverywhere()).pushes.some(p => p.messageId === ack.message.id), 5000, 'the push to be recorded');
    const { pushes } = await recordedEverywhere();
    assert.deepEqual(pushes.filter(p => p.messageId === ack.message.id), [ { messageId: ack.message.id, userId: linus.id } ]);
    // ada and grace are online: no push was ever recorded for them
    assert(!pushes.some(p => p.userId !== linus.id));
    const { body } = await httpJson(node2.url, 'GET', '/api/recorded');
    assert(body.pushes.some((p: { messageId: string }) => p.messageId === ack.message.id), 'the node that stored it reported it');
  });

  it('tells the status hook once of delivered and of read', async () => {
    const ack = await sendOverSocket(adaDevice.socket, grace.id, 'tell me when you read this');
    acked.push(ack.message);
    await waitFor(async () => (await recordedEverywhere()).statuses.some(s => s.messageId === ack.message.id && s.status === 'delivered'),
      5000, 'delivered to reach the status hook');
    const read = await request(graceDevice.socket, 'message:read', { conversationId: ack.message.conversationId, seq: ack.message.seq });
    assert.deepEqual(read, { ok: true });
    await waitFor(async () => (await recordedEverywhere()).statuses.some(s => s.messageId === ack.message.id && s.status === 'read'),
      5000, 'read to reach the status hook');
    const statuses = (await recordedEverywhere()).statuses.filter(s => s.messageId === ack.message.id);
    assert.deepEqual(statuses, [
      { messageId: ack.message.id, userId: grace.id, status: 'delivered' },
      { messageId: ack.message.id, userId: grace.id, status: 'read' },
    ]);
  });

  it('sends from the host\'s own code (app.im.send), once per clientMsgId, with status and history', async () => {
    const first = await httpJson(node1.url, 'POST', `/api/welcome/${linus.id}`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await httpJson(node2.url, 'POST', `/api/welcome/${linus.id}`);
    assert.equal(again.body.message.id, first.body.message.id, 'a repeat with the same clientMsgId is the same message');
    acked.push(first.body.message);
    assert.equal(first.body.message.senderId, BOT.id);
    assert.deepEqual(first.body.status.recipients.map((r: { userId: string }) => r.userId), [ linus.id ]);
    assert.deepEqual(first.body.history.messages.map((m: WireMessage) => m.id), [ first.body.message.id ]);
    const linusToken = await hostLogin(node2, linus);
    const linusDevice = await device(node2, linusToken);
    await waitFor(() => linusDevice.inbox.some(m => m.id === first.body.message.id), 5000, 'linus to get the welcome on connecting');
  });

  it('manages groups of users the host knows from its own code, with the group events', async () => {
    const res = await httpJson(node2.url, 'POST', `/api/support/${ada.id}/${margaret.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { room, message } = res.body;
    acked.push(message);
    await waitFor(() => adaDevice.inbox.some(m => m.id === message.id), 5000, 'ada to get the agent\'s message in the room');
    const members = await queryDatabase<{ user_id: string }>(database!.url, 'SELECT user_id FROM im_members WHERE conversation_id = ? ORDER BY user_id', [ room.conversationId ]);
    assert.deepEqual(members.map(m => m.user_id), [ ada.id, BOT.id ].sort(), 'the agent left');
    await waitFor(async () => (await recordedEverywhere()).groups.length === 3, 5000, 'the group events');
    assert.deepEqual((await recordedEverywhere()).groups, [
      { kind: 'created', groupId: room.groupId },
      { kind: 'membersAdded', groupId: room.groupId },
      { kind: 'memberRemoved', groupId: room.groupId },
    ]);
  });

  it('refuses users the host does not know, and loses nothing', async () => {
    const stranger = await httpJson(node1.url, 'POST', '/im/messages', {
      token: adaToken,
      body: { to: { type: 'user', id: '3f8e2a54-6c1d-4b7e-9a10-5d2c8f7e0aff' }, type: 'text', content: { text: 'hello?' }, clientMsgId: uniqueName('c') },
    });
    assert.equal(stranger.status, 404, JSON.stringify(stranger.body));
    const group = await httpJson(node2.url, 'POST', '/im/groups', { token: adaToken, body: { name: 'x', memberIds: [ '3f8e2a54-6c1d-4b7e-9a10-5d2c8f7e0aff' ] } });
    assert.equal(group.status, 404, JSON.stringify(group.body));

    // every acknowledged message is stored once, and reached its online recipient once
    const stored = await queryDatabase<{ id: string }>(database!.url, 'SELECT id FROM im_messages');
    assert.deepEqual(stored.map(r => r.id).sort(), acked.map(m => m.id).sort());
    for (const message of acked.filter(m => m.senderId === ada.id)) {
      assert.equal(graceDevice.inbox.filter(m => m.id === message.id).length, 1, `grace got ${message.id} once`);
    }
  });
});
