import assert from 'node:assert';
import { connect, waitFor, type Socket } from 'egg-im-testkit';
import { arrival, Harness, sleep } from './support/harness';

// Fixture timings: pushes wait 200, 400 and 800 ms for their ack; a push unanswered for 1.5 s closes its socket
// (sockets are swept every 500 ms).
describe('egg-im-router: a socket that leaves pushes unanswered', () => {
  const h = new Harness('unanswered');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });
  const clients: Socket[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  /** A device that reconnects as socket.io-client does by default; `answer` decides which pushes it acknowledges. */
  async function device(token: string, answer: (message: { id: string; content: { text: string } }) => boolean) {
    const socket = await connect(h.url, token, { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 50 });
    clients.push(socket);
    const disconnects: Array<{ reason: string; at: number }> = [];
    const pushes: Array<{ id: string; at: number }> = [];
    socket.on('disconnect', reason => disconnects.push({ reason, at: Date.now() }));
    socket.on('message:new', (message: { id: string; content: { text: string } }, ack: () => void) => {
      pushes.push({ id: message.id, at: Date.now() });
      if (answer(message)) ack();
    });
    return { socket, disconnects, pushes };
  }

  it('is closed as a dropped connection once a push has waited past unansweredMaxMs; the client reconnects and the message is delivered', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    let answering = false;
    const bobDevice = await device(bob.token, () => answering);

    const { message } = await h.text(a, to(bob), 'anyone?');
    const firstPushAt = (await waitFor(() => bobDevice.pushes[0], 5000, 'first push')).at;
    const closed = await waitFor(() => bobDevice.disconnects[0], 5000, 'the server closes the connection');
    assert.equal(closed.reason, 'transport close', 'a dropped transport: socket.io-client reconnects by itself');
    const after = closed.at - firstPushAt;
    assert.ok(after >= 1400 && after < 3000, `closed ${after} ms after the unanswered push`);
    await h.app.expectLog('left a push unanswered', 'coreLogger');

    // The reconnected device answers: the backlog pushed on connect delivers the message (failed meanwhile).
    answering = true;
    await waitFor(() => bobDevice.socket.connected || undefined, 5000, 'reconnect');
    const delivered = await h.waitStatus(alice.token, message.id, 'delivered');
    assert.equal(delivered.recipients[0].status, 'delivered');
    assert.equal(bobDevice.pushes.at(-1)?.id, message.id);
  });

  it('stays open while it answers every push, however long the pushes go on', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const bobDevice = await device(bob.token, () => true);
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push((await h.text(a, to(bob), `tick ${i}`)).message.id);
      await sleep(300);
    }
    await waitFor(() => bobDevice.pushes.length >= sent.length || undefined, 5000, 'every push');
    assert.deepStrictEqual(bobDevice.disconnects, []);
    assert.ok(bobDevice.socket.connected);
  });

  it('is closed when it answers the later pushes but leaves an earlier one unanswered', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const bobDevice = await device(bob.token, message => message.content.text !== 'not this one');
    const { socket: other, inbox } = await h.online(bob);

    const { message: first } = await h.text(a, to(bob), 'not this one');
    // The other device acknowledged it: delivered, yet the push to this device is still unanswered.
    await arrival(inbox, first.id);
    for (let i = 0; i < 8 && bobDevice.disconnects.length === 0; i++) {
      await h.text(a, to(bob), `later ${i}`);
      await sleep(300);
    }
    const closed = await waitFor(() => bobDevice.disconnects[0], 5000, 'the server closes the connection');
    assert.equal(closed.reason, 'transport close');
    assert.ok(other.connected, 'the device that answered stays');
  });
});
