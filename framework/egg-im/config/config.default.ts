import path from 'node:path';
import type { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';

export default (appInfo: EggAppInfo) => {
  const config: PowerPartial<EggAppConfig> = {};

  // Logs go under the app (or IM_LOG_DIR), never the home folder, in every environment.
  config.logger = {
    dir: process.env.IM_LOG_DIR || path.join(appInfo.baseDir, 'logs', appInfo.name),
  };

  // Large enough for a batch of 100 messages at the default 64 KB content limit.
  config.bodyParser = { jsonLimit: '8mb' };

  config.imHealth = {
    /** After SIGTERM, /readyz answers 503 for this long before connections are closed, so load balancers drain. */
    drainMs: 0,
  };

  return config;
};
