import assert from 'node:assert';
import { SenderLimit, type Limiter } from '../lib/pipeline/SenderLimit';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The shared count as the cache's limiter keeps it, in memory, recording each call. */
class SharedCount implements Limiter {
  points = 10;
  durationMs = 60_000;
  retryAfterMs = 30_000;
  /** How long the count takes to answer. */
  answerAfterMs = 0;
  readonly calls: Array<[ string, number ]> = [];
  readonly taken = new Map<string, number>();

  async consume(key: string, points = 1) {
    this.calls.push([ key, points ]);
    const taken = (this.taken.get(key) ?? 0) + points;
    this.taken.set(key, taken);
    if (this.answerAfterMs) await sleep(this.answerAfterMs);
    return taken <= this.points ? { allowed: true as const } : { allowed: false as const, retryAfterMs: this.retryAfterMs };
  }
}

const logger = { warn: () => undefined, error: () => undefined };
const refused = (fn: () => void) => assert.throws(fn, (err: any) => err.code === 'RATE_LIMITED' && err.details.scope === 'user' && err.details.retryAfterMs > 0);

describe('egg-im-router: SenderLimit', () => {
  it('counts a user\'s sends on this node exactly, with no call to the shared count per message', async () => {
    const shared = new SharedCount();
    const limit = new SenderLimit(shared, logger);
    try {
      for (let i = 0; i < 10; i++) limit.take('u1');
      refused(() => limit.take('u1'));
      limit.take('u2', 3);
      assert.deepStrictEqual(shared.calls, [], 'nothing shared within the turn');
      await sleep(150);
      assert.deepStrictEqual(shared.calls.sort(), [ [ 'u1', 10 ], [ 'u2', 3 ] ], 'one call per user for all of its sends');
    } finally {
      limit.stop();
    }
  });

  it('shares only the users who sent a tenth of the limit on this node: those who write little cost no call', async () => {
    const shared = new SharedCount();
    shared.points = 100;
    const limit = new SenderLimit(shared, logger);
    try {
      for (let i = 0; i < 9; i++) limit.take('quiet');
      limit.take('busy', 10);
      await sleep(150);
      assert.deepStrictEqual(shared.calls, [ [ 'busy', 10 ] ]);
      limit.take('quiet');
      limit.take('busy', 2);
      await sleep(150);
      assert.deepStrictEqual(shared.calls.slice(1).sort(), [ [ 'busy', 2 ], [ 'quiet', 10 ] ], 'what was not shared yet, and no more');
    } finally {
      limit.stop();
    }
  });

  it('refuses a user whom the shared count (the other nodes) puts over the limit, within the sharing interval', async () => {
    const shared = new SharedCount();
    shared.taken.set('u1', 8);
    const limit = new SenderLimit(shared, logger);
    try {
      limit.take('u1', 3);
      await sleep(150);
      refused(() => limit.take('u1'));
      limit.take('u2');
    } finally {
      limit.stop();
    }
  });

  it('forgets a user whose window ended, though no one sent enough to be shared', async () => {
    // Ten times, each with a send just after Date.now() ticks: a timer counts on a clock of its own, so the sweep
    // set for a window's length after the send can fire while Date.now() says the window has a millisecond left.
    for (let round = 0; round < 10; round++) {
      const shared = new SharedCount();
      shared.points = 100;
      shared.durationMs = 20;
      const limit = new SenderLimit(shared, logger);
      try {
        for (const user of [ 'a', 'b', 'c' ]) limit.take(user);
        assert.strictEqual(limit.tracked, 3);
        await sleep(30);
        const tick = Date.now();
        while (Date.now() === tick);
        limit.take('d');
        await sleep(35);
        assert.strictEqual(limit.tracked, 0, `ended windows are not kept (round ${round})`);
        assert.deepStrictEqual(shared.calls, [], 'nothing was shared');
        limit.take('a');
        assert.strictEqual(limit.tracked, 1, 'a returning user starts a new window');
      } finally {
        limit.stop();
      }
    }
  });

  it('forgets a refusal from the shared count once it is over, though it came after the user\'s window was swept', async () => {
    const shared = new SharedCount();
    shared.taken.set('u1', 9);
    shared.durationMs = 120;
    shared.retryAfterMs = 20;
    shared.answerAfterMs = 150;
    const limit = new SenderLimit(shared, logger);
    try {
      limit.take('u1', 2);
      // Shared at 100 ms, answered at 250 ms (refused until 270 ms); the window was swept at 120 ms.
      await sleep(260);
      refused(() => limit.take('u1'));
      assert.strictEqual(limit.tracked, 1, 'the refusal');
      await sleep(140);
      assert.strictEqual(limit.tracked, 0, 'an ended refusal is not kept');
    } finally {
      limit.stop();
    }
  });
});
