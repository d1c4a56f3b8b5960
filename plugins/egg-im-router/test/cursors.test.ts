import assert from 'node:assert';
import type { StatusEvent } from 'egg-im-protocol';
import { notAnswered, toCursors } from '../lib/delivery/cursors';

const status = (userId: string, seq: number, kind: StatusEvent['status'], conversationId = 'g:1'): StatusEvent => ({
  messageId: `m${conversationId}${seq}`, conversationId, seq, userId, status: kind,
});

describe('egg-im-router: statuses as cursors (unit)', () => {
  it('one cursor per conversation and member, at the highest delivered and read seq; failed stays per message', () => {
    const { cursors, perMessage } = toCursors([
      status('bob', 1, 'delivered'), status('carol', 1, 'delivered'), status('bob', 3, 'delivered'),
      status('bob', 2, 'delivered'), status('bob', 2, 'read'), status('carol', 4, 'failed'),
      status('bob', 7, 'delivered', 'd:alice:bob'),
    ]);
    assert.deepStrictEqual(cursors, { cursors: [
      { conversationId: 'g:1', userId: 'bob', deliveredSeq: 3, readSeq: 2 },
      { conversationId: 'g:1', userId: 'carol', deliveredSeq: 1 },
      { conversationId: 'd:alice:bob', userId: 'bob', deliveredSeq: 7 },
    ] });
    assert.deepStrictEqual(perMessage, [ status('carol', 4, 'failed') ]);
  });

  it('leaves out what an ack carried, and the deliveries of the same member it covers (reads and failures stay)', () => {
    const carried = status('bob', 5, 'delivered', 'd:alice:bob');
    const events = [
      status('bob', 4, 'delivered', 'd:alice:bob'), carried, status('bob', 6, 'delivered', 'd:alice:bob'),
      status('bob', 3, 'read', 'd:alice:bob'), status('bob', 2, 'failed', 'd:alice:bob'), status('bob', 4, 'delivered'),
    ];
    assert.deepStrictEqual(notAnswered(events, event => event === carried), [
      status('bob', 6, 'delivered', 'd:alice:bob'), status('bob', 3, 'read', 'd:alice:bob'), status('bob', 2, 'failed', 'd:alice:bob'),
      status('bob', 4, 'delivered'),
    ]);
  });

  it('a group message acknowledged by 499 members is one frame of 499 cursors, not 499 frames', () => {
    const members = Array.from({ length: 499 }, (_, i) => `u${i}`);
    const { cursors, perMessage } = toCursors(members.map(userId => status(userId, 9, 'delivered')));
    assert.equal(cursors?.cursors.length, 499);
    assert.ok(cursors!.cursors.every(c => c.deliveredSeq === 9 && c.readSeq === undefined));
    assert.deepStrictEqual(perMessage, []);
  });

  it('only failures: no cursors frame at all', () => {
    const { cursors, perMessage } = toCursors([ status('bob', 1, 'failed') ]);
    assert.equal(cursors, undefined);
    assert.equal(perMessage.length, 1);
  });
});
