import assert from 'node:assert';
import { Manager } from 'socket.io-client';
import { connect, registerAndLogin, request, sleep, waitFor, type Socket, type TestLogin } from 'egg-im-testkit';
import { ALLOWED_ORIGIN } from './fixtures/apps/limits/config/config.default';
import { assertNoSecretsInLogs, readLogs, socketServerOf, startFixture, watch, type Fixture } from './support/fixture';

// The fixture: burst 60 per connection and 150 per user, each refilled at 1/s, frames up to 10,000 bytes, one allowed
// origin, 1 s connect timeout.
describe('egg-im-connection: limits (rate, payload, origin, connect timeout)', () => {
  let fx: Fixture;
  const sockets: Socket[] = [];
  const allowed = { extraHeaders: { Origin: ALLOWED_ORIGIN } };
  const open = async (token: string, options: Record<string, unknown> = allowed) => {
    const socket = await connect(fx.url, token, options);
    sockets.push(socket);
    return socket;
  };
  const loginUser = async (label: string): Promise<TestLogin> => {
    const session = await registerAndLogin(fx.app, label);
    fx.secrets.add(session.token).add(session.password);
    return session;
  };

  before(async () => {
    fx = await startFixture('limits');
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  after(async () => {
    await fx?.close();
  });

  describe('event rate per connection', () => {
    it('admits the configured burst, then answers RATE_LIMITED with retryAfterMs', async () => {
      const session = await loginUser('rate');
      const socket = await open(session.token);
      // a burst of 50 (what the contract promises), and up to the configured 60
      const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => request(socket, 'echo', i)));
      assert.ok(replies.every((r, i) => r.ok === true && r.payload === i), 'the whole burst is admitted');

      const limited = await request(socket, 'echo', 'one more');
      assert.strictEqual(limited.ok, false);
      assert.strictEqual(limited.error.code, 'RATE_LIMITED');
      assert.strictEqual(typeof limited.error.message, 'string');
      const { retryAfterMs } = limited.error.details;
      assert.ok(Number.isInteger(retryAfterMs) && retryAfterMs > 0 && retryAfterMs <= 1000, `retryAfterMs ${retryAfterMs}`);
      assert.ok(socket.connected, 'a limited client stays connected');

      // after retryAfterMs, one more event is admitted (the refill is 1 per second)
      await sleep(retryAfterMs + 50);
      assert.deepStrictEqual(await request(socket, 'echo', 'later'), { ok: true, payload: 'later' });
      const again = await request(socket, 'echo', 'too soon');
      assert.strictEqual(again.error?.code, 'RATE_LIMITED');
    });

    it('limits each connection on its own: another connection of the same user has its full burst (within the user\'s)', async () => {
      const session = await loginUser('rate2');
      const first = await open(session.token);
      await Promise.all(Array.from({ length: 61 }, () => request(first, 'echo', 0)));
      const second = await open(session.token);
      const replies = await Promise.all(Array.from({ length: 50 }, () => request(second, 'echo', 0)));
      assert.ok(replies.every(r => r.ok === true));
    });

    it('counts events sent without an ack too, and logs them once per connection', async () => {
      const session = await loginUser('noack');
      const socket = await open(session.token);
      for (let i = 0; i < 60; i++) socket.emit('echo', i);
      const limited = await request(socket, 'echo', 'acked');
      assert.strictEqual(limited.error?.code, 'RATE_LIMITED');
      const logged = () => readLogs(fx.logDir).map(f => f.text).join('\n').split('\n')
        .filter(line => line.includes(`user ${session.userId} sent "echo" without an ack callback`));
      await waitFor(() => logged().length > 0, 2000, 'the log line');
      await sleep(200);
      assert.strictEqual(logged().length, 1, `logged once, got:\n${logged().join('\n')}`);
    });
  });

  describe('request rate per user (HTTP and sockets together)', () => {
    const presence = (session: TestLogin) => fetch(`${fx.url}/im/users/${session.userId}/presence`, { headers: { authorization: `Bearer ${session.token}` } });

    it('shares one budget between the user\'s sockets: the third connection gets what the first two left', async () => {
      const session = await loginUser('user-rate');
      const replies = [];
      for (let i = 0; i < 3; i++) {
        const socket = await open(session.token);
        replies.push(...await Promise.all(Array.from({ length: 60 }, () => request(socket, 'echo', i))));
      }
      const refused = replies.filter(r => r.ok !== true);
      // 3 handshakes and 180 events, each within its connection's 60: the user's 150 (and at most a refill's worth
      // more) are taken.
      assert.ok(refused.length >= 31 && refused.length <= 33, `refused ${refused.length}`);
      assert.ok(replies.slice(0, 120).every(r => r.ok === true), 'the first two connections are within the user\'s budget');
      const { error } = refused[0];
      assert.strictEqual(error.code, 'RATE_LIMITED');
      assert.strictEqual(error.details.scope, 'requests');
      assert.ok(Number.isInteger(error.details.retryAfterMs) && error.details.retryAfterMs > 0 && error.details.retryAfterMs <= 1000);
    });

    it('counts HTTP requests in the same budget, answers 429 with Retry-After, and leaves other users alone', async () => {
      const session = await loginUser('user-rate-http');
      const other = await loginUser('user-rate-other');
      const socket = await open(session.token);
      const events = await Promise.all(Array.from({ length: 50 }, () => request(socket, 'echo', 0)));
      assert.ok(events.every(r => r.ok === true));
      const statuses: number[] = [];
      for (let i = 0; i < 110; i++) statuses.push((await presence(session)).status);
      // The handshake, 50 events and 99 requests use the 150; a refill of one a second may admit one or two more.
      assert.ok(statuses.slice(0, 99).every(status => status === 200), JSON.stringify(statuses));
      const refused = await presence(session);
      assert.strictEqual(refused.status, 429);
      const body = await refused.json();
      assert.strictEqual(body.error.code, 'RATE_LIMITED');
      assert.strictEqual(body.error.details.scope, 'requests');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.strictEqual((await request(socket, 'echo', 'over')).error?.details?.scope, 'requests', 'the sockets share it');
      const handshake: any = await open(session.token).then(() => assert.fail('a handshake over the budget must be refused'), (err: unknown) => err);
      assert.strictEqual(handshake.data?.code, 'RATE_LIMITED');
      assert.strictEqual(handshake.data?.details?.scope, 'requests', 'a connect is a request of its user too');
      assert.strictEqual((await presence(other)).status, 200, 'another user has a budget of its own');
    });
  });

  describe('payload size', () => {
    it('closes the socket when a frame is larger than maxHttpBufferSize', async () => {
      const session = await loginUser('payload');
      const socket = await open(session.token);
      const seen = watch(socket);
      assert.deepStrictEqual(await request(socket, 'echo', 'y'.repeat(9000)), { ok: true, payload: 'y'.repeat(9000) });
      socket.emit('echo', 'x'.repeat(20_000), () => assert.fail('a frame over the limit must not be answered'));
      await waitFor(() => seen.disconnectedAt, 3000, 'the socket to be closed');
      assert.strictEqual(seen.reason, 'transport close');
      // the server let go of it too
      await waitFor(() => socketServerOf(fx.app).io.of('/').sockets.size === 0, 2000, 'the server to drop the socket');
    });

    it('refuses a polling request larger than maxHttpBufferSize', async () => {
      const session = await loginUser('payload2');
      const socket = await open(session.token, { ...allowed, transports: [ 'polling' ] });
      const seen = watch(socket);
      socket.emit('echo', 'x'.repeat(20_000), () => assert.fail('a body over the limit must not be answered'));
      await waitFor(() => seen.disconnectedAt, 5000, 'the socket to be closed');
    });
  });

  describe('allowed origins', () => {
    it('admits a client whose Origin is allowed', async () => {
      const session = await loginUser('origin-ok');
      const socket = await open(session.token);
      assert.ok(socket.connected);
    });

    for (const [ label, options ] of [
      [ 'another Origin', { extraHeaders: { Origin: 'https://evil.example.com' } } ],
      [ 'an Origin that only starts like the allowed one', { extraHeaders: { Origin: `${ALLOWED_ORIGIN}.evil.com` } } ],
      [ 'no Origin at all', {} ],
      [ 'another Origin, over polling', { extraHeaders: { Origin: 'https://evil.example.com' }, transports: [ 'polling' ] } ],
    ] as const) {
      it(`refuses a client with ${label}, before the handshake (allowRequest)`, async () => {
        const session = await loginUser('origin-bad');
        const err: any = await connect(fx.url, session.token, options).then(s => { s.close(); throw new Error('connected'); }, e => e);
        // refused at the transport, before any session check: a transport error, not a handshake code
        assert.ok([ 'websocket error', 'xhr poll error' ].includes(err.message), err.message);
        assert.strictEqual(socketServerOf(fx.app).io.of('/').sockets.size, 0);
      });
    }

    it('logs the refused origin quoted, so a client cannot forge log lines', async () => {
      const session = await loginUser('origin-log');
      await connect(fx.url, session.token, { extraHeaders: { Origin: 'https://x.example\tforged' } }).then(s => s.close(), () => undefined);
      await waitFor(() => readLogs(fx.logDir).some(f => f.text.includes('refused a connection from origin: "https://x.example\\tforged"')),
        2000, 'the refusal, quoted and escaped, in the log');
    });
  });

  describe('connect timeout', () => {
    it('closes a connection that never completes the handshake', async () => {
      // an Engine.IO connection that never joins the namespace (no CONNECT packet)
      const manager = new Manager(fx.url, { transports: [ 'websocket' ], reconnection: false, autoConnect: false, extraHeaders: allowed.extraHeaders });
      const opened = Date.now();
      const closed = new Promise<number>(resolve => manager.on('close', () => resolve(Date.now())));
      await new Promise<void>((resolve, reject) => manager.open(err => (err ? reject(err) : resolve())));
      const at = await Promise.race([ closed, sleep(5000).then(() => 0) ]);
      assert.ok(at > 0, 'closed by the server');
      assert.ok(at - opened >= 900 && at - opened < 3000, `closed after ${at - opened} ms (connectTimeoutMs is 1000)`);
    });
  });

  describe('after the run', () => {
    it('wrote no token and no password to any log file', async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await fx.close();
      await assertNoSecretsInLogs(fx);
    });
  });
});
