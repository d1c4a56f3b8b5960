import path from 'node:path';
import type { Context, EggAppConfig, EggAppInfo, PowerPartial } from 'egg';

export default (appInfo: EggAppInfo) => {
  const config: PowerPartial<EggAppConfig> = {};

  // Logs go under the app (or IM_LOG_DIR), never the home folder, in every environment.
  config.logger = {
    dir: process.env.IM_LOG_DIR || path.join(appInfo.baseDir, 'logs', appInfo.name),
    // IM_LOG_JSON=1: for log pipelines, every log is written as one JSON object per line, to <name>.json.log
    // (egg-web.json.log, common-error.json.log, ...) in place of the text files.
    ...(process.env.IM_LOG_JSON === '1' ? { outputJSON: true, outputJSONOnly: true } : {}),
  };

  // 1 MB of JSON is parsed for any request before anything else looks at it (a login too): a group of 5,000 members
  // with long ids fits. A batch of messages (up to 100 of 64 KB) reads its own body once its session is checked
  // (egg-im-router), so Egg's parser leaves that route alone.
  config.bodyParser = {
    jsonLimit: '1mb',
    ignore: (ctx: Context) => ctx.method === 'POST' && ctx.path === `${ctx.app.imSessions.prefix}/messages/batch`,
  };

  config.imHealth = {
    /**
     * From SIGTERM, /readyz answers 503 `draining`, new connections are refused and every client is told to
     * reconnect elsewhere once its calls are answered; those still connected after drainMs are disconnected
     * (they reconnect as after any drop). Keep egg's close timeout (EGG_APP_CLOSE_TIMEOUT) above it.
     */
    drainMs: 10000,
  };

  return config;
};
