import type { Application, IBoot } from 'egg';
import { socketHandlers } from './lib/socket/handlers';
import { messagingRoutes } from './lib/http/routes';
import { checkConfig } from './lib/checkConfig';

export default class RouterBoot implements IBoot {
  constructor(private readonly app: Application) {}

  async didLoad() {
    const { app } = this;
    checkConfig(app.config.im);
    for (const [ name, definition ] of Object.entries(app.config.im.messageTypes)) {
      app.im.messageTypes.register(name, definition);
    }
    messagingRoutes(app);
    socketHandlers(app);
    app.coreLogger.info('[egg-im-router] message types: %s', [ ...app.im.messageTypes.keys() ].join(', '));
  }

  async willReady() {
    const { app } = this;
    app.im.start({ store: app.imStore, cache: app.imCache, config: app.config.im, logger: app.coreLogger, app });
  }

  async beforeClose() {
    this.app.im.stop();
  }
}
