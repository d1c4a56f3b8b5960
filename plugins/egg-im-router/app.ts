import type { Application, IBoot } from 'egg';
import { socketHandlers } from './lib/socket/handlers';
import { messagingRoutes } from './lib/http/routes';
import { SendAdmission } from './lib/pipeline/SendAdmission';

export default class RouterBoot implements IBoot {
  constructor(private readonly app: Application) {}

  async didLoad() {
    const { app } = this;
    SendAdmission.check(app.config.im.overload, app.config.im.limits.batchMax);
    for (const [ name, definition ] of Object.entries(app.config.im.messageTypes)) {
      app.im.messageTypes.register(name, definition);
    }
    messagingRoutes(app);
    socketHandlers(app);
    app.coreLogger.info('[egg-im-router] message types: %s', [ ...app.im.messageTypes.keys() ].join(', '));
  }

  async willReady() {
    this.app.im.delivery.start();
    this.app.im.outbox.start();
  }

  async beforeClose() {
    this.app.im.outbox.stop();
    this.app.im.delivery.stop();
  }
}
