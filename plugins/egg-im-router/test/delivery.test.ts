import assert from 'node:assert';
import { waitFor } from 'egg-im-testkit';
import { arrival, Harness, sleep, statuses } from './support/harness';

// Fixture timings: the first push waits 200 ms for its ack, the retries 400 and 800 ms; 3 pushes in all.
describe('egg-im-router: delivery retries', () => {
  const h = new Harness('delivery');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });

  it('a recipient that never acks is pushed 3 times with backoff, then failed; it becomes delivered when it reconnects and acks', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const aliceStatus = statuses(a);
    const { socket: deaf, inbox: deafInbox } = await h.online(bob, { ack: false });
    const pushes: number[] = [];
    deaf.on('message:new', () => pushes.push(Date.now()));

    const { message } = await h.text(a, to(bob), 'are you there?');
    const failedEvent = await waitFor(() => aliceStatus.find(e => e.messageId === message.id && e.status === 'failed'), 6000, 'message:status failed');
    assert.deepStrictEqual(failedEvent, { messageId: message.id, conversationId: message.conversationId, seq: 1, userId: bob.userId, status: 'failed' });
    assert.equal(pushes.length, 3, 'maxAttempts pushes');
    assert.ok(deafInbox.every(m => m.id === message.id));
    // Exponential backoff: about 200 ms, then about 400 ms between the pushes.
    const gaps = [ pushes[1] - pushes[0], pushes[2] - pushes[1] ];
    assert.ok(gaps[0] >= 180 && gaps[1] >= 360 && gaps[1] > gaps[0], `gaps ${gaps}`);

    const failed = await h.waitStatus(alice.token, message.id, 'failed');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.recipients[0].attempts, 3);
    assert.ok(failed.recipients[0].failedAt);
    assert.equal(failed.recipients[0].deliveredAt, undefined);
    // No more pushes after the last attempt.
    await sleep(900);
    assert.equal(pushes.length, 3);

    // The device comes back, acking this time: the failed message is pushed again on connect.
    deaf.disconnect();
    const { inbox: bobInbox } = await h.online(bob);
    assert.deepStrictEqual(await arrival(bobInbox, message.id), message);
    const delivered = await h.waitStatus(alice.token, message.id, 'delivered');
    assert.equal(delivered.status, 'delivered');
    assert.equal(delivered.recipients[0].attempts, 4, 'the pushes before the failure count too');
    assert.ok(delivered.recipients[0].deliveredAt);
    assert.equal(delivered.recipients[0].failedAt, undefined);
    await waitFor(() => aliceStatus.some(e => e.messageId === message.id && e.status === 'delivered'), 5000, 'message:status delivered');
  });

  it('an ack to a retry delivers it (attempts 2)', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const b = await h.socket(bob);
    let seen = 0;
    b.on('message:new', (_m: unknown, ack: () => void) => {
      // The first push is lost (no ack); the retry is acknowledged.
      if (++seen >= 2) ack();
    });
    const { message } = await h.text(a, to(bob), 'second time lucky');
    const status = await h.waitStatus(alice.token, message.id, 'delivered');
    assert.equal(status.recipients[0].attempts, 2);
    assert.equal(seen, 2);
  });

  it('a device that disconnects while its message is being retried gets it on reconnect (pending meanwhile, never failed)', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { socket: deaf } = await h.online(bob, { ack: false });
    const { message } = await h.text(a, to(bob), 'catch me');
    await sleep(100);
    deaf.disconnect();
    // Longer than all retries would take: with no device connected there are no pushes and no failure.
    await sleep(1800);
    const pending = await h.status(alice.token, message.id);
    assert.equal(pending.recipients[0].status, 'pending');
    const { inbox: bobInbox } = await h.online(bob);
    await arrival(bobInbox, message.id);
    await h.waitStatus(alice.token, message.id, 'delivered');
  });

  it('one device acking is enough when another device of the same user never acks', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { inbox: deafInbox } = await h.online(bob, { ack: false });
    const { inbox: goodInbox } = await h.online(await h.login(bob, 'good'));
    const { message } = await h.text(a, to(bob), 'two devices');
    await arrival(goodInbox, message.id);
    await arrival(deafInbox, message.id);
    const status = await h.waitStatus(alice.token, message.id, 'delivered');
    assert.equal(status.recipients[0].attempts, 1);
    await sleep(700);
    assert.equal(deafInbox.length, 1, 'no retries once a device acknowledged');
  });
});
