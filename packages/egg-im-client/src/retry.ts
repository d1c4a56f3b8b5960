import { backoffDelay as delayAfter } from 'egg-im-protocol';
import { ImClientError } from './errors';

export interface Backoff { attempts: number; baseDelayMs: number; maxDelayMs: number }

/** Delay before attempt `attempt + 1` (attempt counts from 1): egg-im's one backoff schedule, with up to half again as jitter. */
export function retryDelay(policy: Backoff, attempt: number): number {
  return delayAfter(attempt, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: 0.5 });
}

/** Resolves after `ms`, or rejects with `CLOSED` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(closedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(closedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function closedError(): ImClientError {
  return new ImClientError('CLOSED', '[egg-im-client] the client was closed');
}
