import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import mm, { type MockApplication } from 'egg-mock';
import { createTestDatabase, dropTestDatabase, listen, sleep, TEST_REDIS_URL, uniqueName, waitFor, type Socket } from 'egg-im-testkit';
import { deleteKeysUnder, keysUnder } from 'egg-im-testkit/lib/redisKeys';
import type { SocketServer } from '../../lib/SocketServer';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'apps');

/**
 * The socket server behind `app.imSockets`, with what its API does not show (the socket.io server, endSession,
 * presence's heartbeat): for the tests of this plugin only.
 */
export function socketServerOf(app: MockApplication): SocketServer {
  return app.imSockets as unknown as SocketServer;
}

/** One fixture app on its own database and Redis key prefix, listening on a free port. */
export interface Fixture {
  app: MockApplication;
  url: string;
  prefix: string;
  database: string;
  databaseUrl: string;
  /** The Redis server the app uses (the shared test server unless the test gave its own). */
  redisUrl: string;
  logDir: string;
  /** Secrets handed out during the run (tokens, passwords): none may reach a log file. */
  secrets: Set<string>;
  /** Closes the app (once), drops the database and the keys; asserts nothing was left behind. */
  close(): Promise<void>;
}

/**
 * Starts `test/fixtures/apps/<scenario>` with a database and a key prefix of its own. The fixtures read
 * IM_CONN_TEST_DATABASE_URL / IM_CONN_TEST_REDIS_URL / IM_CONN_TEST_PREFIX (set here before the app loads).
 * `redisUrl`: a Redis server of the test's own (a throwaway one for an outage) instead of the shared one.
 */
export async function startFixture(scenario: string, { redisUrl = TEST_REDIS_URL }: { redisUrl?: string } = {}): Promise<Fixture> {
  const logDir = path.join(FIXTURES, scenario, 'logs');
  // Only this run's lines: the log check reads every file under it.
  fs.rmSync(logDir, { recursive: true, force: true });
  const database = await createTestDatabase('conn');
  const prefix = `${uniqueName('conn')}:`;
  process.env.IM_CONN_TEST_DATABASE_URL = database.url;
  process.env.IM_CONN_TEST_REDIS_URL = redisUrl;
  process.env.IM_CONN_TEST_PREFIX = prefix;
  let app: MockApplication;
  try {
    app = mm.app({ baseDir: `apps/${scenario}`, cache: false });
    await app.ready();
  } catch (err) {
    await dropTestDatabase(database.name);
    throw err;
  } finally {
    delete process.env.IM_CONN_TEST_DATABASE_URL;
    delete process.env.IM_CONN_TEST_REDIS_URL;
    delete process.env.IM_CONN_TEST_PREFIX;
  }
  const url = await listen(app);
  let closed: Promise<void> | undefined;
  return {
    app,
    url,
    prefix,
    database: database.name,
    databaseUrl: database.url,
    redisUrl,
    logDir,
    secrets: new Set(),
    close() {
      closed ??= (async () => {
        await app.close();
        await dropTestDatabase(database.name);
        await deleteKeysUnder(prefix, redisUrl);
        assert.deepStrictEqual(await keysUnder(prefix, redisUrl), [], 'keys were left behind');
      })();
      return closed;
    },
  };
}

/** A second node of a fixture: the same app, database and Redis key prefix, its own process state and port. */
export interface SecondNode {
  app: MockApplication;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts `test/fixtures/apps/<scenario>` once more on `fixture`'s database and key prefix: two nodes sharing
 * MariaDB and Redis, as two processes would. Close it before the fixture (whose close checks the keys).
 */
export async function startSecondNode(fixture: Fixture, scenario: string): Promise<SecondNode> {
  process.env.IM_CONN_TEST_DATABASE_URL = fixture.databaseUrl;
  process.env.IM_CONN_TEST_REDIS_URL = fixture.redisUrl;
  process.env.IM_CONN_TEST_PREFIX = fixture.prefix;
  let app: MockApplication;
  try {
    // clean: false — egg-mock would otherwise delete the logs folder the first node is writing to
    app = mm.app({ baseDir: `apps/${scenario}`, cache: false, clean: false });
    await app.ready();
  } finally {
    delete process.env.IM_CONN_TEST_DATABASE_URL;
    delete process.env.IM_CONN_TEST_REDIS_URL;
    delete process.env.IM_CONN_TEST_PREFIX;
  }
  const url = await listen(app);
  let closed: Promise<void> | undefined;
  return { app, url, close: () => (closed ??= app.close()) };
}

/** Every log file the fixture wrote (egg-mock logs under the fixture's `logs/` folder), with its text. */
export function readLogs(logDir: string): Array<{ file: string; text: string }> {
  if (!fs.existsSync(logDir)) return [];
  const files: Array<{ file: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push({ file: full, text: fs.readFileSync(full, 'utf8') });
    }
  };
  walk(logDir);
  return files;
}

/** Asserts that no secret of the run appears in any log file (call after the app closed). */
export async function assertNoSecretsInLogs(fixture: Fixture): Promise<void> {
  // The log streams finish writing asynchronously: wait until the files stop changing.
  let files = readLogs(fixture.logDir);
  for (let stable = 0; stable < 2;) {
    await sleep(100);
    const again = readLogs(fixture.logDir);
    stable = JSON.stringify(again) === JSON.stringify(files) ? stable + 1 : 0;
    files = again;
  }
  assert.ok(files.length > 0, `no log files under ${fixture.logDir}`);
  assert.ok(files.some(f => f.text.includes('[egg-im-connection]')), 'the plugin logged nothing: is this the right folder?');
  assert.ok(fixture.secrets.size > 0, 'the run handed out no secrets to look for');
  for (const { file, text } of files) {
    for (const secret of fixture.secrets) {
      assert.ok(!text.includes(secret), `${path.relative(FIXTURES, file)} contains a secret of the run (${secret.slice(0, 6)}…)`);
    }
  }
}

/** What happened to a socket, recorded from the moment `watch` is called. */
export interface Watched {
  expired?: { sessionId: string };
  expiredAt?: number;
  reason?: string;
  disconnectedAt?: number;
}

export function watch(socket: Socket): Watched {
  const seen: Watched = {};
  socket.on('session:expired', (payload: { sessionId: string }) => {
    seen.expired = payload;
    seen.expiredAt = Date.now();
  });
  socket.on('disconnect', reason => {
    seen.reason = reason;
    seen.disconnectedAt = Date.now();
  });
  return seen;
}

/** The presence of `userId` as `viewer` sees it over HTTP. */
export async function presence(app: MockApplication, viewerToken: string, userId: string): Promise<any> {
  const res = await app.httpRequest().get(`/im/users/${encodeURIComponent(userId)}/presence`)
    .set('Authorization', `Bearer ${viewerToken}`).expect(200);
  return res.body;
}

/** Waits until the presence of `userId` satisfies `check`; returns it. */
export function presenceWhen(app: MockApplication, viewerToken: string, userId: string, check: (p: any) => boolean, timeoutMs = 5000): Promise<any> {
  return waitFor(async () => {
    const p = await presence(app, viewerToken, userId);
    return check(p) ? p : undefined;
  }, timeoutMs, `presence of ${userId}`);
}
