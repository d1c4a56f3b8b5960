export interface BatchQueueOptions {
  /** Most items handed to one run. */
  maxBatch: number;
  /**
   * Under load (the last run had more than one item), wait this long for more items before a run starts;
   * a lone item after a quiet spell runs as soon as the current tick ends. 0: never wait.
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
    if (this.running || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    const start = () => {
      this.scheduled = false;
      void this.flush();
    };
    if (this.options.lingerMs > 0 && this.lastRunSize > 1 && this.waiting.length < this.options.maxBatch) setTimeout(start, this.options.lingerMs);
    else setImmediate(start);
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
      if (this.waiting.length > 0) this.schedule();
      else this.settleIdle();
    }
  }

  private settleIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
