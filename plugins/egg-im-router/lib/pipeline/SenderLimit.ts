import { ImError } from 'egg-im-protocol';

/** How often the refusals are reported (with the count since the last line, and some of the users). */
const LOG_EVERY_MS = 10_000;
const USERS_NAMED = 5;

/** What the cache's limiter gives (`imCache.limiter`): counted across nodes in Redis, in memory without it. */
export interface Limiter {
  consume(key: string, points?: number): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }>;
}

/**
 * Sends per user, whatever the transport (every socket of the user, on any node, HTTP, batches): a user over
 * `points` messages in a window is refused with RATE_LIMITED (`details.scope: "user"`) before any work is
 * done on the message. The per-connection bucket of egg-im-connection still bounds each socket on its own.
 */
export class SenderLimit {
  private unreported = 0;
  private readonly users = new Set<string>();
  private reportedAt = 0;

  constructor(private readonly limiter: Limiter, private readonly logger: { warn(...args: unknown[]): void }) {}

  async take(senderId: string, count = 1): Promise<void> {
    const decision = await this.limiter.consume(senderId, count);
    if (decision.allowed) return;
    this.report(senderId, count);
    throw new ImError('RATE_LIMITED', `too many messages from this user; retry in ${decision.retryAfterMs} ms`,
      { retryAfterMs: decision.retryAfterMs, scope: 'user' });
  }

  private report(senderId: string, count: number): void {
    this.unreported += count;
    if (this.users.size < USERS_NAMED) this.users.add(senderId);
    const now = Date.now();
    if (now - this.reportedAt < LOG_EVERY_MS) return;
    this.logger.warn('[egg-im-router] %d sends refused (RATE_LIMITED, per user) since the last such line, from users %s',
      this.unreported, [ ...this.users ].join(', '));
    this.unreported = 0;
    this.users.clear();
    this.reportedAt = now;
  }
}
