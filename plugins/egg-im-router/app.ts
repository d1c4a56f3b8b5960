import assert from 'node:assert';
import type { Application, IBoot } from 'egg';
import { socketHandlers } from './lib/socket/handlers';
import { messagingRoutes } from './lib/http/routes';
import { SendAdmission } from './lib/pipeline/SendAdmission';

export default class RouterBoot implements IBoot {
  constructor(private readonly app: Application) {}

  async didLoad() {
    const { app } = this;
    SendAdmission.check(app.config.im.overload, app.config.im.limits.batchMax);
    const { sendsPerUser, batchMax } = app.config.im.limits;
    assert(Number.isInteger(sendsPerUser?.points) && sendsPerUser.points >= batchMax,
      `[egg-im-router] im.limits.sendsPerUser.points must be an integer >= im.limits.batchMax (${batchMax}), got ${sendsPerUser?.points}`);
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
