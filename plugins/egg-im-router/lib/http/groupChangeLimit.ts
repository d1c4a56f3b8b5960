import type { Context } from 'egg';
import { WarningDigest } from 'egg-im-metrics';
import { ImError } from 'egg-im-protocol';
import type { Limiter } from '../pipeline/SenderLimit';
import type { Logger } from '../ports';

/**
 * Group changes per user over the HTTP API (a group made, members added, another member removed; each request
 * one point): over `im.limits.groupChangesPerUser`, `RATE_LIMITED` with `details: { retryAfterMs, scope: "groups" }`
 * before the change is looked at. Each change writes membership rows and lands in other users' conversation
 * lists; without it one user could add anyone to groups as fast as the database writes. Host code
 * (`app.im.groups`) is not limited.
 */
export function groupChangeLimit(limiter: Limiter, logger: Logger) {
  const refusals = new WarningDigest(logger, '[egg-im-router] group changes refused (over im.limits.groupChangesPerUser)');
  const middleware = async (ctx: Context, next: () => Promise<void>): Promise<void> => {
    const { userId } = ctx.imSession;
    const decision = await limiter.consume(userId);
    if (!decision.allowed) {
      const { retryAfterMs } = decision;
      refusals.add(`user ${userId}; retry in ${retryAfterMs} ms`);
      throw new ImError('RATE_LIMITED', `too many group changes; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs, scope: 'groups' });
    }
    await next();
  };
  /** Writes the count of the refusals not logged yet (at close). */
  const stop = () => refusals.flush();
  return { middleware, stop };
}
