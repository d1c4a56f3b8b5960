import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  // Behind a load balancer: trust X-Forwarded-For for the client IP used in logs and limits only when set.
  config.proxy = process.env.IM_TRUST_PROXY === 'true';
  return config;
};
