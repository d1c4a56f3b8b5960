import type { Application, IBoot } from 'egg';
import { Readiness } from './lib/Readiness';
import { makeLogsPrivate } from './lib/privateLogs';
import { appliedV8Flags } from './lib/v8Flags';

/** What the plugins' own close needs after the drain (router, sockets, cache, the store's last writes), at most. */
const CLOSE_RESERVE_MS = 3000;

/** The framework's own part: health endpoints, the start checks and the shutdown order. The plugins boot before it. */
export default class FrameworkBoot implements IBoot {
  constructor(private readonly app: Application) {
    app.imReadiness = new Readiness(app);
    makeLogsPrivate(app.config.logger.dir);
  }

  configDidLoad() {
    // First of all, so that every log line of a request, errors included, carries its trace id.
    this.app.config.coreMiddleware.unshift('imTrace');
  }

  async didLoad() {
    const { app } = this;
    app.router.get('imHealthz', '/healthz', async ctx => {
      ctx.body = { status: 'ok' };
    });
    app.router.get('imReadyz', '/readyz', async ctx => {
      const { httpStatus, body } = await app.imReadiness.evaluate();
      ctx.status = httpStatus;
      ctx.body = body;
    });
  }

  async willReady() {
    // Workers of one egg-cluster without Redis would each keep their own sockets, presence and limits: messages
    // between users on different workers would not arrive live. Refused, with what to change.
    // egg-cluster hands each worker its start options (untyped in egg's Application): `workers` is their count.
    const { options } = this.app as unknown as { options: { workers?: unknown } };
    const workers = Number(options.workers) || 1;
    if (workers > 1 && this.app.imCache.mode === 'memory') {
      throw new Error(`[egg-im] ${workers} workers share no cache: set IM_REDIS_URL (or imCache.client.url), or start one worker (--workers 1)`);
    }
    const { drainMs } = this.app.config.imHealth;
    if (this.drainDeadlineMs() < drainMs) {
      this.app.coreLogger.warn('[egg-im] imHealth.drainMs (%d ms) does not fit in egg\'s close timeout (%d ms, EGG_APP_CLOSE_TIMEOUT): a drain is cut to %d ms; set EGG_APP_CLOSE_TIMEOUT to %d or more',
        drainMs, closeTimeoutMs(), this.drainDeadlineMs(), drainMs + CLOSE_RESERVE_MS);
    }
  }

  async didReady() {
    // Again for the log files opened while the app started (the folder already covers any made later).
    makeLogsPrivate(this.app.config.logger.dir);
    const flags = appliedV8Flags();
    this.app.coreLogger.info('[egg-im] V8 flags set by the framework: %s (a flag of the same name on node\'s command line wins)',
      flags.length ? flags.join(' ') : 'none, node\'s command line sets them all');
  }

  async beforeClose() {
    // Runs before the plugins close (reverse order of boot): /readyz says draining at once, the clients move to
    // other nodes, and every event already accepted is answered before the router, the store and the cache close.
    const { app } = this;
    app.imReadiness.markDraining();
    const deadlineMs = this.drainDeadlineMs();
    app.coreLogger.info('[egg-im] shutting down: /readyz answers 503 draining; the clients have %d ms to move', deadlineMs);
    await app.imSockets.drain(deadlineMs);
  }

  /** imHealth.drainMs, cut so that the plugins still close before egg-cluster kills the worker. */
  private drainDeadlineMs(): number {
    return Math.min(this.app.config.imHealth.drainMs, Math.max(0, closeTimeoutMs() - CLOSE_RESERVE_MS));
  }
}

/** How long egg-cluster's master waits for a worker to close before it kills it (its own default: 5 s). */
function closeTimeoutMs(): number {
  return Number(process.env.EGG_APP_CLOSE_TIMEOUT || process.env.EGG_MASTER_CLOSE_TIMEOUT) || 5000;
}
