import assert from 'node:assert';
import { backoffDelay } from '../index';

describe('egg-im-protocol backoff', () => {
  it('grows by its factor from the base, up to the cap', () => {
    const policy = { baseMs: 100, maxMs: 1000, factor: 3 };
    assert.deepStrictEqual([ 1, 2, 3, 4, 5 ].map(n => backoffDelay(n, policy)), [ 100, 300, 900, 1000, 1000 ]);
    assert.deepStrictEqual([ 1, 2, 3 ].map(n => backoffDelay(n, { baseMs: 50, maxMs: 10_000 })), [ 50, 100, 200 ], 'factor 2 by default');
  });

  it('adds up to its jitter at random, on top of the capped delay', () => {
    const policy = { baseMs: 200, maxMs: 5000, jitter: 0.1 };
    assert.deepStrictEqual([ 1, 6 ].map(n => backoffDelay(n, policy, () => 0)), [ 200, 5000 ]);
    assert.deepStrictEqual([ 1, 6 ].map(n => backoffDelay(n, policy, () => 1)), [ 220, 5500 ]);
  });

  it('stays finite for absurd failure counts', () => {
    assert.equal(backoffDelay(10_000, { baseMs: 1, maxMs: 60_000 }), 60_000);
    assert.equal(backoffDelay(0, { baseMs: 10, maxMs: 100 }), 10);
  });
});
