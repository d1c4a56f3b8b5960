import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  // Behind a load balancer: trust X-Forwarded-For for the client IP used in logs and limits only when set.
  config.proxy = process.env.IM_TRUST_PROXY === 'true';
  // The address the nearest proxy appended, not the leftmost, which the client writes itself (a fresh one per
  // request would get fresh per-address limits). IM_PROXY_COUNT: the proxies in front of the node, when more than one.
  config.maxIpsCount = Number(process.env.IM_PROXY_COUNT || 1);
  return config;
};
