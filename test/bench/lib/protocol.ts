/** Messages between the benchmark (parent) and its load-generator processes (loadgen.ts), over fork's IPC. */
import type { HistogramData } from './histogram';

export interface ClientSpec {
  index: number;
  userId: string;
  /** egg-im: the session token of the handshake; the bare relay takes `userId` instead. */
  token?: string;
  url: string;
}

export interface ConnectArgs {
  targets: ClientSpec[];
  /** Handshakes in flight at once in this process. */
  concurrency: number;
  timeoutMs: number;
}

export interface ConnectResult {
  attempted: number;
  connected: number;
  failed: number;
  errors: Record<string, number>;
  durationMs: number;
  latency: HistogramData;
}

/** One way a message goes: from a client to a user or group, received by `recipients` (client indexes). */
export interface Route {
  from: number;
  to: { type: 'user' | 'group'; id: string };
  recipients: number[];
}

export interface TrafficArgs {
  tag: string;
  routes: Route[];
  /** Messages per second from this process. */
  rate: number;
  durationMs: number;
  /** After sending stops: how long to wait for outstanding acks and deliveries. */
  drainMs: number;
  ackTimeoutMs: number;
}

export interface TrafficResult {
  tag: string;
  sent: number;
  acked: number;
  ackTimeouts: number;
  errors: Record<string, number>;
  /** Routes skipped because a socket was not connected. */
  skipped: number;
  expected: number;
  received: number;
  lost: number;
  /** Routes (pairs) with at least one lost message. */
  lostRoutes: number;
  duplicates: number;
  outOfOrder: number;
  /** Deliveries of messages whose send did not get an ack in time (stored anyway). */
  deliveredUnacked: number;
  /** Acknowledged messages some recipient never got: [sender userId, clientMsgId], at most 20,000. */
  undelivered: Array<[string, string]>;
  /** Routes (indexes into `routes`) that lost a message, with how many. */
  lostByRoute: Array<[number, number]>;
  /** Per second since sending started (by receive time): [deliveries, slowest ms, deliveries slower than 1 s]. */
  timeline: Array<[number, number, number]>;
  /** End-to-end latency of the messages sent in each wall-clock second (epoch seconds), to line up with the server's timeline. */
  bySendSecond: Array<[number, HistogramData]>;
  /** Per wall-clock second (epoch): this load generator's longest loop delay and GC pause time (ms), and the engine.io pings its clients got. */
  ownStalls: Array<[number, number, number, number]>;
  sendSeconds: number;
  drainSeconds: number;
  e2e: HistogramData;
  ack: HistogramData;
  loopDelayP99Ms: number;
  /** The longest event-loop delay and garbage-collection pause of the load generator in the phase. */
  loopDelayMaxMs: number;
  gcMaxMs: number;
}

export interface HttpArgs {
  tag: string;
  /** Full URLs with their bearer tokens, requested in order (round robin when there are fewer than needed). */
  requests: Array<{ url: string; token: string }>;
  rate: number;
  count: number;
  maxInFlight: number;
}

export interface HttpResult {
  tag: string;
  done: number;
  statuses: Record<string, number>;
  /** Requests that got no response, by cause (the error's code, else its message: `timeout` after 30 s). */
  errors: Record<string, number>;
  bytes: number;
  latency: HistogramData;
  seconds: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcMaxMs: number;
}

export interface ClientStats {
  connected: number;
  disconnects: number;
  reconnects: number;
  reasons: Record<string, number>;
  rssBytes: number;
}

export type Command =
  | { cmd: 'connect'; args: ConnectArgs }
  | { cmd: 'disconnect'; args: { indexes: number[] } }
  | { cmd: 'join'; args: { indexes: number[]; groupId: string } }
  | { cmd: 'traffic'; args: TrafficArgs }
  | { cmd: 'http'; args: HttpArgs }
  | { cmd: 'stats'; args: { reset?: boolean } };

export type Request = Command & { id: number };
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export interface Progress {
  progress: { kind: string; done: number; total: number; failed?: number };
}
