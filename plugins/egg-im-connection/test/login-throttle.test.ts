import assert from 'node:assert';
import crypto from 'node:crypto';
import { connect, waitFor } from 'egg-im-testkit';
import { accountKey, addressKey } from '../lib/auth/LoginThrottle';
import { hashToken } from '../lib/session/SessionService';
import { assertNoSecretsInLogs, readLogs, startFixture, type Fixture } from './support/fixture';

/** Counts scrypt runs (password hashes) while `fn` runs: passwords.ts calls crypto.scrypt through the module. */
async function countHashes(fn: () => Promise<void>): Promise<number> {
  const original = crypto.scrypt;
  let hashes = 0;
  (crypto as { scrypt: unknown }).scrypt = function(this: unknown, ...args: unknown[]) {
    hashes++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  try {
    await fn();
  } finally {
    (crypto as { scrypt: unknown }).scrypt = original;
  }
  return hashes;
}

function assertThrottled(res: { status: number; body: any; headers: Record<string, string> }, maxMs: number, scope = 'login'): number {
  assert.strictEqual(res.status, 429, JSON.stringify(res.body));
  assert.strictEqual(res.body.ok, false);
  assert.strictEqual(res.body.error.code, 'RATE_LIMITED');
  assert.deepStrictEqual(Object.keys(res.body.error.details).sort(), [ 'retryAfterMs', 'scope' ]);
  assert.strictEqual(res.body.error.details.scope, scope);
  const { retryAfterMs } = res.body.error.details;
  assert.ok(Number.isInteger(retryAfterMs) && retryAfterMs > 0 && retryAfterMs <= maxMs, `retryAfterMs ${retryAfterMs}`);
  assert.strictEqual(res.headers['retry-after'], String(Math.ceil(retryAfterMs / 1000)), 'Retry-After in whole seconds, rounded up');
  assert.strictEqual(res.headers['cache-control'], 'no-store');
  return retryAfterMs;
}

// The fixture: 3 failed attempts per account and 5 attempts per address, per minute; `proxy: true`, so each
// test is its own client address (X-Forwarded-For).
describe('egg-im-connection: login throttling', () => {
  let fx: Fixture;
  let address = 0;
  /** A fresh client address for each use. */
  const newAddress = () => `198.51.100.${++address}`;

  before(async () => {
    fx = await startFixture('login-throttle');
  });
  after(async () => {
    await fx?.close();
  });

  let registrations = 0;
  const registerFrom = (ip: string, username: string, password: string) =>
    fx.app.httpRequest().post('/im/auth/register').set('X-Forwarded-For', ip).send({ username, password });
  /** A user with a unique name, registered from an address of its own (registrations are limited per address too). */
  const register = async (_app: unknown, label: string) => {
    const username = `${label}_${process.pid}_${++registrations}`.slice(0, 32);
    const password = `pw-${username}-secret`;
    const res = await registerFrom(`203.0.113.${registrations}`, username, password).expect(201);
    return { userId: res.body.userId as string, username, password };
  };
  const loginFrom = (ip: string, username: string, password: string) =>
    fx.app.httpRequest().post('/im/auth/login').set('X-Forwarded-For', ip).send({ username, password });
  const throttledLines = (username: string) => readLogs(fx.logDir).map(f => f.text).join('\n').split('\n')
    .filter(line => line.includes('[egg-im-connection] login throttled') && line.includes(`username "${username}"`));

  it('refuses an account after 3 failed attempts, even with the right password, before hashing it: 429 with Retry-After', async () => {
    const user = await register(fx.app, 'victim');
    fx.secrets.add(user.password);
    const ip = newAddress();
    for (let i = 0; i < 3; i++) await loginFrom(ip, user.username, `wrong-${i}`).expect(401);
    let res: any;
    const hashes = await countHashes(async () => {
      res = await loginFrom(newAddress(), user.username, user.password);
    });
    assertThrottled(res, 60_000);
    assert.strictEqual(hashes, 0, 'no scrypt work for a throttled request');
    // from any address: the count is the account's
    assertThrottled(await loginFrom(newAddress(), user.username, 'wrong-again'), 60_000);
    await waitFor(() => throttledLines(user.username).length === 2, 2000, 'one log line per throttled attempt');
    const lines = throttledLines(user.username);
    assert.match(lines[0], /login throttled: too many failed attempts for the account, username "victim_[^"]+" from 198\.51\.100\.\d+$/m);
    assert.ok(!lines.join('\n').includes(user.password));
  });

  it('counts an unknown username the same way (the answer does not tell which accounts exist)', async () => {
    const ip = newAddress();
    for (let i = 0; i < 3; i++) {
      const res = await loginFrom(ip, 'nobody_at_all', `guess-${i}`).expect(401);
      assert.strictEqual(res.body.error.code, 'INVALID_CREDENTIALS');
    }
    assertThrottled(await loginFrom(newAddress(), 'nobody_at_all', 'guess-3'), 60_000);
  });

  it('clears an account\'s failures on a successful login', async () => {
    const user = await register(fx.app, 'forgetful');
    fx.secrets.add(user.password);
    const ip = newAddress();
    await loginFrom(ip, user.username, 'wrong-1').expect(401);
    await loginFrom(ip, user.username, 'wrong-2').expect(401);
    const ok = await loginFrom(ip, user.username, user.password).expect(200);
    fx.secrets.add(ok.body.token);
    // three failures allowed again (the 2 before the success are forgotten)
    const ip2 = newAddress();
    for (let i = 0; i < 3; i++) await loginFrom(ip2, user.username, `wrong-again-${i}`).expect(401);
    assertThrottled(await loginFrom(ip2, user.username, user.password), 60_000);
  });

  it('counts concurrent guesses before checking any of them: at most 3 hashes for 20 parallel wrong passwords', async () => {
    const user = await register(fx.app, 'parallel');
    fx.secrets.add(user.password);
    const statuses: number[] = [];
    const hashes = await countHashes(async () => {
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => loginFrom(newAddress(), user.username, `parallel-${i}`)));
      statuses.push(...replies.map(r => r.status));
    });
    assert.strictEqual(statuses.filter(s => s === 401).length, 3, statuses.join(','));
    assert.strictEqual(statuses.filter(s => s === 429).length, 17, statuses.join(','));
    assert.strictEqual(hashes, 3);
    // A client cannot flood the log: at most 10 lines in 10 s, the rest counted in one line when the interval ends.
    await new Promise(resolve => setTimeout(resolve, 500));
    const lines = readLogs(fx.logDir).map(f => f.text).join('\n').split('\n').filter(line => line.includes('[egg-im-connection] login throttled:'));
    assert.ok(lines.length <= 10, `${lines.length} lines:\n${lines.join('\n')}`);
  });

  it('refuses an address after 5 attempts (any accounts, successful or not); other addresses go on', async () => {
    const ip = newAddress();
    const users = await Promise.all([ 0, 1, 2, 3, 4, 5 ].map(i => register(fx.app, `spray${i}`)));
    for (const u of users) fx.secrets.add(u.password);
    const ok = await loginFrom(ip, users[0].username, users[0].password).expect(200);
    fx.secrets.add(ok.body.token);
    for (let i = 1; i < 5; i++) await loginFrom(ip, users[i].username, 'sprayed-password').expect(401);
    let res: any;
    const hashes = await countHashes(async () => {
      res = await loginFrom(ip, users[5].username, users[5].password);
    });
    assertThrottled(res, 60_000);
    assert.strictEqual(hashes, 0);
    // another address logs the same user in
    const other = await loginFrom(newAddress(), users[5].username, users[5].password).expect(200);
    fx.secrets.add(other.body.token);
  });

  it('refuses an address\'s registrations past its limit (apart from its logins), before hashing: 429 with scope "register"', async () => {
    const ip = newAddress();
    fx.secrets.add('pw-one-too-many-secret').add('pw-from-elsewhere-secret');
    for (let i = 0; i < 5; i++) {
      const username = `signup_${process.pid}_${i}`;
      fx.secrets.add(`pw-${username}-secret`);
      await registerFrom(ip, username, `pw-${username}-secret`).expect(201);
    }
    let res: any;
    const hashes = await countHashes(async () => {
      res = await registerFrom(ip, `signup_${process.pid}_over`, 'pw-one-too-many-secret');
    });
    assertThrottled(res, 60_000, 'register');
    assert.strictEqual(hashes, 0, 'refused before the password is hashed');
    // The address's logins are counted apart: still admitted.
    await loginFrom(ip, `signup_${process.pid}_0`, `pw-signup_${process.pid}_0-secret`).expect(200).then(ok => fx.secrets.add(ok.body.token));
    await registerFrom(newAddress(), `signup_${process.pid}_other`, 'pw-from-elsewhere-secret').expect(201);
  });

  describe('unknown tokens per address (3 per minute in the fixture)', () => {
    const unknownToken = () => crypto.randomBytes(32).toString('base64url');
    /** A user's own presence (any user id for a token that is not a session's). */
    const presence = (token: string, ip: string, userId = 'u_someone') =>
      fx.app.httpRequest().get(`/im/users/${userId}/presence`).set('Authorization', `Bearer ${token}`).set('X-Forwarded-For', ip);
    /** The handshake's refusal (`connect_error`): its body. */
    const connectError = async (token: string, ip: string): Promise<{ code: string; details?: any }> => {
      const err: any = await connect(fx.url, token, { extraHeaders: { 'X-Forwarded-For': ip } }).then(
        socket => { socket.close(); throw new Error('connected, but a refusal was expected'); },
        (e: unknown) => e,
      );
      return err.data;
    };
    /** Counts the session lookups in the database while `fn` runs. */
    async function countLookups(fn: () => Promise<void>): Promise<number> {
      const sessions = fx.app.imStore.sessions;
      const original = sessions.findByTokenHash;
      let lookups = 0;
      sessions.findByTokenHash = (hash: string) => {
        lookups++;
        return original.call(sessions, hash);
      };
      try {
        await fn();
      } finally {
        sessions.findByTokenHash = original;
      }
      return lookups;
    }

    it('refuses an address past its unknown tokens before the database is asked (HTTP and handshakes together); other addresses go on', async () => {
      const ip = newAddress();
      for (let i = 0; i < 2; i++) await presence(unknownToken(), ip).expect(401);
      const handshake = await connectError(unknownToken(), ip);
      assert.strictEqual(handshake.code, 'UNAUTHORIZED');
      let res: any;
      const lookups = await countLookups(async () => {
        res = await presence(unknownToken(), ip);
      });
      assertThrottled(res, 60_000, 'token');
      assert.strictEqual(lookups, 0, 'refused before the database');
      const refused = await connectError(unknownToken(), ip);
      assert.strictEqual(refused.code, 'RATE_LIMITED');
      assert.strictEqual(refused.details.scope, 'token');
      await presence(unknownToken(), newAddress()).expect(401);
    });

    it('admits no more lookups at once than the address has left: parallel unknown tokens cannot all reach the database', async () => {
      const ip = newAddress();
      let statuses: number[] = [];
      const lookups = await countLookups(async () => {
        statuses = (await Promise.all(Array.from({ length: 12 }, () => presence(unknownToken(), ip)))).map(res => res.status);
      });
      assert.ok(lookups <= 3, `${lookups} lookups for an address with 3 left`);
      assert.strictEqual(statuses.filter(status => status === 401).length, lookups, JSON.stringify(statuses));
      assert.strictEqual(statuses.filter(status => status === 429).length, 12 - lookups, JSON.stringify(statuses));
    });

    it('does not count tokens that name a session, nor those a cache answers', async () => {
      const ip = newAddress();
      const user = await register(fx.app, 'tokens');
      fx.secrets.add(user.password);
      const sessions = [];
      for (let i = 0; i < 5; i++) {
        const ok = await loginFrom(newAddress(), user.username, user.password).expect(200);
        fx.secrets.add(ok.body.token);
        sessions.push(ok.body.token as string);
      }
      // Each session once from the database (its cache entry dropped), then from the cache, many times.
      for (const token of sessions) {
        await fx.app.imCache.del(fx.app.imCache.key('session', hashToken(token)));
        for (let i = 0; i < 3; i++) await presence(token, ip, user.userId).expect(200);
      }
      for (let i = 0; i < 3; i++) await presence(unknownToken(), ip).expect(401);
      assertThrottled(await presence(unknownToken(), ip), 60_000, 'token');
    });
  });

  it('counts an IPv6 client by its /64: another address of the same network shares the count', async () => {
    for (let i = 1; i <= 5; i++) await loginFrom(`2001:db8:1:2::${i}`, `v6_user_${i}`, 'password-x').expect(401);
    assertThrottled(await loginFrom('2001:db8:1:2:ffff:1:2:3', 'v6_user_6', 'password-x'), 60_000);
    await loginFrom('2001:db8:1:3::1', 'v6_user_7', 'password-x').expect(401);
  });

  it('keys accounts by their normalized spelling, and addresses by IPv4 or IPv6 /64', () => {
    assert.strictEqual(accountKey('Alice@Example.COM'), accountKey('alice@example.com'));
    assert.strictEqual(accountKey('ａｌｉｃｅ'), 'alice', 'fullwidth letters (NFKC)');
    assert.strictEqual(addressKey('203.0.113.7'), '203.0.113.7');
    assert.strictEqual(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.strictEqual(addressKey('2001:db8:0:1::1'), '2001:db8:0:1::/64');
    assert.strictEqual(addressKey('2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64');
    assert.strictEqual(addressKey('::1'), '0:0:0:0::/64');
    assert.strictEqual(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
