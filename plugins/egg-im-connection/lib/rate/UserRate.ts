import { LRUCache } from 'lru-cache';
import { ImError } from 'egg-im-protocol';
import { TokenBucket } from './TokenBucket';

/**
 * Users with a bucket on this node at once. A bucket dropped for room is one of the users idle longest: its user
 * starts again with a full burst, which is what an idle user has anyway.
 */
const MAX_USERS = 100_000;

/**
 * What one user asks of this process — its HTTP requests behind `requireSession`, its socket handshakes and its
 * sockets' events together — from one token bucket per user (`imConnection.userRateLimit`), so that a user's many
 * sockets, a connect loop or a loop of HTTP reads cannot take the event loop from the others. Each worker process
 * protects its own.
 */
export class UserRate {
  private readonly buckets = new LRUCache<string, TokenBucket>({ max: MAX_USERS });

  constructor(private readonly limit: { burst: number; perSecond: number }) {}

  /** Takes one token of the user's; returns 0 when allowed, else how many ms until one is available. */
  take(userId: string): number {
    let bucket = this.buckets.get(userId);
    if (!bucket) {
      bucket = new TokenBucket(this.limit.burst, this.limit.perSecond);
      this.buckets.set(userId, bucket);
    }
    return bucket.take();
  }
}

/** The answer to a request over the user's rate (`details.scope: "requests"`). */
export function tooManyRequests(retryAfterMs: number): ImError {
  return new ImError('RATE_LIMITED', `too many requests from this user; retry in ${retryAfterMs} ms`, { retryAfterMs, scope: 'requests' });
}
