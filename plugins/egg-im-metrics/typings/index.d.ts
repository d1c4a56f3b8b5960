import 'egg';
import type { ImMetrics } from '../lib/ImMetrics';
import type { ImMetricsConfig } from '../lib/types';

declare module 'egg' {
  interface Application {
    /** egg-im's Prometheus metrics (plugin `imMetrics`): the registry and the observers the router and the store report to. */
    imMetrics: ImMetrics;
  }

  interface EggAppConfig {
    imMetrics: ImMetricsConfig;
  }
}

export * from '../index';
