import type { Context } from 'egg';
import { Histogram } from '../../../lib/histogram';

/** Server-side time of history pages (GET /im/conversations/:id/messages), read through GET /bench/stats. */
export const historyTimes = new Histogram();
const HISTORY = /^\/im\/conversations\/[^/]+\/messages$/;

export default () => async function benchTimer(ctx: Context, next: () => Promise<void>) {
  if (ctx.method !== 'GET' || !HISTORY.test(ctx.path)) return next();
  const started = process.hrtime.bigint();
  try {
    await next();
  } finally {
    if (ctx.status === 200) historyTimes.record(Number(process.hrtime.bigint() - started) / 1e6);
  }
};
