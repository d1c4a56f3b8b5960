import assert from 'node:assert';
import { sleep } from 'egg-im-testkit';
import { HostTokens, hostFailure, type VerifyToken } from '../lib/session/HostTokens';

const request = { transport: 'http' as const, headers: {} };

/** HostTokens alone, with a verifier that counts its calls per token and accepts `user-<token>`. */
function setup(cache: { ttlMs: number; max: number }, expiresAt?: () => number) {
  const calls = new Map<string, number>();
  const mirrored: string[] = [];
  const errors: Error[] = [];
  const verify: VerifyToken = async token => {
    calls.set(token, (calls.get(token) ?? 0) + 1);
    await sleep(5);
    return token.startsWith('no') ? null : { userId: `user-${token}`, expiresAt: expiresAt?.() };
  };
  const tokens = new HostTokens(cache, async userId => { mirrored.push(userId); }, { error: err => errors.push(err) });
  const ask = (token: string) => tokens.verify(verify, token, `hash-${token}`, `host:${token}`, request);
  return { tokens, ask, calls, mirrored, errors };
}

describe('egg-im-connection: HostTokens (the verdicts of the host\'s verifyToken)', () => {
  it('asks once for concurrent requests with one token, and mirrors the user before keeping the verdict', async () => {
    const { ask, calls, mirrored } = setup({ ttlMs: 30_000, max: 10 });
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => ask('a')));
    assert.ok(verdicts.every(v => v?.userId === 'user-a' && v.expiresAt === Infinity));
    assert.strictEqual(calls.get('a'), 1);
    assert.deepStrictEqual(mirrored, [ 'user-a' ]);
    assert.strictEqual(await ask('nope'), null);
    assert.strictEqual(await ask('nope'), null);
    assert.strictEqual(calls.get('nope'), 1, 'a refusal is kept too');
  });

  it('keeps at most max verdicts, dropping the least recently used', async () => {
    const { ask, calls } = setup({ ttlMs: 30_000, max: 2 });
    await ask('a');
    await ask('b');
    await ask('a'); // a is now the most recently used
    await ask('c'); // drops b
    await ask('a');
    await ask('c');
    assert.deepStrictEqual([ calls.get('a'), calls.get('c') ], [ 1, 1 ]);
    await ask('b');
    assert.strictEqual(calls.get('b'), 2);
  });

  it('keeps a verdict ttlMs at most, never past the token\'s expiry, and not at all with ttlMs 0', async () => {
    const short = setup({ ttlMs: 50, max: 10 });
    await short.ask('a');
    await sleep(80);
    await short.ask('a');
    assert.strictEqual(short.calls.get('a'), 2);

    const expiring = setup({ ttlMs: 30_000, max: 10 }, () => Date.now() + 60);
    await expiring.ask('a');
    await expiring.ask('a');
    assert.strictEqual(expiring.calls.get('a'), 1);
    await sleep(80);
    await expiring.ask('a');
    assert.strictEqual(expiring.calls.get('a'), 2);

    const off = setup({ ttlMs: 0, max: 10 });
    await off.ask('a');
    await off.ask('a');
    assert.strictEqual(off.calls.get('a'), 2);
  });

  it('forgets every verdict on clear(), and does not keep one that was being asked for', async () => {
    const { tokens, ask, calls } = setup({ ttlMs: 30_000, max: 10 });
    await ask('a');
    tokens.clear();
    await ask('a');
    assert.strictEqual(calls.get('a'), 2);
    const asking = ask('b');
    tokens.clear();
    await asking;
    await ask('b');
    assert.strictEqual(calls.get('b'), 2);
  });

  it('turns a throw into INTERNAL, logged with the token scrubbed, and keeps nothing; an ImError goes through', async () => {
    const errors: Error[] = [];
    const tokens = new HostTokens({ ttlMs: 30_000, max: 10 }, async () => undefined, { error: err => errors.push(err) });
    let calls = 0;
    const failing: VerifyToken = async token => {
      calls++;
      throw new Error(`cannot parse ${token}`);
    };
    for (let i = 0; i < 2; i++) {
      await assert.rejects(tokens.verify(failing, 's3cret-token', 'h', 'host:h', request),
        (err: any) => err.code === 'INTERNAL' && err.message === 'could not check the token');
    }
    assert.strictEqual(calls, 2);
    assert.strictEqual(errors.length, 2);
    assert.match(errors[0].stack!, /\[egg-im-connection\] verifyToken threw for session host:h \(http\)[\s\S]*Caused by: Error: cannot parse \[token\]/);
    assert.ok(!errors[0].stack!.includes('s3cret-token'));
    assert.ok(!hostFailure('x', 's3cret-token is bad', 's3cret-token').stack!.includes('s3cret-token'));
  });

  it('refuses results that break the contract, by their shape', async () => {
    const tokens = new HostTokens({ ttlMs: 30_000, max: 10 }, async () => undefined, { error: () => undefined });
    const cases: Array<[unknown, RegExp]> = [
      [ 'user-1', /or to null; got a string$/ ],
      [ { userId: 42 }, /got a userId that is number/ ],
      [ { userId: 'u', expiresAt: 'tomorrow' }, /got an expiresAt that is a string, not a Date or epoch milliseconds/ ],
      [ { userId: 'u', expiresAt: new Date(NaN) }, /an invalid Date/ ],
      [ { userId: 'u', expiresAt: NaN }, /the number NaN/ ],
      [ { userId: 'u', expiresAt: 1_800_000_000 }, /epoch seconds instead of milliseconds/ ],
    ];
    for (const [ result, message ] of cases) {
      await assert.rejects(tokens.verify(async () => result as any, 't', `h-${String(message)}`, 'host:h', request), message);
    }
    const at = new Date(Date.now() + 60_000);
    assert.deepStrictEqual(await tokens.verify(async () => ({ userId: 'u', expiresAt: at }), 't', 'ok', 'host:ok', request),
      { userId: 'u', expiresAt: at.getTime() });
  });
});
