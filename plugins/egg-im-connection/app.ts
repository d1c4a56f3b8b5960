import type { Server as HttpServer } from 'node:http';
import type { Application, IBoot } from 'egg';
import { SocketServer } from './lib/SocketServer';
import { SessionService } from './lib/session/SessionService';
import { authRoutes } from './lib/http/authRoutes';

export default class ConnectionBoot implements IBoot {
  constructor(private readonly app: Application) {}

  configDidLoad() {
    this.app.config.coreMiddleware.push('imErrorHandler');
  }

  async didLoad() {
    const { app } = this;
    app.imSessions = new SessionService(app);
    app.imSockets = new SocketServer(app);
    // Egg emits 'server' once the HTTP server exists; egg-mock may have emitted it already.
    if (app.server) app.imSockets.attach(app.server);
    else app.once('server', (server: HttpServer) => app.imSockets.attach(server));
    authRoutes(app);
  }

  async willReady() {
    await this.app.imSockets.joinNodes();
  }

  async beforeClose() {
    await this.app.imSockets.close();
  }
}
