import type { EggAppConfig, PowerPartial } from 'egg';
import type { ImMetricsConfig } from '../lib/types';

export default () => {
  const config = {} as PowerPartial<EggAppConfig>;

  /** egg-im-metrics: Prometheus metrics, every worker's together (each field in lib/types.ts and the README). */
  const imMetrics: ImMetricsConfig = {
    enabled: process.env.IM_METRICS !== 'off',
    path: '/metrics',
    token: process.env.IM_METRICS_TOKEN || '',
    port: Number(process.env.IM_METRICS_PORT) || 0,
    host: process.env.IM_METRICS_HOST || '127.0.0.1',
    timeoutMs: 3000,
  };
  config.imMetrics = imMetrics;

  return config;
};
