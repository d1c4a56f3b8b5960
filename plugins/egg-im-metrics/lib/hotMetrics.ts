import type { Metric, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';

/**
 * Counters and histograms for the message path, observed without allocating: a number incremented, a bucket
 * found in a typed array (prom-client's own `observe`/`inc` build label objects and closures on every call: 10
 * times the cost, measured in scripts/observer-cost.ts). prom-client serves them: `get()` answers what its own
 * Counter and Histogram answer, so its registry prints them and its AggregatorRegistry merges them (it
 * registers such plain metric objects itself). Read at scrape time only.
 */
abstract class HotMetric {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';

  constructor(readonly name: string, readonly help: string, registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return { name: this.name, help: this.help, type: this.type as any, aggregator: this.aggregator, values: this.values(), collect: () => {} };
  }

  protected abstract values(): MetricValueWithName<string>[];

  abstract reset(): void;
}

/** One labelled series of a counter: the message path increments `value`. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  value: number;
}

export class HotCounter extends HotMetric {
  readonly type = 'counter';
  readonly #series: Series[] = [];

  /** A series, made once (at start, or the first time its labels occur: from a bounded set). */
  series(labels: Record<string, string>): Series {
    const series = { labels, value: 0 };
    this.#series.push(series);
    return series;
  }

  protected values(): MetricValueWithName<string>[] {
    return this.#series.map(({ labels, value }) => ({ labels: { ...labels }, value }));
  }

  reset(): void {
    for (const series of this.#series) series.value = 0;
  }
}

export class HotHistogram extends HotMetric {
  readonly type = 'histogram';
  readonly #bounds: Float64Array;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(name: string, help: string, bounds: readonly number[], registry: Registry) {
    super(name, help, registry);
    this.#bounds = Float64Array.from(bounds);
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]) bucket++;
    this.#counts[bucket]++;
    this.#sum += value;
    this.#count++;
  }

  protected values(): MetricValueWithName<string>[] {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const values: MetricValueWithName<string>[] = Array.from(this.#bounds, (le, i) => {
      cumulative += this.#counts[i];
      return { labels: { le }, value: cumulative, metricName: bucket };
    });
    values.push(
      { labels: { le: '+Inf' }, value: this.#count, metricName: bucket },
      { labels: {}, value: this.#sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.#count, metricName: `${this.name}_count` },
    );
    return values;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}
