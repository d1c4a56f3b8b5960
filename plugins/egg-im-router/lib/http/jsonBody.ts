import type { Context } from 'egg';
import getRawBody from 'raw-body';
import { ImError } from 'egg-im-protocol';
import type { ImConfig } from '../ports';

/**
 * The most a batch's body may hold: `batchMax` messages of `payloadBytes` each, and room for each envelope (ids,
 * type, JSON's punctuation and whitespace).
 */
export function batchBodyBytes(limits: ImConfig['limits']): number {
  return limits.batchMax * (limits.payloadBytes + 4096);
}

/**
 * The JSON body of a route Egg's body parser leaves alone (the framework's `bodyParser.ignore`, so that a large
 * body is read only after the session check), up to `limitBytes`: over it PAYLOAD_TOO_LARGE, not JSON
 * VALIDATION_FAILED. A body Egg parsed already (an app whose parser reads every route) is taken as it is.
 */
export async function jsonBody(ctx: Context, limitBytes: number): Promise<unknown> {
  if (ctx.request.body !== undefined) return ctx.request.body;
  if (!ctx.is('json')) throw new ImError('VALIDATION_FAILED', 'the body must be JSON (Content-Type: application/json)', { field: 'body' });
  const text = await getRawBody(ctx.req, { limit: limitBytes, length: ctx.get('content-length') || undefined, encoding: 'utf8' });
  try {
    return JSON.parse(text);
  } catch {
    throw new ImError('VALIDATION_FAILED', 'the body is not valid JSON', { field: 'body' });
  }
}
