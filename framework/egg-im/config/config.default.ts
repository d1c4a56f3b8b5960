import path from 'node:path';
import type { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';

export default (appInfo: EggAppInfo) => {
  const config: PowerPartial<EggAppConfig> = {};

  // Logs go under the app (or IM_LOG_DIR), never the home folder, in every environment.
  config.logger = {
    dir: process.env.IM_LOG_DIR || path.join(appInfo.baseDir, 'logs', appInfo.name),
    // IM_LOG_JSON=1: for log pipelines, every log is written as one JSON object per line, to <name>.json.log
    // (egg-web.json.log, common-error.json.log, ...) in place of the text files.
    ...(process.env.IM_LOG_JSON === '1' ? { outputJSON: true, outputJSONOnly: true } : {}),
  };

  // Large enough for a batch of 100 messages at the default 64 KB content limit.
  config.bodyParser = { jsonLimit: '8mb' };

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
