/**
 * The per-second timeline of a traffic window: the load generators' latencies by send second lined up with the
 * server's second (GET /bench/timeline), the stall seconds, and the facts of what happened in them.
 */
import type { ServerSecond } from '../app/lib/Timeline';
import { Histogram, type HistogramData } from './histogram';

export interface SecondRow {
  /** Seconds since sending started. */
  t: number;
  /** Deliveries of the messages sent in this second, the slowest and the p99 of them. */
  deliveries: number;
  slowestMs: number;
  p99Ms: number;
  server?: ServerSecond;
  /** The load generators' own stalls in this second (the worst of them): they delay the receipts they time. */
  loadGen?: { loopMaxMs: number; gcMs: number; pings: number };
}

export interface PerSecond {
  /** Epoch second sending started in. */
  from: number;
  rows: SecondRow[];
}

/** Seconds from..to (epoch, inclusive): the load generators' histograms by send second merged, with the server's second. */
export function perSecond(from: number, to: number, bySendSecond: Array<Array<[number, HistogramData]>>, server: ServerSecond[] = [],
  ownStalls: Array<Array<[number, number, number, number]>> = []): PerSecond {
  const merged = new Map<number, Histogram>();
  for (const list of bySendSecond) {
    for (const [ second, data ] of list) {
      const h = merged.get(second);
      if (h) h.merge(data);
      else merged.set(second, Histogram.from(data));
    }
  }
  const bySecond = new Map(server.map(s => [ s.t, s ]));
  const loadGens = new Map<number, NonNullable<SecondRow['loadGen']>>();
  for (const [ second, loopMaxMs, gcMs, pings ] of ownStalls.flat()) {
    const worst = loadGens.get(second) ?? { loopMaxMs: 0, gcMs: 0, pings: 0 };
    loadGens.set(second, { loopMaxMs: Math.max(worst.loopMaxMs, loopMaxMs), gcMs: Math.max(worst.gcMs, gcMs), pings: worst.pings + pings });
  }
  const rows: SecondRow[] = [];
  for (let second = from; second <= to; second++) {
    const h = merged.get(second);
    rows.push({
      t: second - from, deliveries: h?.count ?? 0, slowestMs: round(h?.max ?? 0), p99Ms: round(h?.percentile(0.99) ?? 0), server: bySecond.get(second),
      loadGen: loadGens.get(second),
    });
  }
  return { from, rows };
}

const round = (v: number) => Math.round(v * 10) / 10;

function median(values: number[]): number {
  const sorted = [ ...values ].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : 0;
}

/** The median second's slowest delivery (seconds that delivered something). */
export function typicalSlowest(rows: SecondRow[]): number {
  return median(rows.filter(r => r.deliveries > 0).map(r => r.slowestMs));
}

/** Stall seconds: the slowest delivery of the messages sent in them is over 3× the median second's. */
export function stallSeconds(rows: SecondRow[]): number[] {
  const typical = typicalSlowest(rows);
  return typical > 0 ? rows.filter(r => r.deliveries > 0 && r.slowestMs > 3 * typical).map(r => r.t) : [];
}

export const TIMERS = [ 'outboxSweep', 'sessionSweep', 'presenceHeartbeat', 'historyFlush', 'receiptFlush', 'reorderWait' ] as const;

export const gcTotalMs = (s?: ServerSecond) => (s ? s.gc.minor.totalMs + s.gc.major.totalMs : 0);

/** What else happened in a second, as measured. */
function secondFacts(row: SecondRow): string {
  const s = row.server;
  const facts = [ `slowest ${row.slowestMs} ms, p99 ${row.p99Ms} ms over ${row.deliveries} deliveries` ];
  if (!s) return `${facts[0]}; no server reading`;
  facts.push(`server event-loop delay max ${s.loopMaxMs} ms`);
  const gc = (kind: 'minor' | 'major') => (s.gc[kind].count ? `${s.gc[kind].count} ${kind} (${s.gc[kind].totalMs} ms, longest ${s.gc[kind].maxMs} ms)` : '');
  const gcs = [ gc('minor'), gc('major') ].filter(Boolean);
  facts.push(gcs.length ? `GC ${gcs.join(', ')}` : 'no GC');
  const timers = Object.entries(s.timers).map(([ name, t ]) => `${name} ×${t.runs} (${t.ms} ms)`);
  facts.push(timers.length ? `timers ${timers.join(', ')}` : 'no timer ran');
  if (s.cacheDegraded) facts.push('cache degraded (probe running)');
  facts.push(`${s.batches} write batches (mean ${s.batchMean} messages, commit mean ${s.commitMeanMs} ms, slowest ≤ ${s.commitMaxMs} ms)`);
  facts.push(`Redis PING ${s.redisRttMs} ms, MySQL SELECT 1 ${s.mysqlRttMs} ms`);
  if (row.loadGen) facts.push(`load generators: loop delay max ${row.loadGen.loopMaxMs} ms, GC ${row.loadGen.gcMs} ms, ${row.loadGen.pings} engine.io pings received`);
  return facts.join('; ');
}

