import { Counter, Histogram, type Registry } from 'prom-client';
import type { TimerName, TimerObserver } from './observers';

const TIMERS: readonly TimerName[] = [ 'outboxSweep', 'sessionSweep', 'presenceHeartbeat', 'historyFlush', 'receiptFlush', 'reorderWait' ];

/**
 * `egg_im_timer_runs_total{timer}` and `egg_im_timer_seconds{timer}`: each run of egg-im's timers and how long
 * it took, so a stall can be lined up with what ran in that second. A few runs a second at most: prom-client's
 * own metrics are cheap enough.
 */
export function timerMetrics(registry: Registry): TimerObserver {
  const registers = [ registry ];
  const runs = new Counter({
    name: 'egg_im_timer_runs_total', help: 'Runs of egg-im\'s timers (outbox and session sweepers, presence heartbeat, history and receipt flushes, reorder waits that ran out)',
    labelNames: [ 'timer' ] as const, registers,
  });
  const seconds = new Histogram({
    name: 'egg_im_timer_seconds', help: 'How long one run of a timer took, its awaited work included',
    labelNames: [ 'timer' ] as const, buckets: [ 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 ], registers,
  });
  const series = new Map(TIMERS.map(timer => [ timer, { runs: runs.labels({ timer }), seconds: seconds.labels({ timer }) } ]));
  // Every series exists from the start (rate() of a series that appears later misses its first increase).
  for (const one of series.values()) one.runs.inc(0);
  return {
    ran(timer, took) {
      const one = series.get(timer);
      one?.runs.inc();
      one?.seconds.observe(took);
    },
  };
}
