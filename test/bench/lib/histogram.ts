/**
 * A latency histogram in milliseconds with logarithmic buckets (1 % wide, 1 µs to about 15 minutes), so
 * histograms from several processes merge exactly by adding their counts. Count, sum, min and max are exact;
 * a percentile is the middle of its bucket (within 0.5 %), never above the exact max.
 */
const BASE = 0.001; // ms: 1 µs
const GROWTH = Math.log(1.01);
const BUCKETS = 2100;

export interface HistogramData {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** [bucket index, count] pairs of the non-empty buckets. */
  buckets: Array<[number, number]>;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class Histogram {
  private counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const value = Math.max(0, ms);
    const index = value <= BASE ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(value / BASE) / GROWTH) + 1);
    this.counts[index] += 1;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  merge(other: Histogram | HistogramData): this {
    const data = other instanceof Histogram ? other.toJSON() : other;
    for (const [ index, count ] of data.buckets) this.counts[index] += count;
    this.count += data.count;
    this.sum += data.sum;
    if (data.count > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
    }
    return this;
  }

  static from(data: HistogramData | undefined): Histogram {
    const h = new Histogram();
    if (data) h.merge(data);
    return h;
  }

  /** The value at quantile q (0..1). */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        if (i === 0) return Math.min(BASE, this.max);
        const low = BASE * Math.exp((i - 1) * GROWTH);
        const mid = low * Math.sqrt(1.01);
        return Math.min(Math.max(mid, this.min), this.max);
      }
    }
    return this.max;
  }

  /** How many recorded values were above `ms` (to the bucket's precision). */
  countAbove(ms: number): number {
    if (ms <= BASE) return this.count - this.counts[0];
    const from = Math.min(BUCKETS, Math.floor(Math.log(ms / BASE) / GROWTH) + 2);
    let above = 0;
    for (let i = from; i < BUCKETS; i++) above += this.counts[i];
    return above;
  }

  summary(): LatencySummary {
    const round = (v: number) => Math.round(v * 100) / 100;
    return {
      count: this.count,
      mean: this.count ? round(this.sum / this.count) : 0,
      p50: round(this.percentile(0.5)),
      p95: round(this.percentile(0.95)),
      p99: round(this.percentile(0.99)),
      max: round(this.count ? this.max : 0),
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }

  toJSON(): HistogramData {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) buckets.push([ i, this.counts[i] ]);
    return { count: this.count, sum: this.sum, min: this.count ? this.min : 0, max: this.max, buckets };
  }
}
