import { PerformanceObserver, constants } from 'node:perf_hooks';

export interface GcStat { count: number; totalMs: number; maxMs: number }
export interface GcStats { minor: GcStat; major: GcStat }

const empty = (): GcStats => ({ minor: { count: 0, totalMs: 0, maxMs: 0 }, major: { count: 0, totalMs: 0, maxMs: 0 } });
const round = (v: number) => Math.round(v * 10) / 10;

/** Garbage-collection pauses since the last `take()`: young-generation (scavenge) and the rest (mark-compact…). */
export class GcPauses {
  private stats = empty();
  private readonly observer = new PerformanceObserver(list => {
    for (const entry of list.getEntries()) {
      const kind = ((entry as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : 'major';
      const stat = this.stats[kind];
      stat.count++;
      stat.totalMs += entry.duration;
      stat.maxMs = Math.max(stat.maxMs, entry.duration);
    }
  });

  start(): void {
    this.observer.observe({ entryTypes: [ 'gc' ] });
  }

  stop(): void {
    this.observer.disconnect();
  }

  /** The pauses so far (rounded to 0.1 ms), and a new count from now when `reset`. */
  take(reset = true): GcStats {
    const { minor, major } = this.stats;
    if (reset) this.stats = empty();
    const one = (s: GcStat) => ({ count: s.count, totalMs: round(s.totalMs), maxMs: round(s.maxMs) });
    return { minor: one(minor), major: one(major) };
  }
}
