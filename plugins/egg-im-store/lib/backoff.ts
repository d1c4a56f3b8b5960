import { backoffDelay as delayAfter } from 'egg-im-protocol';
import type { ImStoreBackoffConfig } from './types';

/**
 * Delay before try `n + 1`, after `n` failed tries (n from 1): egg-im's one backoff schedule
 * (`min(maxMs, baseMs * factor^(n-1))`) plus up to 10 % random jitter, so that many workers do not retry in lockstep.
 */
export function retryDelay(failedTries: number, config: ImStoreBackoffConfig, random: () => number = Math.random): number {
  return delayAfter(failedTries, { ...config, jitter: 0.1 }, random);
}

/** Fills in missing fields and checks the values; `name` is used in the error message. */
export function normalizeBackoff(input: Partial<ImStoreBackoffConfig> | undefined, defaults: ImStoreBackoffConfig, name: string): ImStoreBackoffConfig {
  const merged = { ...defaults };
  for (const key of ['attempts', 'baseMs', 'factor', 'maxMs'] as const) {
    if (input?.[key] !== undefined) merged[key] = input[key] as number;
  }
  const { attempts, baseMs, factor, maxMs } = merged;
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`[egg-im-store] ${name}.attempts must be an integer >= 1 (got ${attempts})`);
  for (const [key, value] of Object.entries({ baseMs, factor, maxMs })) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error(`[egg-im-store] ${name}.${key} must be a number >= 0 (got ${value})`);
    }
  }
  return { attempts, baseMs, factor, maxMs };
}

/** Resolves after `ms`, or rejects with `signal.reason` as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Races `promise` against a timer; `onLate` receives the value if it arrives after the timeout. */
export function withTimeout<T>(promise: Promise<T>, ms: number, makeError: () => Error, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(makeError());
    }, ms);
    promise.then(
      value => {
        if (settled) {
          onLate?.(value);
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      err => {
        if (settled) return; // the caller already has the timeout error
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
