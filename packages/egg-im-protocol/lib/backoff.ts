/** An exponential backoff: the one schedule of egg-im's retries (database, Redis, client, delivery). */
export interface BackoffPolicy {
  /** The first delay. */
  baseMs: number;
  /** The longest delay before jitter. */
  maxMs: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /** Up to this fraction of the delay is added at random (default 0), so that many clients do not retry in lockstep. */
  jitter?: number;
}

/** The delay after `failures` failed tries (from 1): `min(maxMs, baseMs × factor^(failures − 1))`, plus jitter. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const { baseMs, maxMs, factor = 2, jitter = 0 } = policy;
  const exponent = Math.min(Math.max(0, failures - 1), 64);
  const delay = Math.min(maxMs, baseMs * Math.max(1, factor) ** exponent);
  return Math.max(0, Math.round(delay * (1 + jitter * random())));
}
