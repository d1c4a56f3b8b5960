import assert from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { connect, registerAndLogin, sleep, waitFor, type Socket } from 'egg-im-testkit';
import { ISSUER, JWT_KEY, hashOf, verifyCalls } from './fixtures/apps/host-token/config/config.default';
import { DIRECTORY, existsCalls } from './fixtures/apps/host-token/app';
import { assertNoSecretsInLogs, readLogs, socketServerOf, startFixture, watch, type Fixture } from './support/fixture';

/** A JWT of the host app for `sub`; `expiresInS` from now (epoch seconds, as JWTs count), none when omitted. */
async function hostJwt(sub: string, { expiresInS, key = JWT_KEY, claims = {} }: { expiresInS?: number; key?: Uint8Array; claims?: Record<string, unknown> } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer(ISSUER).setIssuedAt().setJti(randomUUID());
  if (expiresInS !== undefined) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresInS);
  return jwt.sign(key);
}

const callsFor = (token: string) => verifyCalls.filter(call => call.hash === hashOf(token));

// The fixture's verifyToken checks the host app's own JWTs (jose, HS256); its userExists (set from boot code,
// test/fixtures/apps/host-token/app.ts) knows the host's DIRECTORY. egg-im's own registration and login stay on.
describe('egg-im-connection: the host application\'s own tokens (verifyToken) and users (userExists, ensureUsers)', () => {
  let fx: Fixture;
  const sockets: Socket[] = [];
  const secret = (token: string) => {
    fx.secrets.add(token);
    return token;
  };
  const token = async (sub: string, options?: Parameters<typeof hostJwt>[1]) => secret(await hostJwt(sub, options));
  const whoami = (bearer: string, headers: Record<string, string> = {}) =>
    fx.app.httpRequest().get('/im/test/whoami').set('Authorization', `Bearer ${bearer}`).set(headers);
  const open = async (bearer: string, auth: Record<string, unknown> = {}) => {
    const socket = await connect(fx.url, bearer, { auth: { token: bearer, ...auth } });
    sockets.push(socket);
    return socket;
  };
  const refusal = (bearer: string) => connect(fx.url, bearer).then(s => { s.close(); throw new Error('connected'); }, (err: any) => err);
  const dataOf = (socket: Socket) => socketServerOf(fx.app).io.of('/').sockets.get(socket.id!)!.data;

  before(async () => {
    fx = await startFixture('host-token');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await fx?.close();
  });

  it('accepts the host\'s JWT as Authorization: Bearer, as the host\'s user (a UUID) mirrored on first use, under a synthetic session', async () => {
    const userId = randomUUID();
    assert.strictEqual(await fx.app.imStore.users.findById(userId), null);
    const jwt = await token(userId, { expiresInS: 3600 });
    const res = await whoami(jwt).expect(200);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    assert.strictEqual(res.body.userId, userId);
    assert.strictEqual(res.body.sessionId, `host:${hashOf(jwt).slice(0, 32)}`);
    assert.strictEqual(res.body.deviceId, 'host');
    assert.ok(Math.abs(res.body.expiresAt - exp * 1000) <= 1000, 'expiresAt is the JWT\'s exp, in ms');
    assert.deepStrictEqual(callsFor(jwt), [ { hash: hashOf(jwt), transport: 'http', hasHeaders: true } ]);

    const user = await fx.app.imStore.users.findById(userId);
    assert.strictEqual(user?.username, `#${userId}`);
    assert.strictEqual(user?.passwordHash, null);

    // the client may name its device (a header over HTTP, auth.deviceId at the handshake); a bad one is refused
    assert.strictEqual((await whoami(jwt, { 'X-Im-Device-Id': 'laptop-1' }).expect(200)).body.deviceId, 'laptop-1');
    const bad = await whoami(jwt, { 'X-Im-Device-Id': 'not a device' }).expect(400);
    assert.strictEqual(bad.body.error.code, 'VALIDATION_FAILED');
    assert.strictEqual(bad.body.error.details.field, 'deviceId');
    // and egg-im's own routes take it
    const presence = await fx.app.httpRequest().get(`/im/users/${userId}/presence`).set('Authorization', `Bearer ${jwt}`).expect(200);
    assert.strictEqual(presence.body.userId, userId);
  });

  it('accepts the host\'s JWT at the socket handshake (auth.token), telling the verifier it is a socket', async () => {
    const userId = randomUUID();
    const jwt = await token(userId, { expiresInS: 3600 });
    const socket = await open(jwt);
    assert.deepStrictEqual(callsFor(jwt), [ { hash: hashOf(jwt), transport: 'socket', hasHeaders: true } ]);
    const data = dataOf(socket);
    assert.strictEqual(data.userId, userId);
    assert.strictEqual(data.sessionId, `host:${hashOf(jwt).slice(0, 32)}`);
    assert.strictEqual(data.deviceId, 'host');
    assert.ok(await fx.app.imStore.users.exists(userId), 'mirrored on first use');
    assert.strictEqual(dataOf(await open(jwt, { deviceId: 'tablet' })).deviceId, 'tablet');
    assert.strictEqual(fx.app.imSockets.ofUser(userId).length, 2);
  });

  it('refuses what the verifier refuses with UNAUTHORIZED, over HTTP and at the handshake, and mirrors nobody', async () => {
    const stranger = randomUUID();
    const refused = [
      await token(stranger, { key: new TextEncoder().encode('another application\'s key, not the host\'s') }),
      await token(stranger, { expiresInS: -60 }),
      secret(`not-a-jwt-${randomBytes(8).toString('hex')}`),
      // the shape of egg-im's own tokens, but egg-im has no such session: the host is asked, and refuses
      secret(randomBytes(32).toString('base64url')),
    ];
    for (const bearer of refused) {
      const res = await whoami(bearer).expect(401);
      assert.deepStrictEqual(res.body, { ok: false, error: { code: 'UNAUTHORIZED', message: 'unknown or revoked session token' } });
      const err = await refusal(bearer);
      assert.strictEqual(err.message, 'UNAUTHORIZED');
      assert.strictEqual(callsFor(bearer).length, 1, 'the refusal is kept too');
    }
    assert.strictEqual(await fx.app.imStore.users.findById(stranger), null);
  });

  it('tells a socket whose host token expires session:expired and closes it, like egg-im\'s own sessions; then refuses the token', async () => {
    const userId = randomUUID();
    const jwt = await token(userId, { expiresInS: 2 });
    const expiresAt = (await whoami(jwt).expect(200)).body.expiresAt;
    const socket = await open(jwt);
    const seen = watch(socket);
    await waitFor(() => seen.disconnectedAt, 4000, 'the socket to be closed');
    assert.deepStrictEqual(seen.expired, { sessionId: `host:${hashOf(jwt).slice(0, 32)}` });
    assert.ok(seen.expiredAt! >= expiresAt, `told ${expiresAt - seen.expiredAt!} ms before the expiry`);
    assert.ok(seen.disconnectedAt! - expiresAt < 1000, `closed ${seen.disconnectedAt! - expiresAt} ms after the expiry`);
    assert.strictEqual(seen.reason, 'io server disconnect');
    // the verdict was not kept past the expiry: the host is asked again, and refuses the expired JWT
    const calls = callsFor(jwt).length;
    assert.strictEqual((await whoami(jwt).expect(401)).body.error.code, 'UNAUTHORIZED');
    assert.strictEqual(callsFor(jwt).length, calls + 1);
  });

  it('arms no expiry for a host token without one', async () => {
    const socket = await open(await token(randomUUID()));
    assert.strictEqual((socketServerOf(fx.app) as any).expiryTimers.has(socket.id), false);
    assert.strictEqual(dataOf(socket).expiresAt, Infinity);
  });

  it('keeps egg-im\'s own login working beside it: its tokens are answered by egg-im alone, never shown to the verifier', async () => {
    const calls = verifyCalls.length;
    const own = await registerAndLogin(fx.app, 'own');
    secret(own.token);
    fx.secrets.add(own.password);
    const res = await whoami(own.token).expect(200);
    assert.deepStrictEqual(res.body, { sessionId: own.sessionId, userId: own.userId, deviceId: own.deviceId, expiresAt: Date.parse(own.expiresAt) });
    assert.strictEqual(dataOf(await open(own.token)).sessionId, own.sessionId);
    // revoked: egg-im's answer stands, the host is not asked about it
    await fx.app.httpRequest().post('/im/auth/logout').set('Authorization', `Bearer ${own.token}`).expect(204);
    assert.strictEqual((await whoami(own.token).expect(401)).body.error.code, 'UNAUTHORIZED');
    assert.strictEqual((await refusal(own.token)).message, 'UNAUTHORIZED');
    assert.strictEqual(verifyCalls.length, calls);
  });

  it('asks the verifier once per token within the cache time, however many requests and handshakes come at once', async () => {
    const userId = randomUUID();
    const jwt = await token(userId, { expiresInS: 3600 });
    const answers = await Promise.all(Array.from({ length: 30 }, () => whoami(jwt)));
    assert.deepStrictEqual(answers.map(res => res.status), Array(30).fill(200));
    await Promise.all(Array.from({ length: 5 }, () => open(jwt)));
    for (let i = 0; i < 5; i++) await whoami(jwt).expect(200);
    assert.strictEqual(callsFor(jwt).length, 1);
    assert.strictEqual(fx.app.imSockets.ofUser(userId).length, 5);
    const refusedToken = secret(`refused-${randomBytes(8).toString('hex')}`);
    await Promise.all(Array.from({ length: 10 }, () => whoami(refusedToken).expect(401)));
    assert.strictEqual(callsFor(refusedToken).length, 1);
  });

  it('answers a verifier that throws with INTERNAL (nothing of its error), logs the failure without the token, and keeps no verdict', async () => {
    const bearer = secret(`explode.${randomBytes(12).toString('hex')}`);
    const res = await whoami(bearer).expect(500);
    assert.deepStrictEqual(res.body, { ok: false, error: { code: 'INTERNAL', message: 'could not check the token' } });
    const err = await refusal(bearer);
    assert.strictEqual(err.message, 'INTERNAL');
    assert.deepStrictEqual(err.data, { code: 'INTERNAL', message: 'could not check the token' });
    assert.strictEqual(callsFor(bearer).length, 2, 'a failure is not kept');
    const sessionId = `host:${hashOf(bearer).slice(0, 32)}`;
    await waitFor(() => readLogs(fx.logDir).some(f => f.file.endsWith('common-error.log')
      && f.text.includes(`[egg-im-connection] verifyToken threw for session ${sessionId} (http)`)
      && f.text.includes('the directory is down (while checking [token])')), 2000, 'the failure in the log');
  });

  it('answers a verifier that breaks its contract (not an id; seconds for milliseconds) with 500 INTERNAL, logged by shape, and mirrors nothing', async () => {
    const padded = await token('padded ', { expiresInS: 3600 });
    assert.deepStrictEqual((await whoami(padded).expect(500)).body, { ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    assert.strictEqual((await refusal(padded)).message, 'INTERNAL');
    assert.strictEqual(await fx.app.imStore.users.findById('padded '), null);
    const seconds = await token(randomUUID(), { expiresInS: 3600, claims: { secondsBug: true } });
    assert.strictEqual((await whoami(seconds).expect(500)).body.error.code, 'INTERNAL');
    await waitFor(() => {
      const errors = readLogs(fx.logDir).filter(f => f.file.endsWith('common-error.log')).map(f => f.text).join('\n');
      return errors.includes('verifyToken must resolve to { userId, expiresAt? }')
        && errors.includes('got a userId that is a string of 7 characters that is not an id')
        && errors.includes('epoch seconds instead of milliseconds');
    }, 2000, 'the broken contracts in the log');
  });

  it('takes a verifier set from boot code (app.imSessions.verifyToken) and forgets the verdicts kept for the one it replaces', async () => {
    const jwt = await token(randomUUID(), { expiresInS: 3600 });
    await whoami(jwt).expect(200);
    const original = fx.app.imSessions.verifyToken;
    fx.app.imSessions.verifyToken = async () => ({ userId: 'set-from-boot-code', expiresAt: new Date(Date.now() + 60_000) });
    try {
      assert.strictEqual((await whoami(jwt).expect(200)).body.userId, 'set-from-boot-code');
      assert.ok(await fx.app.imStore.users.exists('set-from-boot-code'));
    } finally {
      fx.app.imSessions.verifyToken = original;
    }
    assert.throws(() => { (fx.app.imSessions as any).verifyToken = 'a string'; },
      /^TypeError: \[egg-im-connection\] app\.imSessions\.verifyToken must be a function or undefined, got string/);
    assert.strictEqual(fx.app.imSessions.verifyToken, original);
  });

  describe('ensureUsers', () => {
    const [ first, second, third ] = DIRECTORY;
    const unknown = randomUUID();

    it('answers the ids egg-im has, and those the host\'s userExists confirms, mirrored at once; asks the host about the others only', async () => {
      const own = await registerAndLogin(fx.app, 'known');
      secret(own.token);
      fx.secrets.add(own.password);
      existsCalls.length = 0;
      const ids = await fx.app.imSessions.ensureUsers([ own.userId, first, unknown, first, 'not an id ', second ]);
      assert.deepStrictEqual(ids, [ own.userId, first, second ]);
      assert.deepStrictEqual(existsCalls, [ [ first, unknown, second ] ], 'one batch, of the ids egg-im does not have');
      for (const id of [ first, second ]) assert.strictEqual((await fx.app.imStore.users.findById(id))?.username, `#${id}`);
      assert.strictEqual(await fx.app.imStore.users.findById(unknown), null);

      // mirrored once: the host is asked only about what egg-im still does not have
      assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ second, unknown, first ]), [ second, first ]);
      assert.deepStrictEqual(existsCalls, [ [ first, unknown, second ], [ unknown ] ]);
      assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ first ]), [ first ]);
      assert.strictEqual(existsCalls.length, 2);
    });

    it('answers a single id this process already knows without a lookup', async () => {
      const { users } = fx.app.imStore;
      assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ first ]), [ first ], 'mirrored (now or by the test before)');
      const exists = users.exists;
      const asked: string[] = [];
      users.exists = async (id: string) => {
        asked.push(id);
        return exists.call(users, id);
      };
      try {
        assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ first ]), [ first ]);
        assert.deepStrictEqual(asked, []);
        assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ first, first ]), [ first ], 'more than one id: the general path');
        assert.deepStrictEqual(asked, [ first ]);
        assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ `${first} ` ]), [], 'a padded id is not the user');
      } finally {
        users.exists = exists;
      }
    });

    it('without userExists, answers from egg-im\'s user table alone', async () => {
      const original = fx.app.imSessions.userExists;
      fx.app.imSessions.userExists = undefined;
      existsCalls.length = 0;
      try {
        assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ first, third, unknown ]), [ first ]);
        assert.strictEqual(await fx.app.imStore.users.findById(third), null, 'not mirrored');
      } finally {
        fx.app.imSessions.userExists = original;
      }
      assert.deepStrictEqual(existsCalls, []);
      assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ third ]), [ third ]);
    });

    it('ignores ids the host confirms that it was not asked about, and refuses a broken answer or setter', async () => {
      const original = fx.app.imSessions.userExists;
      try {
        const stray = randomUUID();
        fx.app.imSessions.userExists = async () => [ stray ];
        assert.deepStrictEqual(await fx.app.imSessions.ensureUsers([ unknown ]), []);
        assert.strictEqual(await fx.app.imStore.users.findById(stray), null);
        fx.app.imSessions.userExists = async () => 'yes' as unknown as string[];
        await assert.rejects(fx.app.imSessions.ensureUsers([ unknown ]),
          /^Error: \[egg-im-connection\] userExists must resolve to an array of the user ids that exist; got string/);
        assert.throws(() => { (fx.app.imSessions as any).userExists = 42; }, /app\.imSessions\.userExists must be a function or undefined, got number/);
      } finally {
        fx.app.imSessions.userExists = original;
      }
    });
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      await sleep(100);
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
