import type { Application, EggAppConfig } from 'egg';
import { noTimerObserver, timedRun, type TimerObserver } from 'egg-im-metrics';

interface Logger {
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
}

/**
 * Deletes sessions that ended (expired or revoked) more than `retainEndedMs` ago, so im_sessions does not
 * grow forever. Every node sweeps; a sweep is idempotent and bounded (batches of `BATCH`, at most `MAX_BATCHES`).
 */
export class SessionSweeper {
  private static readonly BATCH = 1000;
  private static readonly MAX_BATCHES = 20;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sessions: Pick<Application['imStore']['sessions'], 'purgeEnded'>,
    private readonly config: Pick<EggAppConfig['imConnection']['session'], 'retainEndedMs' | 'sweepIntervalMs'>,
    private readonly logger: Logger,
    /** Learns of each sweep (egg-im-metrics). */
    private readonly timers: TimerObserver = noTimerObserver,
  ) {}

  start(): void {
    const { sweepIntervalMs } = this.config;
    if (sweepIntervalMs <= 0) return;
    this.timer = setInterval(() => {
      timedRun(this.timers, 'sessionSweep', () => this.sweep()).catch(err => this.logger.warn('[egg-im-connection] session sweep failed: %s', err.message));
    }, sweepIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Returns how many sessions were deleted. */
  async sweep(): Promise<number> {
    const before = new Date(Date.now() - this.config.retainEndedMs);
    let deleted = 0;
    for (let batch = 0; batch < SessionSweeper.MAX_BATCHES; batch++) {
      const count = await this.sessions.purgeEnded(before, SessionSweeper.BATCH);
      deleted += count;
      if (count < SessionSweeper.BATCH) break;
    }
    if (deleted > 0) this.logger.info('[egg-im-connection] deleted %d ended session(s)', deleted);
    return deleted;
  }
}
