import assert from 'node:assert';
import { waitFor } from 'egg-im-testkit';
import { Harness, type Socket, type TestLogin } from './support/harness';

interface Sample {
  status: string;
  attempts: number;
  /** Pushes the device had received when the answer came back. */
  pushes: number;
}

/**
 * `recipients[].attempts` of the status API counts the pushes while they happen, not only once the delivery
 * is delivered or failed. Fixture timings: pushes about 0, 0.4, 1.2, 2.2 and 3.2 s after the send, then failed.
 */
describe('egg-im-router: attempts are visible while the pushes happen', () => {
  const h = new Harness('attempts');
  before(() => h.start());
  after(() => h.close());

  const to = (user: { userId: string }) => ({ type: 'user' as const, id: user.userId });

  /** Reads the status API until the recipient leaves pending (or `timeoutMs`), keeping every answer. */
  async function watchStatus(sender: TestLogin, messageId: string, pushes: () => number, timeoutMs: number): Promise<Sample[]> {
    const samples: Sample[] = [];
    await waitFor(async () => {
      const [ recipient ] = (await h.status(sender.token, messageId)).recipients;
      samples.push({ status: recipient.status, attempts: recipient.attempts, pushes: pushes() });
      return recipient.status !== 'pending';
    }, timeoutMs, `message ${messageId} to leave pending`);
    return samples;
  }

  function countPushes(socket: Socket, ackAt?: number): () => number {
    let pushes = 0;
    socket.on('message:new', (_message: unknown, ack: () => void) => {
      if (++pushes === ackAt) ack();
    });
    return () => pushes;
  }

  function assertGrowing(samples: Sample[]): void {
    const pending = samples.filter(s => s.status === 'pending');
    for (let i = 1; i < pending.length; i++) {
      assert.ok(pending[i].attempts >= pending[i - 1].attempts, `attempts never go down while pending: ${JSON.stringify(pending)}`);
    }
    for (const s of pending) assert.ok(s.attempts <= s.pushes, `no more attempts than pushes: ${JSON.stringify(s)}`);
  }

  it('a device that never acks: pending with attempts growing from 2, then failed with all 5', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { socket: deaf } = await h.online(bob, { ack: false, record: false });
    const pushes = countPushes(deaf);

    const { message } = await h.text(a, to(bob), 'anyone?');
    const samples = await watchStatus(alice, message.id, pushes, 15000);

    assertGrowing(samples);
    const seen = new Set(samples.filter(s => s.status === 'pending').map(s => s.attempts));
    assert.ok([ ...seen ].some(n => n >= 2), `pending with at least 2 attempts was seen: ${[ ...seen ]}`);
    assert.ok([ ...seen ].filter(n => n >= 2).length >= 2, `the count grew while pending: ${[ ...seen ]}`);
    const last = samples.at(-1)!;
    assert.equal(last.status, 'failed');
    assert.equal(last.attempts, 5);
    assert.equal(pushes(), 5);
  });

  it('a device that acks the third push: pending with 2 attempts meanwhile, then delivered with 3', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const a = await h.socket(alice);
    const { socket: late } = await h.online(bob, { ack: false, record: false });
    const pushes = countPushes(late, 3);

    const { message } = await h.text(a, to(bob), 'third time');
    const samples = await watchStatus(alice, message.id, pushes, 15000);

    assertGrowing(samples);
    assert.ok(samples.some(s => s.status === 'pending' && s.attempts === 2), `pending with 2 attempts was seen: ${JSON.stringify(samples.slice(-10))}`);
    const last = samples.at(-1)!;
    assert.equal(last.status, 'delivered');
    assert.equal(last.attempts, 3);
  });
});
