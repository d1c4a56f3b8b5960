import assert from 'node:assert';
import type { ImMetricsConfig } from './types';

/** Stops the app at start on a value that cannot work, naming the key. */
export function checkConfig(config: ImMetricsConfig): ImMetricsConfig {
  const fail = (key: string, rule: string, value: unknown) => `[egg-im-metrics] config.imMetrics.${key} must be ${rule}, got ${JSON.stringify(value)}`;
  assert(typeof config.enabled === 'boolean', fail('enabled', 'true or false', config.enabled));
  assert(typeof config.path === 'string' && /^\/[^\s?#]*$/.test(config.path), fail('path', 'a path starting with /', config.path));
  assert(typeof config.token === 'string', fail('token', 'a string (empty: no token)', typeof config.token));
  assert(Number.isInteger(config.port) && config.port >= 0 && config.port <= 65535, fail('port', 'an integer from 0 (the app\'s port) to 65535', config.port));
  assert(typeof config.host === 'string' && config.host.length > 0, fail('host', 'a host name or address', config.host));
  assert(Number.isInteger(config.timeoutMs) && config.timeoutMs > 0, fail('timeoutMs', 'a positive integer', config.timeoutMs));
  return config;
}
