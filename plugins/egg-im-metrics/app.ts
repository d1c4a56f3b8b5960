import type { Application, IBoot } from 'egg';
import { checkConfig } from './lib/checkConfig';
import { WorkerScrapes } from './lib/cluster';
import { respond } from './lib/endpoint';
import { ImMetrics, type MetricSources } from './lib/ImMetrics';

/**
 * What the gauges read of the other egg-im plugins, when they are there. They report to this plugin (it is
 * loaded first and imports none of them), so their APIs are seen through these narrow shapes.
 */
interface Watched {
  imSockets?: { readonly connections: number };
  imCache?: { readonly mode?: 'redis' | 'memory'; readonly degraded?: boolean };
  imStore?: { readonly outbox: { count(): Promise<number> } };
}

/** egg-im-metrics: `app.imMetrics`, and the metrics path on the app's port (see README.md). */
export default class MetricsBoot implements IBoot {
  constructor(private readonly app: Application) {
    // From the start: egg-im-store and egg-im-router take their observers while they load.
    app.imMetrics = new ImMetrics(checkConfig(app.config.imMetrics), app.coreLogger);
  }

  async didLoad(): Promise<void> {
    const { app } = this;
    const config = app.config.imMetrics;
    if (!config.enabled) {
      app.coreLogger.info('[egg-im-metrics] off (imMetrics.enabled is false): nothing recorded, %s not served', config.path);
      return;
    }
    const scrapes = new WorkerScrapes(app.messenger, () => app.imMetrics.local(), config.timeoutMs, app.coreLogger);
    // On its own port, the agent serves the metrics.
    if (config.port > 0) return;
    app.router.get('imMetrics', config.path, async ctx => {
      const { status, headers, body } = await respond(ctx.get('authorization'), config.token, () => scrapes.scrape(), app.coreLogger);
      ctx.status = status;
      ctx.set(headers);
      ctx.body = body;
    });
  }

  async didReady(): Promise<void> {
    // Every plugin has started: their API objects exist.
    const { imSockets, imCache, imStore } = this.app as unknown as Watched;
    const sources: MetricSources = {};
    if (imSockets) sources.connections = () => imSockets.connections;
    if (imCache?.mode) sources.cacheMode = () => (imCache.degraded ? 'degraded' : imCache.mode!);
    if (imStore) sources.outboxPending = () => imStore.outbox.count();
    this.app.imMetrics.watch(sources);
  }
}
