import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { HotCounter, HotHistogram, type Series } from './hotMetrics';
import { noMessageObserver, noStoreObserver, noTimerObserver, type MessageObserver, type StoreObserver, type TimerObserver } from './observers';
import { timerMetrics } from './timerMetrics';
import type { ImMetricsConfig, MetricsLogger } from './types';

export type CacheMode = 'redis' | 'memory' | 'degraded';
const CACHE_MODES: readonly CacheMode[] = [ 'redis', 'memory', 'degraded' ];
/** Latency buckets, 1 ms to 10 s. */
const SECONDS_BUCKETS = [ 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 ];

/** Where the gauges are read, at scrape time (the other plugins' public APIs; each is optional). */
export interface MetricSources {
  /** This process's open sockets. */
  connections?(): number;
  cacheMode?(): CacheMode;
  /** Outbox entries in the database (left by every node). */
  outboxPending?(): Promise<number>;
}

/** Longest a scrape waits for the outbox count (the database may be down: the scrape still answers). */
const OUTBOX_READ_TIMEOUT_MS = 1000;
/** The outbox is counted at most this often, however often the metrics are scraped. */
const OUTBOX_READ_EVERY_MS = 1000;

/**
 * `app.imMetrics`: this process's Prometheus registry (prom-client) with egg-im's metrics and the default
 * process metrics, and the observers the router and the store report through. Off (`enabled: false`), the
 * observers record nothing and the registry stays empty.
 */
export class ImMetrics {
  /** The registry served at the metrics path; the host app may register its own metrics in it. */
  readonly registry = new Registry();
  readonly enabled: boolean;
  readonly messages: MessageObserver;
  readonly store: StoreObserver;
  /** What egg-im's timers (outbox and session sweepers, presence heartbeat, history and receipt flushes) report per run. */
  readonly timers: TimerObserver;
  #sources: MetricSources = {};

  constructor(config: Pick<ImMetricsConfig, 'enabled'>, private readonly logger: MetricsLogger) {
    this.enabled = config.enabled;
    if (!this.enabled) {
      this.messages = noMessageObserver;
      this.store = noStoreObserver;
      this.timers = noTimerObserver;
      return;
    }
    collectDefaultMetrics({ register: this.registry });
    this.messages = this.#messageMetrics();
    this.store = this.#storeMetrics();
    this.timers = timerMetrics(this.registry);
    this.#gauges();
  }

  /** Sets where the gauges are read (called once the other plugins have started). */
  watch(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  /** This process's metrics as prom-client's JSON: what the cluster merges. */
  local(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.registry.getMetricsAsJSON();
  }

  #messageMetrics(): MessageObserver {
    const { registry } = this;
    const messages = new HotCounter('egg_im_messages_total',
      'Sends answered, by result (accepted, deduplicated, refused with its error code)', registry);
    const deliveries = new HotCounter('egg_im_deliveries_total',
      'Deliveries to a recipient\'s devices on this node, by outcome (delivered, retried, failed)', registry);
    const ackSeconds = new HotHistogram('egg_im_send_ack_seconds',
      'From a send\'s arrival to its answer with the stored message (accepted or deduplicated)', SECONDS_BUCKETS, registry);
    const deliverySeconds = new HotHistogram('egg_im_delivery_seconds',
      'From a delivery\'s first push on this node to a device\'s acknowledgement', [ ...SECONDS_BUCKETS, 30, 60 ], registry);
    // Every series but the refusals exists from the start (rate() of a series that appears later misses its first increase).
    const accepted = messages.series({ result: 'accepted' });
    const deduplicated = messages.series({ result: 'deduplicated' });
    const refusedByCode = new Map<string, Series>();
    const delivered = deliveries.series({ outcome: 'delivered' });
    const retried = deliveries.series({ outcome: 'retried' });
    const failed = deliveries.series({ outcome: 'failed' });
    return {
      answered(result, seconds) {
        (result === 'accepted' ? accepted : deduplicated).value++;
        ackSeconds.observe(seconds);
      },
      refused(code, count = 1) {
        let series = refusedByCode.get(code);
        // error codes are a fixed set (the protocol's)
        if (!series) refusedByCode.set(code, series = messages.series({ result: 'refused', code }));
        series.value += count;
      },
      delivered(seconds) {
        delivered.value++;
        deliverySeconds.observe(seconds);
      },
      retried: () => void retried.value++,
      failed: () => void failed.value++,
    };
  }

  #storeMetrics(): StoreObserver {
    const { registry } = this;
    const size = new HotHistogram('egg_im_store_batch_size', 'Messages per committed write batch (one transaction)',
      [ 1, 2, 5, 10, 20, 50, 100, 200, 500 ], registry);
    const seconds = new HotHistogram('egg_im_store_commit_seconds', 'Time to write and commit one batch of messages, retries included',
      [ 0.0005, ...SECONDS_BUCKETS ], registry);
    return {
      batchCommitted(messages, took) {
        size.observe(messages);
        seconds.observe(took);
      },
    };
  }

  /** Gauges read from the sources at scrape time (merged across workers: summed, or the largest where every worker sees the same). */
  #gauges(): void {
    const registers = [ this.registry ];
    const sources = () => this.#sources;
    const { logger } = this;
    let outboxReadAt = -Infinity;
    new Gauge({
      name: 'egg_im_connections', help: 'Open sockets', registers,
      collect() {
        const read = sources().connections;
        if (read) this.set(read());
      },
    });
    new Gauge({
      name: 'egg_im_cache_mode', help: 'The cache\'s mode: 1 for the current one (redis, memory, or degraded: Redis configured but unusable)',
      labelNames: [ 'mode' ] as const, aggregator: 'max', registers,
      collect() {
        const read = sources().cacheMode;
        if (!read) return;
        const current = read();
        for (const mode of CACHE_MODES) this.set({ mode }, mode === current ? 1 : 0);
      },
    });
    new Gauge({
      name: 'egg_im_outbox_pending', help: 'Committed messages whose routing to every node is not confirmed yet (outbox entries, all nodes)',
      aggregator: 'max', registers,
      async collect() {
        const read = sources().outboxPending;
        if (!read || performance.now() - outboxReadAt < OUTBOX_READ_EVERY_MS) return;
        outboxReadAt = performance.now();
        try {
          this.set(await withTimeout(read(), OUTBOX_READ_TIMEOUT_MS));
        } catch (err) {
          // The last value stays; the store's own health is on /readyz.
          logger.warn('[egg-im-metrics] egg_im_outbox_pending not read: %s', (err as Error).message);
        }
      },
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([ promise, timeout ]).finally(() => clearTimeout(timer));
}
