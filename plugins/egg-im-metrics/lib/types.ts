/** `config.imMetrics` (see config/config.default.ts and docs/configuration.md). */
export interface ImMetricsConfig {
  /** false: nothing is recorded and nothing is served (the path answers 404). */
  enabled: boolean;
  /** Where the metrics are served (on the app's port, or on `port`). */
  path: string;
  /** When set, a scrape needs `Authorization: Bearer <token>` (env IM_METRICS_TOKEN). */
  token: string;
  /**
   * 0: served on the app's own port, by whichever worker the scrape reaches. Otherwise served by the agent on
   * this port at `host`, and not on the app's port (keeps the metrics off a public port).
   */
  port: number;
  host: string;
  /** How long a scrape waits for every worker's metrics; a worker that has not answered by then is left out (and logged). */
  timeoutMs: number;
}

export interface MetricsLogger {
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
}
