export { ImMetrics, type MetricSources, type CacheMode } from './lib/ImMetrics';
export { noMessageObserver, noStoreObserver, type MessageObserver, type StoreObserver } from './lib/observers';
export type { ImMetricsConfig, MetricsLogger } from './lib/types';
