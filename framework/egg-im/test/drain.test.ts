import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { connect, listen, nextEvent, registerAndLogin, request, sleep, waitFor, type Socket } from 'egg-im-testkit';

/**
 * The drain at SIGTERM (egg's close), on one app: /readyz says draining at once, new sockets are refused, the
 * open ones are told server:draining, an event already accepted is answered, and a socket that stays is closed
 * at the deadline. The typed client's side, and the drain under load on two nodes: test/drain.test.ts at the root.
 */
describe('drain on close', function() {
  this.timeout(60000);
  const DRAIN_MS = 1500;
  let dir: string;
  let app: MockApplication;
  let socket: Socket | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-drain-'));
    mm(process.env, 'IM_DATABASE_URL', `sqlite:${path.join(dir, 'im.sqlite')}`);
    mm(process.env, 'IM_REDIS_URL', '');
    // egg-cluster would kill the worker 4.5 s after SIGTERM: a drain of imHealth.drainMs 5 s is cut to leave the
    // plugins 3 s to close, to DRAIN_MS.
    mm(process.env, 'EGG_APP_CLOSE_TIMEOUT', String(DRAIN_MS + 3000));
    app = mm.app({ baseDir: 'apps/basic', framework: true, cache: false } as any);
    await app.ready();
  });

  after(async () => {
    socket?.close();
    await app.close();
    mm.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('readyz 503 draining, new sockets refused, open ones told, accepted events answered, stayers closed at the deadline (cut to fit egg\'s close timeout)', async () => {
    mm(app.config.imHealth, 'drainMs', 5000);
    app.imSockets.handle('test:slow', async () => {
      await sleep(800);
      return { done: true };
    });
    const baseUrl = await listen(app);
    const login = await registerAndLogin(app, 'drain');
    socket = await connect(baseUrl, login.token);
    const draining = nextEvent(socket, 'server:draining');
    const slow = request(socket, 'test:slow', {});
    await sleep(50);

    const closing = app.close();
    const closedAt = Date.now();
    assert.deepStrictEqual(await draining, [ { deadlineMs: DRAIN_MS } ]);
    const readyz = await app.httpRequest().get('/readyz').expect(503);
    assert.equal(readyz.body.status, 'draining');
    assert.deepStrictEqual(readyz.body.checks.process, { ok: false, error: 'draining' });
    await assert.rejects(connect(baseUrl, login.token), /websocket error/, 'a new socket is refused');

    assert.deepStrictEqual(await slow, { ok: true, done: true }, 'the event accepted before the drain is answered');
    const [ reason ] = await nextEvent(socket, 'disconnect', DRAIN_MS + 2000);
    assert.equal(reason, 'transport close', 'closed like a drop: a client reconnects');
    assert.ok(Date.now() - closedAt >= DRAIN_MS - 100, 'not before the deadline');
    await closing;
    await waitFor(() => /drained in \d+ ms: 1 connection\(s\) told to reconnect, 1 closed at the deadline \(1500 ms\), 0 event\(s\) unanswered/
      .test(fs.readFileSync(path.join(app.config.logger.dir, 'egg-web.log'), 'utf8')), 3000, "the drain's log line");
  });
});
