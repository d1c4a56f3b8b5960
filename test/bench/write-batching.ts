/**
 * Message writes with and without batching, on MariaDB:
 *   npx ts-node --transpile-only test/bench/write-batching.ts [--n 5000] [--conversations 50] [--rounds 3]
 *
 * Appends N messages through egg-im-store's MessageWriter (dedupe → sequence → persist, with the outbox entry
 * and the sender's cursor, in one transaction per batch), once with `write.maxBatch: 1` (one transaction per
 * message) and once with the default batching, in two load shapes:
 * - burst: all N appends submitted at once (a backlog, as after a spike);
 * - closed loop: 64 senders, each sending its next message when the previous one is acknowledged (steady load).
 * Each run uses a fresh database (created and dropped here), so the runs do not share a warm table. Prints msgs/s.
 */
import { parseArgs } from 'node:util';
import { createImStore, defaultClientConfig, type AppendItem, type ImStore } from 'egg-im-store';
import { createTestDatabase, dropTestDatabase } from 'egg-im-testkit';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '5000' },
    conversations: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
  },
});
const N = Number(values.n);
const CONVERSATIONS = Number(values.conversations);
const ROUNDS = Number(values.rounds);
const SENDERS = 64;

const quiet = { info: () => undefined, warn: (...args: unknown[]) => console.warn(...args), error: (...args: unknown[]) => console.error(...args), debug: () => undefined };

async function withStore<T>(write: { maxBatch: number }, work: (store: ImStore) => Promise<T>): Promise<T> {
  const database = await createTestDatabase('bench');
  const defaults = defaultClientConfig();
  const store = await createImStore({ ...defaults, url: database.url, write: { ...defaults.write, ...write } }, { baseDir: process.cwd(), coreLogger: quiet });
  try {
    return await work(store);
  } finally {
    await store.close();
    await dropTestDatabase(database.name);
  }
}

/** Groups of 10 members (so each message also moves its sender's read cursor, as in production). */
async function seed(store: ImStore): Promise<Array<{ conversationId: string; groupId: string; members: string[] }>> {
  const groups = [];
  for (let g = 0; g < CONVERSATIONS; g++) {
    const members = Array.from({ length: 10 }, (_, i) => `u_bench_${g}_${i}`);
    const { groupId, conversationId } = await store.conversations.createGroup(`bench ${g}`, members[0], members.slice(1));
    groups.push({ conversationId, groupId, members });
  }
  return groups;
}

function item(groups: Awaited<ReturnType<typeof seed>>, i: number, tag: string): AppendItem {
  const group = groups[i % groups.length];
  return {
    conversationId: group.conversationId, kind: 'group', groupId: group.groupId, senderId: group.members[i % group.members.length],
    clientMsgId: `${tag}-${i}`, type: 'text', contentJson: JSON.stringify({ text: `benchmark message ${i}`, n: i }), metaJson: '{}',
  };
}

async function burst(store: ImStore, groups: Awaited<ReturnType<typeof seed>>): Promise<number> {
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: N }, (_, i) => store.writer.append(item(groups, i, 'burst'))));
  return N / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function closedLoop(store: ImStore, groups: Awaited<ReturnType<typeof seed>>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: SENDERS }, async () => {
    for (let i = next++; i < N; i = next++) await store.writer.append(item(groups, i, 'loop'));
  }));
  return N / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function check(store: ImStore): Promise<void> {
  const [ row ] = await store.dataSource.query('SELECT COUNT(*) AS n, COUNT(DISTINCT conversation_id, seq) AS d FROM im_messages');
  if (Number(row.n) !== 2 * N || Number(row.d) !== 2 * N) throw new Error(`[bench] expected ${2 * N} messages with unique seqs, found ${row.n} (${row.d} distinct)`);
}

async function main(): Promise<void> {
  const defaults = defaultClientConfig().write;
  const configs = [
    { label: 'maxBatch 1 (a transaction per message)', write: { maxBatch: 1 } },
    { label: `default (maxBatch ${defaults.maxBatch}, ${defaults.shards} shards, linger ${defaults.lingerMs} ms)`, write: {} as { maxBatch: number } },
  ];
  console.log(`write batching: ${N} messages over ${CONVERSATIONS} group conversations, ${ROUNDS} rounds (median shown)`);
  for (const { label, write } of configs) {
    const bursts: number[] = [];
    const loops: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await withStore(write, async store => {
        const groups = await seed(store);
        bursts.push(await burst(store, groups));
        loops.push(await closedLoop(store, groups));
        await check(store);
      });
    }
    const median = (xs: number[]) => [ ...xs ].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const fmt = (xs: number[]) => `${Math.round(median(xs))} msgs/s (runs: ${xs.map(x => Math.round(x)).join(', ')})`;
    console.log(`${label}\n  burst of ${N}:               ${fmt(bursts)}\n  closed loop, ${SENDERS} senders:   ${fmt(loops)}`);
  }
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
