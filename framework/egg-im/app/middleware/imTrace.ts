import { randomBytes } from 'node:crypto';
import type { Context } from 'egg';

/** A caller's own request id is kept when it is short and plain (it ends up in log lines). */
const CALLER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A trace id for every HTTP request: the caller's `X-Request-Id` when it is a plain id, else a new one. Egg's
 * context loggers put it in each line of the request (`[user/ip/traceId/ms method url]`, and `paddingMessage` in
 * JSON logs); the response says it back in `X-Request-Id`, so an error a client reports can be found in the logs.
 */
export default () => async function imTrace(ctx: Context, next: () => Promise<void>) {
  const given = ctx.get('x-request-id');
  const traceId = CALLER_ID.test(given) ? given : randomBytes(8).toString('hex');
  (ctx as Context & { tracer: { traceId: string } }).tracer = { traceId };
  ctx.set('X-Request-Id', traceId);
  await next();
};
