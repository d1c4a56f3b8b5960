import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  // Tests close their apps with raw test sockets still open, which never leave on their own: no wait for them.
  config.imHealth = { drainMs: 0 };
  return config;
};
