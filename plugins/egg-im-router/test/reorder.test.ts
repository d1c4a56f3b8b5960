import assert from 'node:assert';
import type { Message } from 'egg-im-protocol';
import { Reorder } from '../lib/delivery/Reorder';

const message = (seq: number, conversationId = 'c1'): Message => ({
  id: `m${seq}`, conversationId, seq, senderId: 'other', type: 'text', content: { text: String(seq) }, meta: {}, clientMsgId: `c${seq}`, createdAt: '',
});
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('egg-im-router: Reorder (unit)', () => {
  let released: Array<[ string, number ]>;
  let reorder: Reorder;
  beforeEach(() => {
    released = [];
    reorder = new Reorder(50, (userId, m) => released.push([ userId, m.seq ]));
  });
  afterEach(() => reorder.clear());

  it('hands on in order, holds a message ahead of its predecessor, and releases what is late or repeated at once', () => {
    reorder.reset('u', 'c1', 0);
    reorder.push('u', message(2));
    reorder.push('u', message(3));
    assert.deepStrictEqual(released, []);
    reorder.push('u', message(1));
    assert.deepStrictEqual(released, [[ 'u', 1 ], [ 'u', 2 ], [ 'u', 3 ]]);
    reorder.push('u', message(2));
    assert.deepStrictEqual(released.at(-1), [ 'u', 2 ], 'a repeat goes through (the client de-duplicates)');
  });

  it('skip: the user\'s own seqs move the lane, so a reply after them is not held', () => {
    reorder.reset('u', 'c1', 0);
    reorder.push('u', message(1));
    reorder.skip('u', 'c1', 2);
    reorder.push('u', message(3));
    assert.deepStrictEqual(released.map(([ , seq ]) => seq), [ 1, 3 ]);
    // A skip that arrives after the message above it still fills the gap.
    reorder.push('u', message(5));
    assert.deepStrictEqual(released.map(([ , seq ]) => seq), [ 1, 3 ]);
    reorder.skip('u', 'c1', 4);
    assert.deepStrictEqual(released.map(([ , seq ]) => seq), [ 1, 3, 5 ]);
  });

  it('a held message is released after the wait even when its predecessor never comes', async () => {
    reorder.reset('u', 'c1', 0);
    reorder.push('u', message(3));
    reorder.push('u', message(2));
    await sleep(80);
    assert.deepStrictEqual(released.map(([ , seq ]) => seq), [ 2, 3 ]);
    reorder.push('u', message(4));
    assert.deepStrictEqual(released.map(([ , seq ]) => seq), [ 2, 3, 4 ]);
  });

  it('reports each wait that ran out to its timer observer (reorderWait), and no wait resolved in time', async () => {
    const runs: string[] = [];
    const observed = new Reorder(50, (userId, m) => released.push([ userId, m.seq ]), { ran: timer => runs.push(timer) });
    observed.reset('u', 'c1', 0);
    observed.push('u', message(2));
    observed.push('u', message(1));
    observed.push('u', message(4));
    await sleep(80);
    assert.deepStrictEqual(released.map(([ , seq ]) => seq), [ 1, 2, 4 ]);
    assert.deepStrictEqual(runs, [ 'reorderWait' ], 'seq 2 waited for 1 and got it; seq 4 waited the whole time for 3');
    observed.clear();
  });

  it('a lane without a baseline: seq 1 goes at once; anything else collects for the wait, then goes in order', async () => {
    reorder.push('u', message(1, 'new'));
    assert.deepStrictEqual(released, [[ 'u', 1 ]]);
    reorder.push('v', message(7, 'joined-late'));
    reorder.push('v', message(6, 'joined-late'));
    assert.equal(released.length, 1);
    await sleep(80);
    assert.deepStrictEqual(released.slice(1), [[ 'v', 6 ], [ 'v', 7 ]]);
    reorder.push('v', message(8, 'joined-late'));
    assert.deepStrictEqual(released.at(-1), [ 'v', 8 ]);
  });

  it('reset starts a lane at a seq; forget and prune drop a user\'s lanes', () => {
    reorder.reset('u', 'c1', 10);
    reorder.push('u', message(11));
    assert.deepStrictEqual(released, [[ 'u', 11 ]]);
    reorder.reset('u', 'c2', 0);
    reorder.reset('w', 'c1', 0);
    assert.equal(reorder.size, 3);
    reorder.prune(userId => userId === 'w');
    assert.equal(reorder.size, 1);
    reorder.forget('w');
    assert.equal(reorder.size, 0);
  });
});
