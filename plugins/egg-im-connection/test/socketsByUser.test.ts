import assert from 'node:assert';
import { SocketsByUser } from '../lib/socket/SocketsByUser';

describe('egg-im-connection: SocketsByUser (unit)', () => {
  it('finds a user\'s sockets by user, and keeps both views in step through set, replace, delete and clear', () => {
    const sockets = new SocketsByUser<{ userId: string; device: string }>(value => value.userId);
    sockets.set('s1', { userId: 'alice', device: 'phone' });
    sockets.set('s2', { userId: 'alice', device: 'laptop' });
    sockets.set('s3', { userId: 'bob', device: 'phone' });
    assert.deepStrictEqual([ ...sockets.ofUser('alice').keys() ], [ 's1', 's2' ]);
    assert.strictEqual(sockets.ofUser('carol').size, 0);
    // A socket set again under another user moves.
    sockets.set('s2', { userId: 'bob', device: 'laptop' });
    assert.deepStrictEqual([ ...sockets.ofUser('alice').keys() ], [ 's1' ]);
    assert.deepStrictEqual([ ...sockets.ofUser('bob').keys() ], [ 's3', 's2' ]);
    assert.strictEqual(sockets.delete('s1'), true);
    assert.strictEqual(sockets.delete('s1'), false);
    assert.strictEqual(sockets.ofUser('alice').size, 0);
    assert.deepStrictEqual(new Map(sockets), new Map([ [ 's3', { userId: 'bob', device: 'phone' } ], [ 's2', { userId: 'bob', device: 'laptop' } ] ]));
    sockets.clear();
    assert.strictEqual(sockets.ofUser('bob').size, 0);
    assert.deepStrictEqual([ ...sockets.values() ], []);
  });

  it('counts one user among 20,000 sockets without visiting the others', () => {
    let calls = 0;
    const sockets = new SocketsByUser<{ userId: string }>(value => {
      calls++;
      return value.userId;
    });
    for (let i = 0; i < 20000; i++) sockets.set(`s${i}`, { userId: `u${i % 10000}` });
    calls = 0;
    assert.strictEqual(sockets.ofUser('u42').size, 2);
    assert.strictEqual(calls, 0);
  });
});
