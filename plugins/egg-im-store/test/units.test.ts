import assert from 'node:assert/strict';
import path from 'node:path';
import { normalizeBackoff, retryDelay } from '../lib/backoff';
import { BatchQueue } from '../lib/batch/BatchQueue';
import { runIsolatingFailures } from '../lib/batch/isolateFailures';
import { ImError } from 'egg-im-protocol';
import { describeDbError, isTransientDbError, transientKind } from '../lib/dbErrors';
import { defaultClientConfig, normalizeClientConfig } from '../lib/defaults';
import { parseStoreUrl, redactUrl } from '../lib/storeUrl';
import { noPadCollation } from '../lib/sql/collation';
import { ImStoreQueryError, redactDbError, redactServerMessage, statementShape } from '../lib/redactDbError';
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

  describe('redaction of database errors', () => {
    it('statementShape replaces string, hex and number literals, never names', () => {
      assert.equal(
        statementShape("INSERT INTO t (a, b)\n VALUES ('x', 'it\\'s', -1.5e3, X'6162', \"q\"), (@im_seq0 - 3, '') LIMIT 10"),
        'INSERT INTO t (a, b) VALUES (?, ?, ?, ?, ?), (@im_seq0 - ?, ?) LIMIT ?');
      assert.equal(statementShape('SELECT `t1`.`c2`, im_2x, datetime(3) FROM t'), 'SELECT `t1`.`c2`, im_2x, datetime(?) FROM t');
      assert.equal(statementShape(`SELECT '${'v'.repeat(2000)}', ${'a, '.repeat(600)}b`).length, 1001);
    });

    it('redactServerMessage replaces quoted values and keeps quoted names', () => {
      assert.equal(redactServerMessage("Duplicate entry 'alice-c'1 ' for key 'uq_im_messages_sender_client'"),
        "Duplicate entry '?' for key 'uq_im_messages_sender_client'");
      assert.equal(redactServerMessage("Incorrect integer value: 'a'b' for column `db`.`im_members`.`attempts` at row 1"),
        "Incorrect integer value: '?' for column `db`.`im_members`.`attempts` at row 1");
      assert.equal(redactServerMessage("Truncated incorrect DOUBLE value: 'secret'"), "Truncated incorrect DOUBLE value: '?'");
      assert.equal(redactServerMessage("Data too long for column 'type' at row 3"), "Data too long for column 'type' at row 3");
      assert.equal(redactServerMessage("Unknown column 'NaN' in 'field list'"), "Unknown column 'NaN' in 'field list'");
      assert.equal(redactServerMessage("You have an error in your SQL syntax; check the manual near 'secret' at line 1"),
        "You have an error in your SQL syntax; check the manual near '?' at line 1");
    });

    it('redactDbError keeps code, errno, sqlState and the statement shape; drops parameters, driverError and values', () => {
      const driverError = Object.assign(new Error("Duplicate entry 'bob-secret' for key 'PRIMARY'"), {
        code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000', sqlMessage: "Duplicate entry 'bob-secret' for key 'PRIMARY'",
        sql: "INSERT INTO im_users (id) VALUES ('bob-secret')",
      });
      const typeorm = Object.assign(new Error(driverError.message), {
        ...driverError, name: 'QueryFailedError', query: 'INSERT INTO im_users (id) VALUES (?)', parameters: [ 'bob-secret' ], driverError,
      });
      for (const err of [ driverError, typeorm ]) {
        const safe = redactDbError(err) as ImStoreQueryError;
        assert.ok(safe instanceof ImStoreQueryError);
        assert.equal(safe.message, "[egg-im-store] ER_DUP_ENTRY: Duplicate entry '?' for key 'PRIMARY'");
        assert.deepEqual({ ...safe }, {
          code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000', sql: 'INSERT INTO im_users (id) VALUES (?)', sqlMessage: "Duplicate entry '?' for key 'PRIMARY'",
        });
        assert.ok(!String(safe.stack).includes('secret'));
        assert.equal(safe.cause, undefined);
      }
      const sqlite = Object.assign(new Error('UNIQUE constraint failed: im_users.id'), {
        query: 'INSERT INTO im_users (id) VALUES (?)', parameters: [ 'secret' ], driverError: Object.assign(new Error('UNIQUE constraint failed: im_users.id'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }),
      });
      assert.deepEqual({ ...(redactDbError(sqlite) as object) }, { code: 'SQLITE_CONSTRAINT_PRIMARYKEY', sql: 'INSERT INTO im_users (id) VALUES (?)' });
      const own = new TypeError('[egg-im-store] seq must be an integer >= 1 (got NaN)');
      assert.equal(redactDbError(own), own, 'errors of this package pass unchanged');
      const imError = new ImError('STORE_UNAVAILABLE', 'down');
      assert.equal(redactDbError(imError), imError);
      assert.equal(describeDbError(driverError), "ER_DUP_ENTRY: Duplicate entry '?' for key 'PRIMARY'", 'log lines are redacted too');
    });
  });

  describe('noPadCollation', () => {
    it('names the NO PAD binary collation of MariaDB 10.2+ and MySQL 8+, and refuses servers without one', () => {
      assert.equal(noPadCollation('10.11.19-MariaDB-0+deb12u1'), 'utf8mb4_nopad_bin');
      assert.equal(noPadCollation('5.5.5-10.2.44-MariaDB'), 'utf8mb4_nopad_bin');
      assert.equal(noPadCollation('11.4.2-MariaDB'), 'utf8mb4_nopad_bin');
      assert.equal(noPadCollation('8.0.36'), 'utf8mb4_0900_bin');
      assert.equal(noPadCollation('9.1.0-commercial'), 'utf8mb4_0900_bin');
      assert.throws(() => noPadCollation('5.7.44-log'), /^Error: \[egg-im-store\] MySQL 5\.7\.44-log has no NO PAD binary collation/);
      assert.throws(() => noPadCollation('10.1.48-MariaDB'), /needs MariaDB 10\.2 or later, or MySQL 8\.0 or later/);
    });
  });

  describe('backoff', () => {
    const policy = { attempts: 8, baseMs: 200, factor: 2, maxMs: 5000 };
    it('doubles from baseMs up to maxMs, plus at most 10 % jitter', () => {
      assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(n => retryDelay(n, policy, () => 0)), [200, 400, 800, 1600, 3200, 5000, 5000]);
      assert.deepEqual([1, 6].map(n => retryDelay(n, policy, () => 1)), [220, 5500]);
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

  describe('runIsolatingFailures', () => {
    /** A batch writer that fails every batch holding a refused item, and records what it ran. */
    function writer(refuse: (n: number) => Error | undefined) {
      const runs: number[][] = [];
      const run = async (batch: number[]) => {
        runs.push(batch);
        for (const n of batch) {
          const err = refuse(n);
          if (err) throw err;
        }
        return batch.map(n => n * 10);
      };
      return { runs, run };
    }

    it('runs the batch once when nothing fails', async () => {
      const { runs, run } = writer(() => undefined);
      assert.deepEqual(await runIsolatingFailures([ 1, 2, 3 ], run), [ 10, 20, 30 ]);
      assert.deepEqual(runs, [ [ 1, 2, 3 ] ]);
    });

    it('fails the refused items alone, with their own errors; the others are written, in order', async () => {
      const refused = new Map([ [ 3, coded('ER_DATA_TOO_LONG') ], [ 6, coded('ER_DUP_ENTRY') ] ]);
      const { runs, run } = writer(n => refused.get(n));
      const results = await runIsolatingFailures([ 1, 2, 3, 4, 5, 6, 7 ], run);
      assert.deepEqual(results, [ 10, 20, refused.get(3), 40, 50, refused.get(6), 70 ]);
      const written = runs.filter(batch => !batch.some(n => refused.has(n))).flat();
      assert.deepEqual(written, [ 1, 2, 4, 5, 7 ], 'each honest item written once, in submission order');
    });

    it('fails the whole batch on a transient failure or an ImError, as before (no split)', async () => {
      for (const err of [ coded('ECONNRESET'), coded('ER_LOCK_DEADLOCK'), new ImError('STORE_UNAVAILABLE', 'down') ]) {
        const { runs, run } = writer(() => err);
        await assert.rejects(runIsolatingFailures([ 1, 2, 3 ], run), (e: unknown) => e === err);
        assert.equal(runs.length, 1);
      }
    });

    it('once halves run apart, a shared failure fails the half that met it, not the half already written', async () => {
      let down = false;
      const run = async (batch: number[]) => {
        if (batch.includes(2)) throw coded('ER_DATA_TOO_LONG');
        if (down) throw coded('ECONNRESET');
        if (batch.includes(1)) down = true; // the database goes away after the first half is written
        return batch.map(n => n * 10);
      };
      const results = await runIsolatingFailures([ 1, 2, 3, 4 ], run);
      assert.equal(results[0], 10);
      assert.equal((results[1] as any).code, 'ER_DATA_TOO_LONG');
      assert.deepEqual([ (results[2] as any).code, (results[3] as any).code ], [ 'ECONNRESET', 'ECONNRESET' ]);
    });

    it('a shared failure of a first half fails the halves after it unrun, so nothing later is written before it', async () => {
      const runs: number[][] = [];
      let down = true;
      const run = async (batch: number[]) => {
        runs.push(batch);
        if (batch.includes(4)) throw coded('ER_DATA_TOO_LONG');
        if (down) {
          down = false; // the database is back at once: only the first half met the outage
          throw new ImError('STORE_UNAVAILABLE', 'down');
        }
        return batch.map(n => n * 10);
      };
      const results = await runIsolatingFailures([ 1, 2, 3, 4 ], run);
      assert.deepEqual(results.map(r => (r instanceof Error ? (r as any).code : r)), [ 'STORE_UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_UNAVAILABLE' ]);
      assert.deepEqual(runs, [ [ 1, 2, 3, 4 ], [ 1, 2 ] ], 'the second half never ran');
    });
  });

  describe('BatchQueue', () => {
    /** A queue whose runs are recorded and finish when `finish()` is called. */
    function recorded(options: { maxBatch: number; lingerMs: number }, answer = (n: number): number | Error => n * 10) {
      const runs: Array<{ items: number[]; at: number }> = [];
      let finish: () => void = () => undefined;
      const queue = new BatchQueue<number, number>(async items => {
        runs.push({ items, at: performance.now() });
        await new Promise<void>(resolve => { finish = resolve; });
        return items.map(answer);
      }, options);
      return { queue, runs, finish: () => finish() };
    }
    const tick = () => new Promise(resolve => setImmediate(resolve));

    it('runs one batch at a time, in order; what arrives meanwhile is the next batch, at most maxBatch', async () => {
      const { queue, runs, finish } = recorded({ maxBatch: 3, lingerMs: 0 });
      const first = queue.push(1);
      await tick();
      const rest = [ 2, 3, 4, 5 ].map(n => queue.push(n));
      await tick();
      assert.deepEqual(runs.map(r => r.items), [ [ 1 ] ]);
      finish();
      assert.equal(await first, 10);
      await tick();
      assert.deepEqual(runs.map(r => r.items), [ [ 1 ], [ 2, 3, 4 ] ]);
      finish();
      await tick();
      await tick();
      finish();
      assert.deepEqual(await Promise.all(rest), [ 20, 30, 40, 50 ]);
      assert.deepEqual(runs.map(r => r.items), [ [ 1 ], [ 2, 3, 4 ], [ 5 ] ]);
      await queue.drain();
    });

    it('a batch waiting in full when a run ends starts at once, ahead of the callbacks the event loop queued meanwhile', async () => {
      const { queue, runs, finish } = recorded({ maxBatch: 2, lingerMs: 60 });
      const all = [ 1, 2 ].map(n => queue.push(n));
      await tick();
      all.push(queue.push(3), queue.push(4));
      // What a busy worker has queued by the time the database answers: other sockets' reads.
      const order: string[] = [];
      setImmediate(() => order.push(`other I/O (runs: ${runs.length})`));
      finish();
      await tick();
      assert.deepEqual(order, [ 'other I/O (runs: 2)' ], 'the next run was under way before the queued callbacks ran');
      assert.deepEqual(runs.map(r => r.items), [ [ 1, 2 ], [ 3, 4 ] ]);
      finish();
      assert.deepEqual(await Promise.all(all), [ 10, 20, 30, 40 ]);
    });

    it('answers each item with its own result or Error; a run that throws rejects its whole batch', async () => {
      const { queue, finish } = recorded({ maxBatch: 10, lingerMs: 0 }, n => (n === 2 ? new Error('no 2') : n));
      const answers = [ 1, 2, 3 ].map(n => queue.push(n).then(v => v, (e: Error) => e.message));
      await tick();
      finish();
      assert.deepEqual(await Promise.all(answers), [ 1, 'no 2', 3 ]);
      const failing = new BatchQueue<number, number>(async () => { throw new Error('down'); }, { maxBatch: 10, lingerMs: 0 });
      await assert.rejects(Promise.all([ failing.push(1), failing.push(2) ]), /down/);
    });

    it('lingers only under load: a lone item, or as many as the last run took, go at once; fewer wait lingerMs for more', async () => {
      const { queue, runs, finish } = recorded({ maxBatch: 100, lingerMs: 60 });
      const started = performance.now();
      const lone = queue.push(1);
      await tick();
      assert.equal(runs.length, 1, 'the first item ran without waiting');
      assert.ok(runs[0].at - started < 30);
      finish();
      await lone;
      // Load: three in one tick, then fewer than three wait for more.
      const three = [ queue.push(2), queue.push(3), queue.push(4) ];
      await tick();
      finish();
      await Promise.all(three);
      const afterLoad = performance.now();
      const two = [ queue.push(5), queue.push(6) ];
      await tick();
      assert.equal(runs.length, 2, 'under load the next run waits');
      await new Promise(resolve => setTimeout(resolve, 90));
      assert.deepEqual(runs.map(r => r.items), [ [ 1 ], [ 2, 3, 4 ], [ 5, 6 ] ]);
      assert.ok(runs[2].at - afterLoad >= 50, `lingered ${runs[2].at - afterLoad} ms`);
      finish();
      await Promise.all(two);
      // As many waiting as the last run took (a closed loop of senders): the wait ends at once.
      const again = [ queue.push(7), queue.push(8) ];
      const queued = performance.now();
      await tick();
      assert.deepEqual(runs.map(r => r.items).at(-1), [ 7, 8 ]);
      assert.ok(runs[3].at - queued < 30, `waited ${runs[3].at - queued} ms`);
      finish();
      await Promise.all(again);
    });
  });
});
