import assert from 'node:assert/strict';
import type { MockApplication } from 'egg-mock';
import type { ImStore } from '../lib/ImStore';
import type { AppendItem } from '../lib/repositories/MessageWriter';
import { drivers, type TestDatabase } from './drivers';
import { readAllLogs } from './helpers';

/** Appears in message bodies, client message ids, a conversation id and SQL parameters: never in a log. */
const MARKER = 'Qz7MarkerOfSecretText';
const AT = '2026-01-01 00:00:00.000';

/** A log that holds every pattern, or as it is after the timeout (egg-logger finishes writing after close()). */
async function logsShowing(patterns: RegExp[], timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readAllLogs('redaction');
    if (patterns.every(p => p.test(text)) || Date.now() >= deadline) return text;
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

for (const driver of drivers) {
  describe(`egg-im-store: no SQL value reaches a log, on ${driver.name}`, () => {
    let db: TestDatabase | undefined;
    let app: MockApplication | undefined;

    after(async () => {
      await app?.close();
      await db?.cleanup();
    });

    it('errors thrown to callers and the store\'s own log lines carry codes and statement shapes, never values', async () => {
      db = await driver.setup('redaction');
      app = db.boot('redaction');
      await app.ready();
      const store: ImStore = app.imStore;
      const { conversationId } = await store.conversations.createGroup('redaction', 'ra', [ 'rb' ]);
      const secretConversation = `g:${MARKER}`;
      // A stray row holds seq 1 of the secret conversation: its send fails with a duplicate key that quotes the key's values.
      await store.dataSource.query(
        'INSERT INTO im_messages (id, conversation_id, seq, sender_id, client_msg_id, type, content, meta, created_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)',
        [ 'm_stray_red', secretConversation, 'zz', 'stray', 'text', '{}', '{}', AT ]);
      const send = (conversation: string, clientMsgId: string, extra: Partial<AppendItem> = {}): AppendItem => ({
        conversationId: conversation, kind: 'group', groupId: conversation.slice(2), senderId: 'ra', clientMsgId: `${MARKER}-${clientMsgId}`,
        type: 'text', contentJson: JSON.stringify({ text: `${MARKER} says ${clientMsgId}` }), metaJson: JSON.stringify({ note: MARKER }), ...extra,
      });
      const items = [ send(conversationId, 'h1'), send(secretConversation, 'dup'), send(conversationId, 'h2') ];
      // MariaDB in strict mode refuses a type longer than its column: the first try of the batch fails on it.
      if (driver.name === 'MariaDB') items.splice(1, 0, send(conversationId, 'long', { type: MARKER.repeat(4) }));
      const outcomes = await Promise.all(items.map(item => store.writer.append(item).then(() => undefined, (err: Error) => err)));
      const failures = outcomes.filter((e): e is Error => e instanceof Error);
      assert.equal(failures.length, driver.name === 'MariaDB' ? 2 : 1);

      // Refused by the database with values in the statement, its parameters and the server's message.
      const refused = await store.withRetry(manager => manager.query(
        `INSERT INTO im_users (id, username, password_hash, created_at) VALUES ('${MARKER}-literal', ?, NULL, ?)`, [ `${MARKER}`.repeat(5), AT ]))
        .then(() => undefined, (err: Error) => err);
      if (driver.name === 'MariaDB') failures.push(refused!);
      else assert.equal(refused, undefined, 'SQLite does not check lengths');
      await store.users.ensure(`${MARKER}-user`, `${MARKER}-name`);
      const duplicate = await store.withRetry(manager => manager.query(
        'INSERT INTO im_users (id, username, password_hash, created_at) VALUES (?, ?, NULL, ?)', [ `${MARKER}-user`, `${MARKER}-other`, AT ]))
        .then(() => undefined, (err: Error) => err);
      failures.push(duplicate!);

      for (const err of failures) {
        assert.ok(!JSON.stringify({ ...err, message: err.message, stack: err.stack }).includes(MARKER), `${err.stack}`);
        assert.match(err.message, /^\[egg-im-store\] /);
        // As callers log them: the error with its cause, every property printed.
        app.coreLogger.error(new Error('[test] a store call failed', { cause: err }));
      }
      const codes = failures.map(e => (e as Error & { code?: string }).code);
      assert.ok(codes.every(code => /^(ER_DUP_ENTRY|ER_DATA_TOO_LONG|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE))$/.test(String(code))), codes.join());
      const packet = failures.find(e => /^START TRANSACTION; INSERT INTO im_conversations/.test(String((e as Error & { sql?: string }).sql)));
      if (driver.name === 'MariaDB') assert.ok(packet, 'the failed packet is described by its shape');
      await app.close();
      app = undefined;

      const log = await logsShowing([ /\[test\] a store call failed/, /ImStoreQueryError/, /slow query|query: /, /closed/ ]);
      assert.match(log, /cause:\s+nodejs\.ImStoreQueryError: \[egg-im-store\] (ER_DUP_ENTRY|SQLITE_CONSTRAINT)/);
      assert.match(log, /\[egg-im-store\] query: /, 'statements are logged (their shape)');
      const at = log.indexOf(MARKER);
      assert.equal(at, -1, `the marker is in a log: …${log.slice(Math.max(0, at - 300), at + 100)}…`);
    });
  });
}
