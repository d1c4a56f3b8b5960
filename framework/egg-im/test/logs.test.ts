import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { connect, listen, registerAndLogin, request, waitFor, type Socket } from 'egg-im-testkit';

/** One JSON object per line of a `.json.log` file. */
function jsonLines(file: string): Array<Record<string, any>> {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(line => JSON.parse(line));
}

describe('logs: IM_LOG_JSON=1 writes JSON lines; each error is one entry with its ids and a request id', function() {
  this.timeout(60000);
  let app: MockApplication;
  let logDir: string;
  let baseUrl: string;
  let socket: Socket | undefined;

  before(async () => {
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-logs-'));
    mm(process.env, 'IM_LOG_JSON', '1');
    mm(process.env, 'IM_LOG_DIR', logDir);
    mm(process.env, 'IM_DATABASE_URL', `sqlite:${path.join(logDir, 'im.sqlite')}`);
    mm(process.env, 'IM_REDIS_URL', '');
    app = mm.app({ baseDir: 'apps/log-format', framework: true, cache: false } as any);
    await app.ready();
    baseUrl = await listen(app);
  });

  after(async () => {
    socket?.close();
    await app?.close();
    mm.restore();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('writes egg-web and common-error as JSON (.json.log) in place of the text files', async () => {
    await waitFor(() => jsonLines(path.join(logDir, 'egg-web.json.log')).length > 0, 5000, 'egg-web.json.log');
    const line = jsonLines(path.join(logDir, 'egg-web.json.log'))[0];
    assert.deepStrictEqual(Object.keys(line).sort().filter(k => [ 'date', 'hostname', 'level', 'message', 'pid' ].includes(k)),
      [ 'date', 'hostname', 'level', 'message', 'pid' ]);
    assert.equal(fs.existsSync(path.join(logDir, 'egg-web.log')), false, 'no text log beside it');
    assert.equal(fs.existsSync(path.join(logDir, 'common-error.log')), false, 'no text error log beside it');
  });

  it('an HTTP failure: one error entry with the method, path and the request id the response names', async () => {
    const res = await app.httpRequest().get('/im/test/fail').set('X-Request-Id', 'trace-http-1').expect(500);
    assert.equal(res.headers['x-request-id'], 'trace-http-1');
    assert.deepStrictEqual(res.body, { ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    // A caller's id that is not a plain id is replaced by a new one.
    const other = await app.httpRequest().get('/healthz').set('X-Request-Id', 'bad id\twith spaces').expect(200);
    assert.match(other.headers['x-request-id'], /^[0-9a-f]{16}$/);

    const file = path.join(logDir, 'common-error.json.log');
    await waitFor(() => jsonLines(file).some(e => e.message.includes('GET /im/test/fail failed')), 5000, 'the error entry');
    const entries = jsonLines(file).filter(e => e.message.includes('/im/test/fail'));
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.equal(entries[0].level, 'ERROR');
    assert.match(entries[0].paddingMessage, /\/trace-http-1\//);
    assert.match(entries[0].message, /the database said no/, 'the cause is in the same entry');
  });

  it('a socket event failure: one error entry with the user, the socket and the request id the client was told', async () => {
    const login = await registerAndLogin(app, 'logs');
    socket = await connect(baseUrl, login.token);
    const reply = await request(socket, 'test:fail', {});
    assert.equal(reply.ok, false);
    assert.equal(reply.error.code, 'INTERNAL');
    const { requestId } = reply.error.details;
    assert.match(requestId, /^[0-9a-f]{16}$/);
    assert.equal(reply.error.message, `internal error (request ${requestId})`);

    const file = path.join(logDir, 'common-error.json.log');
    await waitFor(() => jsonLines(file).some(e => e.message.includes(requestId)), 5000, 'the error entry');
    const entries = jsonLines(file).filter(e => e.message.includes('test:fail'));
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.match(entries[0].message, new RegExp(`"test:fail" failed for user ${login.userId} socket ${socket.id} request ${requestId}`));
    assert.match(entries[0].message, /the cache said no/);
    assert.doesNotMatch(JSON.stringify(entries), new RegExp(login.token), 'no token in the logs');
  });
});
