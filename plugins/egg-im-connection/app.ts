import type { Server as HttpServer } from 'node:http';
import type { Application, IBoot } from 'egg';
import { SocketServer } from './lib/SocketServer';
import { SessionService } from './lib/session/SessionService';
import { SessionSweeper } from './lib/session/SessionSweeper';
import { authRoutes } from './lib/http/authRoutes';
import { directoryRoutes } from './lib/http/directoryRoutes';
import { LoginThrottle } from './lib/auth/LoginThrottle';
import { checkConfig } from './lib/checkConfig';
import { exemptApiFromCsrf } from './lib/http/csrfExemption';
import { UserRate } from './lib/rate/UserRate';

export default class ConnectionBoot implements IBoot {
  private sockets?: SocketServer;
  private loginThrottle?: LoginThrottle;
  private sessionSweeper?: SessionSweeper;

  constructor(private readonly app: Application) {}

  configDidLoad() {
    const { app } = this;
    // Outside the body parser, so its errors (bad JSON, too large) also get the contract's error body.
    const middleware = app.config.coreMiddleware;
    const bodyParser = middleware.indexOf('bodyParser');
    if (bodyParser >= 0) middleware.splice(bodyParser, 0, 'imErrorHandler');
    else middleware.push('imErrorHandler');
    exemptApiFromCsrf(app.config.security?.csrf, app.config.imConnection.http.prefix);
    // Created here, not in didLoad: a host app's own app.ts (a function, run at configDidLoad after the
    // plugins) may register socket events and hooks with `app.imSockets.handle(...)`.
    const userRate = new UserRate(app.config.imConnection.userRateLimit);
    const throttle = new LoginThrottle(app.config.imConnection.auth.throttle, app.coreLogger);
    this.loginThrottle = throttle;
    const sockets = new SocketServer(app, userRate);
    this.sockets = sockets;
    app.imSockets = sockets;
    app.imSessions = new SessionService(app, app.config.imConnection.http.prefix, sessionId => sockets.endSession(sessionId), userRate, throttle);
    // Last: a wrong limit fails the start with its own message (Egg still runs the later hooks, which need the above).
    checkConfig(app.config.imConnection);
  }

  async didLoad() {
    const { app } = this;
    const sockets = this.sockets!;
    // Egg emits 'server' once the HTTP server exists; egg-mock may have emitted it already.
    if (app.server) sockets.attach(app.server);
    else app.once('server', (server: HttpServer) => sockets.attach(server));
    authRoutes(app, this.loginThrottle!);
    directoryRoutes(app);
  }

  async willReady() {
    // the limiters, presence and the adapter's connections live in the cache, which exists from willReady on
    const { app } = this;
    this.loginThrottle?.start(app.imCache);
    this.sockets!.start({ cache: app.imCache, users: app.imStore.users });
    this.sessionSweeper = new SessionSweeper(app.imStore.sessions, app.config.imConnection.session, app.coreLogger, app.imMetrics?.timers);
    this.sessionSweeper.start();
  }

  async beforeClose() {
    this.sessionSweeper?.stop();
    await this.sockets?.close();
    this.loginThrottle?.stop();
  }
}
