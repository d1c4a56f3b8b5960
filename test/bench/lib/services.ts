import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { createClient } from 'redis';
import { directConversationId } from 'egg-im-store';

export { directConversationId };

/** MariaDB/MySQL and Redis of the benchmark: IM_BENCH_MYSQL_URL / IM_BENCH_REDIS_URL, else the test services. */
export const MYSQL_URL = process.env.IM_BENCH_MYSQL_URL || process.env.IM_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.IM_BENCH_REDIS_URL || process.env.IM_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

export function uniqueName(label: string): string {
  return `egg_im_bench_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

function serverUrl(database = ''): string {
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function createDatabase(name: string): Promise<string> {
  const conn = await mysql.createConnection({ uri: serverUrl() });
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  return serverUrl(name);
}

export async function dropDatabase(name: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: serverUrl() });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}

export async function mysqlInfo(): Promise<{ version: string; settings: Record<string, string> }> {
  const conn = await mysql.createConnection({ uri: serverUrl() });
  try {
    const [ [ row ] ] = await conn.query('SELECT VERSION() AS version') as any;
    const [ rows ] = await conn.query("SHOW VARIABLES WHERE Variable_name IN ('innodb_buffer_pool_size', 'innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', 'max_connections')") as any;
    return { version: row.version, settings: Object.fromEntries(rows.map((r: any) => [ r.Variable_name, r.Value ])) };
  } finally {
    await conn.end();
  }
}

export async function redisInfo(): Promise<{ version: string }> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const info = await client.info('server');
    return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } finally {
    await client.close();
  }
}

/** Deletes every key under the run's prefix (the run owns them all). */
export async function dropRedisPrefix(prefix: string): Promise<number> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  let removed = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      const batch = ([] as string[]).concat(keys as any);
      if (batch.length > 0) removed += await client.unlink(batch);
    }
  } finally {
    await client.close();
  }
  return removed;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function sqlTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

export interface SeedResult {
  conversations: number;
  messages: number;
  seconds: number;
  rowsPerSecond: number;
}

/**
 * History for the history scenario, written straight into MySQL with multi-row INSERTs that match egg-im-store's
 * schema (migrations/*CreateMessaging.ts): `conversations` direct conversations of `perConversation` messages each,
 * their im_conversations rows (last_seq) and both members' rows, with every message delivered and read (so a
 * connecting client is pushed nothing).
 */
export async function seedHistory(databaseUrl: string, pairs: Array<[string, string]>, perConversation: number,
  onProgress: (rows: number, total: number) => void): Promise<SeedResult> {
  const started = Date.now();
  const base = Date.UTC(2025, 0, 1);
  const now = sqlTime(started);
  const total = pairs.length * perConversation;
  const parallel = 4;
  const pool = mysql.createPool({ uri: databaseUrl, connectionLimit: parallel });
  let written = 0;
  try {
    // Conversations and members first (small), then the messages in primary-key order per connection.
    for (let i = 0; i < pairs.length; i += 1000) {
      const slice = pairs.slice(i, i + 1000);
      await pool.query('INSERT INTO im_conversations (id, type, group_id, last_seq, created_at, updated_at) VALUES ?',
        [ slice.map(([ a, b ]) => [ directConversationId(a, b), 'direct', null, perConversation, now, now ]) ]);
      await pool.query('INSERT INTO im_members (conversation_id, user_id, since_seq, read_seq, delivered_seq, joined_at) VALUES ?',
        [ slice.flatMap(([ a, b ]) => [ a, b ].map(u => [ directConversationId(a, b), u, 0, perConversation, perConversation, now ])) ]);
    }
    const rowsPerInsert = 1000;
    const chunk = Math.ceil(pairs.length / parallel);
    await Promise.all(Array.from({ length: parallel }, async (_, worker) => {
      let rows: unknown[][] = [];
      const flush = async () => {
        if (rows.length === 0) return;
        await pool.query('INSERT INTO im_messages (conversation_id, seq, id, sender_id, client_msg_id, type, content, meta, created_at) VALUES ?', [ rows ]);
        written += rows.length;
        onProgress(written, total);
        rows = [];
      };
      for (let c = worker * chunk; c < Math.min(pairs.length, (worker + 1) * chunk); c++) {
        const [ a, b ] = pairs[c];
        const conversationId = directConversationId(a, b);
        for (let seq = 1; seq <= perConversation; seq++) {
          const at = base + (c * perConversation + seq) * 1000;
          rows.push([
            conversationId, seq, `mh${c.toString(36)}x${seq.toString(36)}`, seq % 2 ? a : b, `seed-${c}-${seq}`, 'text',
            `{"text":"seeded message ${seq} of conversation ${c}: the quick brown fox jumps over the lazy dog"}`, '{}', sqlTime(at),
          ]);
          if (rows.length >= rowsPerInsert) await flush();
        }
      }
      await flush();
    }));
  } finally {
    await pool.end();
  }
  const seconds = (Date.now() - started) / 1000;
  return { conversations: pairs.length, messages: total, seconds, rowsPerSecond: Math.round(total / seconds) };
}

const MYSQL_COUNTERS = [
  'Questions', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_commit', 'Com_rollback',
  'Innodb_row_lock_waits', 'Innodb_row_lock_time', 'Innodb_deadlocks', 'Innodb_os_log_fsyncs', 'Innodb_data_fsyncs',
];

/** Server-wide counters of MariaDB and Redis, read before and after a window to count statements and commands per message. */
export class ServiceCounters {
  private constructor(private readonly mysqlConn: mysql.Connection, private readonly redis: ReturnType<typeof createClient>) {}

  static async open(): Promise<ServiceCounters> {
    const conn = await mysql.createConnection({ uri: serverUrl() });
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => undefined);
    await redis.connect();
    return new ServiceCounters(conn, redis);
  }

  async read(): Promise<Record<string, number>> {
    const [ rows ] = await this.mysqlConn.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${MYSQL_COUNTERS.map(() => '?').join(', ')})`, MYSQL_COUNTERS) as any;
    const out: Record<string, number> = {};
    for (const r of rows) out[`mysql.${r.Variable_name}`] = Number(r.Value);
    const info = await this.redis.info('stats');
    out['redis.commands'] = Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
    return out;
  }

  static diff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
    return Object.fromEntries(Object.keys(after).map(k => [ k, after[k] - (before[k] ?? 0) ]));
  }

  async close(): Promise<void> {
    await this.mysqlConn.end().catch(() => undefined);
    await this.redis.close().catch(() => undefined);
  }
}

/** How many of these (sender, clientMsgId) sends are stored in egg-im's im_messages. */
export async function countStored(databaseUrl: string, sends: Array<[string, string]>): Promise<number> {
  if (sends.length === 0) return 0;
  const conn = await mysql.createConnection({ uri: databaseUrl });
  let stored = 0;
  try {
    for (let i = 0; i < sends.length; i += 500) {
      const chunk = sends.slice(i, i + 500);
      const [ rows ] = await conn.query(`SELECT COUNT(*) AS n FROM im_messages WHERE (sender_id, client_msg_id) IN (${chunk.map(() => '(?, ?)').join(', ')})`,
        chunk.flat()) as any;
      stored += Number(rows[0].n);
    }
  } finally {
    await conn.end();
  }
  return stored;
}
