import { ErrorReply, MultiErrorReply, TimeoutError as RedisTimeoutError } from 'redis';
import { LOG_PREFIX } from './options';

/**
 * A command was used on a key that holds another type (e.g. `get` on a list). This is a
 * programming error, not an outage: it reaches the caller and does not count towards the breaker.
 */
export class ImCacheWrongTypeError extends Error {
  constructor(op: string, kind: string) {
    super(`${LOG_PREFIX} WRONGTYPE: ${op} on a key of kind "${kind}" that holds another type of value`);
    this.name = 'ImCacheWrongTypeError';
  }
}

/** A Redis call did not answer within `commandTimeoutMs`. */
export class ImCacheTimeoutError extends Error {
  constructor(op: string, ms: number) {
    super(`${LOG_PREFIX} redis ${op} did not answer within ${ms} ms`);
    this.name = 'ImCacheTimeoutError';
  }
}

/** True for Redis' own WRONGTYPE reply, alone or inside a failed MULTI, and for our memory twin. */
export function isWrongType(err: unknown): boolean {
  if (err instanceof ImCacheWrongTypeError) return true;
  if (err instanceof MultiErrorReply) {
    for (const reply of err.errors()) {
      if (reply.message.startsWith('WRONGTYPE')) return true;
    }
    return false;
  }
  return err instanceof ErrorReply && err.message.startsWith('WRONGTYPE');
}

/** The error's message; without one, its class name (node-redis' errors leave `name` as "Error"). */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message || (err.name !== 'Error' ? err.name : err.constructor.name);
}

/**
 * Rejects with ImCacheTimeoutError after `ms`; a late settlement of `promise` is ignored. node-redis' own
 * command timeout (same `ms`, an Error without a message) often fires first: it becomes the same error.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, op: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ImCacheTimeoutError(op, ms)), ms);
    promise.then(value => {
      clearTimeout(timer);
      resolve(value);
    }, err => {
      clearTimeout(timer);
      reject(err instanceof RedisTimeoutError ? new ImCacheTimeoutError(op, ms) : err);
    });
  });
}
