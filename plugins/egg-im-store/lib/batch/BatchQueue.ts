import { AsyncResource } from 'node:async_hooks';

export interface BatchQueueOptions {
  /** Most items handed to one run. */
  maxBatch: number;
  /**
   * Under load, wait this long for more items before a run starts, while fewer are waiting than the last run
   * took: a batch as large as the last one (a closed loop of senders) or a lone item after a quiet spell
   * runs as soon as the current tick ends. 0: never wait.
   */
  lingerMs: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit: items pushed while a run is in flight wait for it and go together into the next run, so
 * batches stay small (low latency) when traffic is light and grow by themselves under load. One run at a
 * time keeps the order of the items. `run` answers each item in order (a result or an Error for that item).
 */
export class BatchQueue<I, O> {
  private waiting: Array<Waiting<I, O>> = [];
  private running = false;
  private scheduled = false;
  private idle: Array<() => void> = [];
  private lastRunSize = 0;
  /** Set while a run waits `lingerMs` for more items. */
  private lingering?: NodeJS.Timeout;
  /**
   * Starts a run in the async context the queue was made in, not in that of the push that scheduled it: a run
   * carries everyone's items, and on SQLite a push made inside a transaction would otherwise let the run's
   * statements into that transaction (sql/oneConnection.ts).
   */
  private readonly start = AsyncResource.bind(() => {
    this.scheduled = false;
    this.lingering = undefined;
    void this.flush();
  });

  constructor(private readonly run: (items: I[]) => Promise<Array<O | Error>>, private readonly options: BatchQueueOptions) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  get size(): number {
    return this.waiting.length;
  }

  /** Resolves when nothing is queued or running (graceful shutdown). */
  drain(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise(resolve => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.lingering && !this.worthWaiting()) {
      // Enough has arrived while lingering: stop waiting.
      clearTimeout(this.lingering);
      setImmediate(this.start);
      this.lingering = undefined;
    }
    if (this.running || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    if (this.worthWaiting()) this.lingering = setTimeout(this.start, this.options.lingerMs);
    else setImmediate(this.start);
  }

  /** Fewer are waiting than the last run took: under load, more are likely on their way. */
  private worthWaiting(): boolean {
    return this.options.lingerMs > 0 && this.waiting.length < Math.min(this.lastRunSize, this.options.maxBatch);
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    const batch = this.waiting.splice(0, this.options.maxBatch);
    if (batch.length === 0) return this.settleIdle();
    this.running = true;
    this.lastRunSize = batch.length;
    try {
      const results = await this.run(batch.map(w => w.item));
      batch.forEach((w, i) => {
        const result = results[i];
        if (result instanceof Error) w.reject(result);
        else w.resolve(result);
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.running = false;
      if (this.waiting.length === 0) this.settleIdle();
      // A full batch is waiting: it goes now, not behind the callbacks a busy event loop has queued meanwhile
      // (other sockets' reads), which would stretch every run's cycle by the loop's backlog just when the
      // queue is longest.
      else if (!this.worthWaiting()) void this.flush();
      else this.schedule();
    }
  }

  private settleIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
