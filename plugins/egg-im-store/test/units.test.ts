import assert from 'node:assert/strict';
import path from 'node:path';
import { backoffDelay, normalizeBackoff } from '../lib/backoff';
import { describeDbError, isTransientDbError, transientKind } from '../lib/dbErrors';
import { defaultClientConfig, normalizeClientConfig } from '../lib/defaults';
import { parseStoreUrl, redactUrl } from '../lib/storeUrl';
import defaultConfig from '../config/config.default';

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('egg-im-store units', () => {
  describe('isTransientDbError', () => {
    it('accepts connection failures and lock contention', () => {
      for (const code of ['PROTOCOL_CONNECTION_LOST', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ER_CON_COUNT_ERROR']) {
        assert.equal(transientKind(coded(code)), 'connection', code);
      }
      for (const code of ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']) {
        assert.equal(transientKind(coded(code)), 'contention', code);
      }
      assert.equal(transientKind(new Error('Pool is closed.')), 'connection');
      assert.equal(transientKind(new Error("Can't add new command when connection is in closed state")), 'connection');
      assert.equal(isTransientDbError(coded('ECONNRESET')), true);
    });

    it('looks through TypeORM driverError, cause and AggregateError', () => {
      const typeormLike = Object.assign(new Error('query failed'), { driverError: coded('ER_LOCK_DEADLOCK') });
      assert.equal(transientKind(typeormLike), 'contention');
      assert.equal(transientKind(new Error('wrapped', { cause: coded('ECONNREFUSED') })), 'connection');
      assert.equal(transientKind(new AggregateError([coded('ECONNREFUSED')], '')), 'connection');
    });

    it('rejects everything else', () => {
      for (const err of [coded('ER_DUP_ENTRY'), coded('ER_ACCESS_DENIED_ERROR'), coded('ER_PARSE_ERROR'), new Error('boom'), null, undefined, 'ECONNRESET', 42]) {
        assert.equal(isTransientDbError(err), false, String(err));
      }
    });

    it('describes an error by code and message', () => {
      assert.equal(describeDbError(coded('ER_LOCK_DEADLOCK', 'Deadlock found')), 'ER_LOCK_DEADLOCK: Deadlock found');
      assert.equal(describeDbError(coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')), 'connect ECONNREFUSED 127.0.0.1:1');
    });
  });

  describe('backoff', () => {
    const policy = { attempts: 8, baseMs: 200, factor: 2, maxMs: 5000 };
    it('doubles from baseMs up to maxMs, plus at most 10 % jitter', () => {
      assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(n => backoffDelay(n, policy, () => 0)), [200, 400, 800, 1600, 3200, 5000, 5000]);
      assert.deepEqual([1, 6].map(n => backoffDelay(n, policy, () => 1)), [220, 5500]);
    });

    it('checks options and keeps defaults for unset keys', () => {
      assert.deepEqual(normalizeBackoff({ attempts: undefined, baseMs: 5 }, policy, 'x'), { ...policy, baseMs: 5 });
      assert.throws(() => normalizeBackoff({ attempts: 0 }, policy, 'x'), /^Error: \[egg-im-store\] x\.attempts must be an integer >= 1/);
      assert.throws(() => normalizeBackoff({ maxMs: -1 }, policy, 'x'), /x\.maxMs must be a number >= 0/);
    });
  });

  describe('config', () => {
    it('has documented defaults and reads IM_DATABASE_URL when loaded', () => {
      const previous = process.env.IM_DATABASE_URL;
      try {
        process.env.IM_DATABASE_URL = 'sqlite:data/x.sqlite';
        const { imStore } = defaultConfig({} as any);
        assert.equal(imStore.client.url, 'sqlite:data/x.sqlite');
        delete process.env.IM_DATABASE_URL;
        assert.equal(defaultConfig({} as any).imStore.client.url, '');
      } finally {
        if (previous === undefined) delete process.env.IM_DATABASE_URL;
        else process.env.IM_DATABASE_URL = previous;
      }
      const d = defaultClientConfig();
      assert.deepEqual(d.pool, { size: 20, acquireTimeoutMs: 10000, idleTimeoutMs: 60000, connectTimeoutMs: 5000, queueLimit: 1000 });
      assert.deepEqual(d.connectRetry, { attempts: 8, baseMs: 200, factor: 2, maxMs: 5000 });
      assert.equal(d.migrationsRun, true);
      assert.equal(d.createDatabase, false);
    });

    it('fills a partial config and refuses bad values with a prefixed error', () => {
      const cfg = normalizeClientConfig({ url: 'sqlite::memory:', pool: { size: 3 } });
      assert.equal(cfg.pool.size, 3);
      assert.equal(cfg.pool.acquireTimeoutMs, 10000);
      assert.throws(() => normalizeClientConfig({ pool: { size: 0 } }), /^Error: \[egg-im-store\] imStore\.client\.pool\.size must be >= 1/);
      assert.throws(() => normalizeClientConfig({ pool: { size: 2.5 } }), /pool\.size must be an integer >= 0/);
      assert.throws(() => normalizeClientConfig({ connectRetry: { attempts: 0 } }), /imStore\.client\.connectRetry\.attempts/);
    });
  });

  describe('parseStoreUrl', () => {
    const base = path.resolve('/srv/app');
    it('reads mysql:// and mariadb:// urls, decoding credentials', () => {
      const t = parseStoreUrl('mysql://im:p%40ss@db.internal:3307/egg_im', base);
      assert.equal(t.driver, 'mysql');
      if (t.driver !== 'mysql') return;
      assert.deepEqual([t.host, t.port, t.user, t.password, t.database], ['db.internal', 3307, 'im', 'p@ss', 'egg_im']);
      assert.equal(t.redacted, 'mysql://im:***@db.internal:3307/egg_im');
      const m = parseStoreUrl('mariadb://root@127.0.0.1/im', base);
      assert.equal(m.driver, 'mysql');
      if (m.driver === 'mysql') assert.equal(m.port, 3306);
    });

    it('resolves sqlite paths against the baseDir; an empty url is the embedded file', () => {
      assert.deepEqual(parseStoreUrl('sqlite:data/im.sqlite', base), { driver: 'better-sqlite3', file: path.join(base, 'data/im.sqlite'), embedded: false, redacted: `sqlite:${path.join(base, 'data/im.sqlite')}` });
      assert.equal((parseStoreUrl('sqlite:///var/lib/im.sqlite', base) as any).file, '/var/lib/im.sqlite');
      assert.equal((parseStoreUrl('sqlite::memory:', base) as any).file, ':memory:');
      const embedded = parseStoreUrl('', base);
      assert.equal((embedded as any).file, path.join(base, 'run', 'egg-im.sqlite'));
      assert.equal((embedded as any).embedded, true);
      assert.equal((parseStoreUrl(undefined, base) as any).embedded, true);
    });

    it('refuses unknown schemes and incomplete urls without echoing the password', () => {
      assert.throws(() => parseStoreUrl('postgres://u:topsecret@h/db', base), {
        message: '[egg-im-store] unknown store type "postgres" in imStore.client.url (IM_DATABASE_URL); use mysql://… or sqlite:<file>',
      });
      assert.throws(() => parseStoreUrl('redis://localhost:6379', base), /unknown store type "redis"/);
      for (const bad of ['mysql://u:topsecret@h:3306/', 'mysql://u:topsecret@h/bad;name', 'mysql://u:top secret@h:port/db']) {
        assert.throws(() => parseStoreUrl(bad, base), (err: Error) => err.message.startsWith('[egg-im-store] ') && !err.message.includes('topsecret'));
      }
    });

    it('redacts passwords in any url inside a text', () => {
      assert.equal(redactUrl('to mysql://u:pw@h:1/db and redis://:pw2@r:6379'), 'to mysql://u:***@h:1/db and redis://:***@r:6379');
      assert.equal(redactUrl('mysql://u@h/db'), 'mysql://u@h/db');
    });
  });
});
