import type { Application } from 'egg';

/**
 * Deletes sessions that ended (expired or revoked) more than `retainEndedMs` ago, so im_sessions does not
 * grow forever. Every node sweeps; a sweep is idempotent and bounded (batches of `BATCH`, at most `MAX_BATCHES`).
 */
export class SessionSweeper {
  private static readonly BATCH = 1000;
  private static readonly MAX_BATCHES = 20;
  private timer?: NodeJS.Timeout;

  constructor(private readonly app: Application) {}

  start(): void {
    const { sweepIntervalMs } = this.app.config.imConnection.session;
    if (sweepIntervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.sweep().catch(err => this.app.coreLogger.warn('[egg-im-connection] session sweep failed: %s', err.message));
    }, sweepIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Returns how many sessions were deleted. */
  async sweep(): Promise<number> {
    const before = new Date(Date.now() - this.app.config.imConnection.session.retainEndedMs);
    let deleted = 0;
    for (let batch = 0; batch < SessionSweeper.MAX_BATCHES; batch++) {
      const count = await this.app.imStore.sessions.purgeEnded(before, SessionSweeper.BATCH);
      deleted += count;
      if (count < SessionSweeper.BATCH) break;
    }
    if (deleted > 0) this.app.coreLogger.info('[egg-im-connection] deleted %d ended session(s)', deleted);
    return deleted;
  }
}
