export { ImMetrics, type MetricSources, type CacheMode } from './lib/ImMetrics';
export {
  noMessageObserver, noStoreObserver, noTimerObserver, timedRun, type MessageObserver, type StoreObserver, type TimerName, type TimerObserver,
} from './lib/observers';
export type { ImMetricsConfig, MetricsLogger } from './lib/types';
export { WarningDigest, type DigestLogger } from './lib/WarningDigest';
