import { monitorEventLoopDelay } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import type { MetricValueWithName, Registry } from 'prom-client';
import { createClient } from 'redis';
import { GcPauses, type GcStats } from './GcPauses';

/** What the server did in one wall-clock second (`t`, epoch seconds). */
export interface ServerSecond {
  t: number;
  /** How long after the second's end it was sampled (a loaded loop samples late: the readings then run into the next second). */
  sampledLateMs: number;
  loopMaxMs: number;
  loopP99Ms: number;
  gc: GcStats;
  /** Message write batches committed: how many, their mean size, mean commit time, and the bucket bound of the slowest. */
  batches: number;
  batchMean: number;
  commitMeanMs: number;
  commitMaxMs: number;
  /** egg-im's timers that finished a run in this second: runs and their total time. */
  timers: Record<string, { runs: number; ms: number }>;
  /** The cache was degraded (Redis lost): its probe timer runs then, and only then. */
  cacheDegraded: boolean;
  /** Round trips of a PING to Redis and a SELECT 1 to MySQL sent at the start of the second, on connections of their own (at least, if unanswered). */
  redisRttMs: number;
  mysqlRttMs: number;
}

/** prom-client's cumulative readings of the metrics a second is made of, to subtract the previous second's. */
type Totals = Map<string, number>;

const KEEP_SECONDS = 1800;
const round = (v: number) => Math.round(v * 100) / 100;

/** A round trip measured once per second; one in flight at a time (a slow answer shows as its time so far). */
class Pinger {
  private startedAt = 0;
  private tookMs?: number;
  private pending = false;

  constructor(private readonly send: () => Promise<unknown>) {}

  /** The round trip of the last second's probe, then a new probe. */
  next(): number {
    const now = performance.now();
    const result = this.pending ? now - this.startedAt : this.tookMs ?? 0;
    if (!this.pending) {
      this.pending = true;
      this.startedAt = now;
      this.send().then(() => { this.tookMs = performance.now() - this.startedAt; }, () => { this.tookMs = performance.now() - this.startedAt; })
        .finally(() => { this.pending = false; });
    }
    return round(result);
  }
}

/**
 * The bench app's per-second timeline: event-loop delay, GC pauses by kind, write batches and their commit time
 * (egg-im-metrics' histograms), egg-im's timer runs (egg_im_timer_runs_total) and the Redis and MySQL round trips.
 * Sampled on each wall-clock second, so the benchmark lines it up with the load generators' seconds.
 */
export class Timeline {
  private readonly seconds: ServerSecond[] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private readonly gc = new GcPauses();
  private previous: Totals = new Map();
  private timer?: NodeJS.Timeout;
  private redis = createClient({ url: process.env.IM_REDIS_URL });
  private mysql?: mysql.Connection;
  private readonly redisPing = new Pinger(() => this.redis.ping());
  private readonly mysqlPing = new Pinger(() => this.mysql!.query('SELECT 1'));

  constructor(private readonly registry: Registry, private readonly cacheDegraded: () => boolean) {}

  async start(): Promise<void> {
    this.redis.on('error', () => undefined); // a lost connection shows as a long round trip
    await this.redis.connect();
    this.mysql = await mysql.createConnection({ uri: process.env.IM_DATABASE_URL });
    this.loop.enable();
    this.gc.start();
    this.previous = await this.totals();
    this.schedule();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.loop.disable();
    this.gc.stop();
    await Promise.allSettled([ this.redis.quit(), this.mysql?.end() ]);
  }

  /** The seconds from `from` to `to` (epoch seconds, inclusive). */
  between(from: number, to: number): ServerSecond[] {
    return this.seconds.filter(s => s.t >= from && s.t <= to);
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.sample(), 1000 - (Date.now() % 1000) + 2);
    this.timer.unref();
  }

  private async sample(): Promise<void> {
    const now = Date.now();
    const t = Math.floor(now / 1000) - 1;
    const sampledLateMs = now % 1000;
    const loop = { loopMaxMs: round(this.loop.max / 1e6), loopP99Ms: round(this.loop.percentile(99) / 1e6) };
    this.loop.reset();
    const gc = this.gc.take();
    const rtt = { redisRttMs: this.redisPing.next(), mysqlRttMs: this.mysqlPing.next() };
    this.schedule();
    const totals = await this.totals();
    const delta = (key: string) => (totals.get(key) ?? 0) - (this.previous.get(key) ?? 0);
    const batches = delta('egg_im_store_batch_size_count');
    const timers: ServerSecond['timers'] = {};
    for (const key of totals.keys()) {
      const timer = /^egg_im_timer_runs_total\{(.+)\}$/.exec(key)?.[1];
      const runs = timer ? delta(key) : 0;
      if (timer && runs > 0) timers[timer] = { runs, ms: round(1000 * delta(`egg_im_timer_seconds_sum{${timer}}`)) };
    }
    const commitBounds = [ ...totals.keys() ].map(key => /^egg_im_store_commit_seconds_bucket\{(.+)\}$/.exec(key)?.[1]).filter(Boolean) as string[];
    // The slowest commit is within the smallest bucket holding every commit of the second.
    const within = commitBounds.filter(le => le !== '+Inf').sort((a, b) => Number(a) - Number(b))
      .find(le => delta(`egg_im_store_commit_seconds_bucket{${le}}`) >= batches);
    this.seconds.push({
      t, sampledLateMs, ...loop, gc,
      batches, batchMean: batches ? round(delta('egg_im_store_batch_size_sum') / batches) : 0,
      commitMeanMs: batches ? round((1000 * delta('egg_im_store_commit_seconds_sum')) / batches) : 0,
      commitMaxMs: batches && within !== undefined ? round(1000 * Number(within)) : 0,
      timers, cacheDegraded: this.cacheDegraded(), ...rtt,
    });
    this.previous = totals;
    if (this.seconds.length > KEEP_SECONDS) this.seconds.shift();
  }

  /** Cumulative values of the metrics a second is made of, by `name{label}` (one label at most is read). */
  private async totals(): Promise<Totals> {
    const totals: Totals = new Map();
    for (const name of [ 'egg_im_store_batch_size', 'egg_im_store_commit_seconds', 'egg_im_timer_runs_total', 'egg_im_timer_seconds' ]) {
      const metric = await this.registry.getSingleMetric(name)?.get();
      for (const { metricName = name, labels, value } of (metric?.values ?? []) as Array<MetricValueWithName<string>>) {
        if (labels.timer !== undefined && labels.le !== undefined) continue; // the timers' buckets are not read
        const label = labels.le ?? labels.timer;
        totals.set(label === undefined ? metricName : `${metricName}{${label}}`, value);
      }
    }
    return totals;
  }
}
