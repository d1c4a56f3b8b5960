import assert from 'node:assert/strict';
import mm, { type MockApplication } from 'egg-mock';
import { freeTcpPort, waitFor } from 'egg-im-testkit';
import { cleanFixture, coreLogShowing, readCoreLog, rejectionOf } from './helpers';

describe('egg-im-store start failures', () => {
  let app: MockApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  after(() => {
    cleanFixture('unknown-scheme');
    cleanFixture('unreachable');
    cleanFixture('slow-start');
  });

  it('refuses an unknown url scheme with a clear error', async () => {
    app = mm.app({ baseDir: 'apps/unknown-scheme', cache: false });
    const err = await rejectionOf(app.ready());
    assert.equal(err.message,
      '[egg-im-store] unknown store type "postgres" in imStore.client.url (IM_DATABASE_URL); use mysql://… or sqlite:<file>');
    await app.close();
    app = undefined;
    assert.ok(!(await coreLogShowing('unknown-scheme', [/unknown store type/])).includes('S3cretUnknownScheme'));
  });

  it('fails the start after the logged attempts when the database is unreachable', async () => {
    const port = await freeTcpPort(); // nothing listens there
    const password = 'S3cretUnreachable';
    mm(process.env, 'STORE_TEST_MYSQL_URL', `mysql://im:${password}@127.0.0.1:${port}/egg_im_nowhere`);
    app = mm.app({ baseDir: 'apps/unreachable', cache: false });
    const err = await rejectionOf(app.ready());
    assert.match(err.message, /^\[egg-im-store\] database unreachable after 3 attempts: .*ECONNREFUSED/);
    assert.ok(!err.message.includes(password));
    await app.close();
    app = undefined;

    const log = await coreLogShowing('unreachable', [/attempt 2\/3/]);
    const warnings = log.split('\n').filter(line => line.includes('[egg-im-store] database not reachable'));
    assert.equal(warnings.length, 2, 'one warning per failed attempt that is retried');
    assert.match(warnings[0], /WARN .*attempt 1\/3, ECONNREFUSED\), next attempt in \d+ ms: mysql:\/\/im:\*\*\*@127\.0\.0\.1/);
    assert.match(warnings[1], /attempt 2\/3, ECONNREFUSED\), next attempt in \d+ ms/);
    assert.ok(!log.includes(password), 'the password is not in the log');
  });

  it('stops waiting for the database as soon as the app is closed', async () => {
    const port = await freeTcpPort();
    mm(process.env, 'STORE_TEST_MYSQL_URL', `mysql://im@127.0.0.1:${port}/egg_im_nowhere`);
    app = mm.app({ baseDir: 'apps/slow-start', cache: false });
    const ready = app.ready().then(() => 'ready', (err: Error) => err);
    await waitFor(() => readCoreLog('slow-start').includes('attempt 2/100'), 10000, 'two failed attempts');
    const started = Date.now();
    await app.close();
    app = undefined;
    const took = Date.now() - started;
    assert.ok(took < 3000, `close() took ${took} ms, the retry budget is about 20 s`);
    await ready;
    const log = await coreLogShowing('slow-start', [/start abandoned/]);
    assert.match(log, /\[egg-im-store\] start abandoned: the app is closing/);
    assert.doesNotMatch(log, /attempt 1[0-9]\/100/);
  });
});
