import type { Context } from 'egg';
import { ImError, errorReply } from 'egg-im-protocol';

/**
 * Everything under the IM prefix: answers are private (sessions, tokens, presence, messages), so no cache
 * may keep them (`Cache-Control: no-store`, set once here for every route, success or error). Every error
 * becomes the contract's error body; unknown paths are NOT_FOUND; RATE_LIMITED also says
 * `Retry-After` (whole seconds, rounded up from `details.retryAfterMs`).
 */
export default () => async function imErrorHandler(ctx: Context, next: () => Promise<void>) {
  const { prefix } = ctx.app.imSessions;
  if (ctx.path !== prefix && !ctx.path.startsWith(prefix + '/')) return next();
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      throw new ImError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
    }
  } catch (err: any) {
    const imError = toImError(err);
    if (!imError) {
      ctx.coreLogger.error(new Error(`[egg-im-connection] ${ctx.method} ${ctx.path} failed: ${err?.message}`, { cause: err }));
    }
    ctx.status = imError ? imError.status : 500;
    ctx.body = errorReply(imError ?? err);
    // Koa's own error path would drop the headers set so far; this one keeps them, and says it again
    ctx.set('Cache-Control', 'no-store');
    const retryAfterMs = imError?.code === 'RATE_LIMITED' ? imError.details?.retryAfterMs : undefined;
    if (typeof retryAfterMs === 'number' && retryAfterMs > 0) ctx.set('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
  }
};

/** Maps client errors raised by Egg's own middleware (body parser limits, bad JSON) to contract codes. */
function toImError(err: any): ImError | undefined {
  if (err instanceof ImError) return err;
  if (err?.status === 413 || err?.type === 'entity.too.large') {
    return new ImError('PAYLOAD_TOO_LARGE', 'request body is too large');
  }
  if (err?.status === 403) return new ImError('FORBIDDEN', err.expose ? String(err.message) : 'forbidden');
  if (err?.status === 400 || err?.status === 415 || err?.status === 422) {
    return new ImError('VALIDATION_FAILED', err.expose ? String(err.message) : 'invalid request body');
  }
  return undefined;
}
