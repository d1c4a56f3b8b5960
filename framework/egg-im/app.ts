import type { Application, IBoot } from 'egg';
import { Readiness } from './lib/Readiness';
import { makeLogsPrivate } from './lib/privateLogs';

/** The framework's own part: health endpoints and the shutdown order. The plugins boot before it. */
export default class FrameworkBoot implements IBoot {
  constructor(private readonly app: Application) {
    app.imReadiness = new Readiness(app);
    makeLogsPrivate(app.config.logger.dir);
  }

  async didReady() {
    // Again for the log files opened while the app started (the folder already covers any made later).
    makeLogsPrivate(this.app.config.logger.dir);
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

  async beforeClose() {
    // Runs before the plugins close (reverse order of boot): report not ready first, let balancers see it.
    const { app } = this;
    app.imReadiness.markShuttingDown();
    app.coreLogger.info('[egg-im] shutting down: /readyz now reports unavailable');
    const { drainMs } = app.config.imHealth;
    if (drainMs > 0) await new Promise(resolve => setTimeout(resolve, drainMs));
  }
}
