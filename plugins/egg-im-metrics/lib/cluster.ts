import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { MetricsLogger } from './types';

/**
 * One scrape covers every worker of an egg-cluster: the agent (the one process that knows the app workers'
 * pids) asks each worker for its registry's JSON, merges them with prom-client's AggregatorRegistry and
 * answers. A worker reached by a scrape on the app's port asks the agent; the agent's own port (`port`)
 * asks it directly. Every message goes through egg's messenger.
 */
const SCRAPE = 'egg-im-metrics:scrape';
const COLLECT = 'egg-im-metrics:collect';
const PART = 'egg-im-metrics:part';
const RESULT = 'egg-im-metrics:result';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** What is used of egg's messenger (app.messenger, agent.messenger). */
export interface Messenger {
  on(action: string, listener: (data: any) => void): unknown;
  removeListener(action: string, listener: (data: any) => void): unknown;
  sendToAgent(action: string, data: unknown): unknown;
  sendToApp(action: string, data: unknown): unknown;
}

export interface Exposition {
  contentType: string;
  text: string;
}

/** A worker's side: answers the agent's collect requests, and asks the agent for a scrape of every worker. */
export class WorkerScrapes {
  #next = 0;

  constructor(private readonly messenger: Messenger, private readonly local: () => Promise<MetricsJson>,
    private readonly timeoutMs: number, private readonly logger: MetricsLogger) {
    messenger.on(COLLECT, ({ id }: { id: string }) => void this.#answer(id));
  }

  async #answer(id: string): Promise<void> {
    try {
      this.messenger.sendToAgent(PART, { id, pid: process.pid, metrics: await this.local() });
    } catch (err) {
      this.logger.error(new Error(`[egg-im-metrics] metrics of worker ${process.pid} not collected (scrape ${id})`, { cause: err }));
    }
  }

  /** Every worker's metrics, merged by the agent; rejects when the agent does not answer in time. */
  scrape(): Promise<Exposition> {
    const id = `${process.pid}-${++this.#next}`;
    return new Promise((resolve, reject) => {
      const done = (result: { id: string; error?: string } & Exposition) => {
        if (result.id !== id) return;
        clearTimeout(timer);
        this.messenger.removeListener(RESULT, done);
        if (result.error !== undefined) reject(new Error(`[egg-im-metrics] scrape ${id}: ${result.error}`));
        else resolve({ contentType: result.contentType, text: result.text });
      };
      // The agent waits timeoutMs for the workers: a little longer here.
      const timer = setTimeout(() => {
        this.messenger.removeListener(RESULT, done);
        reject(new Error(`[egg-im-metrics] the agent did not answer scrape ${id} within ${this.timeoutMs + 1000} ms`));
      }, this.timeoutMs + 1000);
      this.messenger.on(RESULT, done);
      this.messenger.sendToAgent(SCRAPE, { id });
    });
  }
}

/** The agent's side: gathers every worker's metrics for a scrape and merges them. */
export class AgentGatherer {
  /** The app workers' pids, as egg-cluster's master announces them (none under egg-mock: one app). */
  #workers: number[] = [];
  #next = 0;
  #current?: Promise<Exposition>;
  readonly #pending = new Map<string, { parts: Map<number, MetricsJson>; complete: () => void }>();

  constructor(private readonly messenger: Messenger, private readonly timeoutMs: number, private readonly logger: MetricsLogger) {
    messenger.on('egg-pids', (pids: number[]) => {
      this.#workers = pids;
    });
    messenger.on(PART, ({ id, pid, metrics }: { id: string; pid: number; metrics: MetricsJson }) => {
      const pending = this.#pending.get(id);
      if (!pending) return;
      pending.parts.set(pid, metrics);
      if (pending.parts.size >= Math.max(1, this.#workers.length)) pending.complete();
    });
    // A scrape of a worker: the answer is broadcast (egg-mock's messenger cannot send to one pid), the asker picks it by id.
    messenger.on(SCRAPE, ({ id }: { id: string }) => void this.gather().then(
      exposition => this.messenger.sendToApp(RESULT, { id, ...exposition }),
      (err: Error) => this.messenger.sendToApp(RESULT, { id, error: err.message })));
  }

  /** Every worker's metrics, merged. Scrapes that arrive while they are gathered share the answer (bounded work however often they come). */
  gather(): Promise<Exposition> {
    this.#current ??= this.#gather(`agent-${++this.#next}`).finally(() => {
      this.#current = undefined;
    });
    return this.#current;
  }

  /** Asks every worker, waits for all of them (or `timeoutMs`), merges what came. */
  async #gather(id: string): Promise<Exposition> {
    const parts = new Map<number, MetricsJson>();
    await new Promise<void>(resolve => {
      const timer = setTimeout(complete, this.timeoutMs);
      function complete() {
        clearTimeout(timer);
        resolve();
      }
      this.#pending.set(id, { parts, complete });
      this.messenger.sendToApp(COLLECT, { id });
    });
    this.#pending.delete(id);
    const expected = Math.max(1, this.#workers.length);
    if (parts.size === 0) throw new Error(`[egg-im-metrics] no worker answered scrape ${id} within ${this.timeoutMs} ms`);
    if (parts.size < expected) {
      this.logger.warn('[egg-im-metrics] scrape %s: %d of %d workers answered within %d ms', id, parts.size, expected, this.timeoutMs);
    }
    const merged = AggregatorRegistry.aggregate([ ...parts.values() ]);
    new Gauge({ name: 'egg_im_metrics_workers', help: 'Workers whose metrics this scrape covers', registers: [ merged ] }).set(parts.size);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }
}
