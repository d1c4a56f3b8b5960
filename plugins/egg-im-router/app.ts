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
    this.app.im.pipeline.limitSenders(this.app.imCache.limiter('sends', this.app.config.im.limits.sendsPerUser));
    this.app.im.delivery.start();
    this.app.im.outbox.start();
  }

  async beforeClose() {
    this.app.im.outbox.stop();
    this.app.im.delivery.stop();
  }
}