/** How often a condition held in the stall seconds and in the others: "5 of 6 stall seconds, 20 of 54 others". */
function share(rows: SecondRow[], stalls: Set<number>, holds: (r: SecondRow) => boolean): string {
  const measured = rows.filter(r => r.server && r.deliveries > 0);
  const inStalls = measured.filter(r => stalls.has(r.t));
  const others = measured.filter(r => !stalls.has(r.t));
  return `${inStalls.filter(holds).length} of ${inStalls.length} stall seconds, ${others.filter(holds).length} of ${others.length} others`;
}

/** "What the timeline shows": the stall seconds and what else happened in them; measured facts only. */
export function describeTimeline(label: string, rows: SecondRow[]): string[] {
  const stalls = stallSeconds(rows);
  const typical = typicalSlowest(rows);
  if (!rows.some(r => r.deliveries > 0)) return [ `${label}: nothing delivered.` ];
  if (stalls.length === 0) return [ `${label}: no stall second (none whose slowest delivery is over 3× the median second's ${typical} ms).` ];
  const set = new Set(stalls);
  const lines = [ `${label}: ${stalls.length} stall second(s) of ${rows.length} (slowest delivery over 3× the median second's ${typical} ms):`, '' ];
  for (const t of stalls) lines.push(`- second ${t}: ${secondFacts(rows[t])}`);
  const loopTypical = median(rows.filter(r => r.server).map(r => r.server!.loopMaxMs));
  lines.push('', 'In the stall seconds and in the others:', '');
  lines.push(`- server event-loop delay max over 3× its median second's (${loopTypical} ms): ${share(rows, set, r => r.server!.loopMaxMs > 3 * loopTypical)}`);
  lines.push(`- a major GC: ${share(rows, set, r => r.server!.gc.major.count > 0)}`);
  // The histogram bucket (egg_im_store_commit_seconds) that holds the second's slowest write-batch commit.
  const commitTypical = median(rows.filter(r => r.server?.batches).map(r => r.server!.commitMaxMs));
  lines.push(`- a write batch's slowest commit over 3× its median second's (≤ ${commitTypical} ms): ${share(rows, set, r => r.server!.commitMaxMs > 3 * commitTypical)}`);
  const ownTypical = median(rows.filter(r => r.loadGen).map(r => r.loadGen!.loopMaxMs));
  if (rows.some(r => r.loadGen)) {
    lines.push(`- a load generator's loop delay over 3× its median second's (${ownTypical} ms): ${share(rows, set, r => (r.loadGen?.loopMaxMs ?? 0) > 3 * ownTypical)}`);
    const pings = median(rows.filter(r => r.loadGen).map(r => r.loadGen!.pings));
    lines.push(`- engine.io pings over 3× the median second's (${pings}): ${share(rows, set, r => (r.loadGen?.pings ?? 0) > 3 * Math.max(1, pings))}`);
  }
  for (const timer of TIMERS) {
    if (rows.some(r => r.server?.timers[timer])) lines.push(`- ${timer} ran: ${share(rows, set, r => Boolean(r.server!.timers[timer]))}`);
  }
  for (const [ key, name ] of [ [ 'redisRttMs', 'Redis PING' ], [ 'mysqlRttMs', 'MySQL SELECT 1' ] ] as const) {
    const typicalRtt = median(rows.filter(r => r.server).map(r => r.server![key]));
    lines.push(`- ${name} over 3× its median (${typicalRtt} ms): ${share(rows, set, r => r.server![key] > 3 * typicalRtt)}`);
  }
  return lines;
}
