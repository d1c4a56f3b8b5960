/**
 * What the message path reports, where it happens (egg-im-router's `Im.start({ observer })`). Each call is one
 * counter or histogram update: cheap enough for every message.
 */
export interface MessageObserver {
  /** A send was answered with its message, `seconds` after it arrived: stored now, or already stored (a repeat). */
  answered(result: 'accepted' | 'deduplicated', seconds: number): void;
  /** `count` sends were refused with the error code `code` (a refused batch counts each of its messages). */
  refused(code: string, count?: number): void;
  /** A device acknowledged a delivery, `seconds` after its first push on this node. */
  delivered(seconds: number): void;
  /** A delivery was pushed again (no device acknowledged in time). */
  retried(): void;
  /** A delivery ran out of attempts. */
  failed(): void;
}

/** What egg-im-store reports: a write batch of messages committed. */
export interface StoreObserver {
  batchCommitted(size: number, seconds: number): void;
}

/** egg-im's periodic and lingering timers: each run is reported once, with how long it took (async work included). */
export type TimerName = 'outboxSweep' | 'sessionSweep' | 'presenceHeartbeat' | 'historyFlush' | 'receiptFlush' | 'reorderWait';

/** What a timer reports when one of its runs ends (`egg_im_timer_runs_total`, `egg_im_timer_seconds`). */
export interface TimerObserver {
  ran(timer: TimerName, seconds: number): void;
}

/** Runs `run`, then reports it to `timers` with its duration (whether it resolved or threw). */
export async function timedRun<T>(timers: TimerObserver, timer: TimerName, run: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  try {
    return await run();
  } finally {
    timers.ran(timer, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

/** The observers while metrics are off, or when the metrics plugin is not there: nothing is recorded. */
export const noMessageObserver: MessageObserver = {
  answered() {},
  refused() {},
  delivered() {},
  retried() {},
  failed() {},
};

export const noStoreObserver: StoreObserver = {
  batchCommitted() {},
};

export const noTimerObserver: TimerObserver = {
  ran() {},
};
