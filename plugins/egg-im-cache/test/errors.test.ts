import assert from 'node:assert';
import { TimeoutError } from 'redis';
import { ImCacheTimeoutError, errorMessage, withTimeout } from '../lib/errors';

describe('egg-im-cache: errors', () => {
  it('withTimeout tells node-redis\' own command timeout as ours: what did not answer, within what', async () => {
    await assert.rejects(withTimeout(Promise.reject(new TimeoutError()), 250, 'EVALSHA windowAdd'), (err: Error) => {
      assert.ok(err instanceof ImCacheTimeoutError);
      assert.strictEqual(err.message, '[egg-im-cache] redis EVALSHA windowAdd did not answer within 250 ms');
      return true;
    });
  });

  it('withTimeout passes other failures through and rejects on its own after ms', async () => {
    const other = new Error('READONLY You can\'t write against a read only replica.');
    await assert.rejects(withTimeout(Promise.reject(other), 250, 'SET'), err => err === other);
    await assert.rejects(withTimeout(new Promise(() => undefined), 20, 'GET'), /redis GET did not answer within 20 ms/);
    assert.strictEqual(await withTimeout(Promise.resolve('v'), 20, 'GET'), 'v');
  });

  it('errorMessage falls back to the error\'s class when it has no message', () => {
    assert.strictEqual(errorMessage(new Error('boom')), 'boom');
    assert.strictEqual(errorMessage(new TypeError('')), 'TypeError');
    assert.strictEqual(errorMessage(new TimeoutError()), 'TimeoutError');
    assert.strictEqual(errorMessage('text'), 'text');
  });
});
