import { WarningDigest } from 'egg-im-metrics';
import { ImError } from 'egg-im-protocol';

export interface SendAdmissionOptions {
  /** Sends accepted and not yet answered, across this node; 0: no limit. */
  maxInFlight: number;
  /** What a refused sender is told to wait, plus up to half of it again (so retries do not come back together). */
  retryAfterMs: number;
}

/**
 * Load shedding at the door of the pipeline. Past `maxInFlight` unanswered sends, a new send is refused at
 * once with RATE_LIMITED (retryable, `details.retryAfterMs`, `details.scope: "server"`) instead of queueing
 * behind a backlog it would only lengthen: accepted messages keep a bounded latency (Little's law: in flight /
 * throughput), and a refusal costs one frame where an accepted message costs a transaction, a push, a receipt
 * and a status. Nothing of a refused send is stored; the client sends it again (same clientMsgId).
 */
export class SendAdmission {
  private inFlight = 0;
  private refusedCount = 0;
  private readonly refusals: WarningDigest;

  constructor(private readonly options: () => SendAdmissionOptions, logger: { warn(message: string, ...args: unknown[]): void }) {
    this.refusals = new WarningDigest(logger, '[egg-im-router] overloaded, sends refused (RATE_LIMITED)');
  }

  /** Sends being processed now. */
  get pending(): number {
    return this.inFlight;
  }

  /** Sends refused since start. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Admits `count` sends or throws RATE_LIMITED; the caller must `release(count)` once they are answered. */
  admit(count = 1): void {
    const { maxInFlight, retryAfterMs } = this.options();
    if (maxInFlight > 0 && this.inFlight + count > maxInFlight) {
      this.refusedCount += count;
      this.refusals.add(`${count} with ${this.inFlight} in flight, limit ${maxInFlight}`);
      const wait = Math.round(retryAfterMs * (1 + Math.random() / 2));
      throw new ImError('RATE_LIMITED', `the server is busy (${this.inFlight} messages in flight); retry in ${wait} ms`,
        { retryAfterMs: wait, scope: 'server' });
    }
    this.inFlight += count;
  }

  /** The app closes: the refusals counted since the last line are written. */
  stop(): void {
    this.refusals.flush();
  }

  release(count = 1): void {
    this.inFlight -= count;
  }
}
