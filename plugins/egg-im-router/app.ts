import type { Application, IBoot } from 'egg';
import { socketHandlers } from './lib/socket/handlers';
import { messagingRoutes } from './lib/http/routes';
import { checkConfig } from './lib/checkConfig';

export default class RouterBoot implements IBoot {
  private routes?: { stop(): void };

  constructor(private readonly app: Application) {}

  async didLoad() {
    const { app } = this;
    for (const warning of checkConfig(app.config.im)) app.coreLogger.warn(warning);
    for (const [ name, definition ] of Object.entries(app.config.im.messageTypes)) {
      app.im.messageTypes.register(name, definition);
    }
    app.coreLogger.info('[egg-im-router] message types: %s', [ ...app.im.messageTypes.keys() ].join(', '));
  }

  async willReady() {
    const { app } = this;
    const { im } = app;
    im.start({
      store: app.imStore, cache: app.imCache, sockets: app.imSockets, sessions: app.imSessions, config: app.config.im, logger: app.coreLogger,
      // egg-im-metrics, when it is there
      observer: app.imMetrics?.messages,
      timers: app.imMetrics?.timers,
    });
    // The message path exists from here: its entry points are mounted with the parts they call.
    this.routes = messagingRoutes(app.router, app.imSessions, im.pipeline, im.conversations,
      app.imCache.limiter('group-changes', app.config.im.limits.groupChangesPerUser), app.coreLogger, app.config.im.limits);
    socketHandlers(app.imSockets, im.pipeline, im.conversations);
  }

  async beforeClose() {
    this.routes?.stop();
    this.app.im.stop();
  }
}
