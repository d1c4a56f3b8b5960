import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Application, Context, IBoot } from 'egg';
import { hashPassword } from 'egg-im-connection/lib/auth/passwords';
import { historyTimes } from './app/middleware/benchTimer';
import { GcPauses } from './lib/GcPauses';
import { Timeline } from './lib/Timeline';

/**
 * Bench-only routes, answered only when the request carries the run's key (env IM_BENCH_KEY) in
 * `x-bench-key`; without it they are 404 like any unknown path.
 * - POST /bench/users { prefix, from, count }: users and login sessions in bulk, through the same store and
 *   session code as POST /im/auth/register + /im/auth/login (one password hash shared by all: the benchmark
 *   does not measure scrypt). Answers [{ index, userId, token }].
 * - GET /bench/stats[?gc=1][&reset=1]: pid, memory (after a full GC with gc=1), sockets, deliveries in flight,
 *   event-loop delay and utilization since the last reset, server-side history page times, and the process's
 *   monotonic clock (to cut a --cpu-prof profile to a scenario's window).
 * - GET /bench/timeline?from=<epoch s>&to=<epoch s>: the per-second timeline of those seconds (lib/Timeline.ts):
 *   event-loop delay, GC pauses, write batches and commit times, egg-im's timer runs, Redis and MySQL round trips.
 */
export default class BenchBoot implements IBoot {
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private utilization: EventLoopUtilization = performance.eventLoopUtilization();
  /** Garbage-collection pauses since the last reset. */
  private readonly gc = new GcPauses();
  private timeline?: Timeline;

  constructor(private readonly app: Application) {}

  configDidLoad() {
    registerBenchHooks(this.app, (this.app.config as { benchHooks?: string }).benchHooks ?? 'none');
  }

  async didLoad() {
    const { app } = this;
    const key = process.env.IM_BENCH_KEY;
    const guard = async (ctx: Context, next: () => Promise<void>) => {
      if (!key || ctx.get('x-bench-key') !== key) {
        ctx.status = 404;
        ctx.body = { ok: false, error: { code: 'NOT_FOUND', message: 'not found', details: {} } };
        return;
      }
      await next();
    };
    this.loopDelay.enable();
    this.gc.start();

    app.router.post('benchUsers', '/bench/users', guard, async ctx => {
      const { prefix, from, count } = ctx.request.body as { prefix: string; from: number; count: number };
      const hash = await hashPassword('bench-password', app.config.imConnection.auth.scrypt);
      const users: Array<{ index: number; userId: string; token: string }> = new Array(count);
      let next = 0;
      const worker = async () => {
        for (let n = next++; n < count; n = next++) {
          const index = from + n;
          const userId = await app.imStore.users.create(`${prefix}${index}`, hash);
          const { token } = await app.imSessions.create(userId, 'bench');
          users[n] = { index, userId, token };
        }
      };
      await Promise.all(Array.from({ length: Math.min(32, count) }, worker));
      ctx.body = { users };
    });

    app.router.get('benchTimeline', '/bench/timeline', guard, async ctx => {
      const [ from, to ] = [ Number(ctx.query.from), Number(ctx.query.to) ];
      if (!Number.isInteger(from) || !Number.isInteger(to) || to < from) {
        ctx.status = 400;
        ctx.body = { ok: false, error: { code: 'VALIDATION_FAILED', message: 'from and to: epoch seconds, from <= to', details: {} } };
        return;
      }
      ctx.body = { seconds: this.timeline?.between(from, to) ?? [] };
    });

    app.router.get('benchStats', '/bench/stats', guard, async ctx => {
      if (ctx.query.gc) collectGarbage();
      const now = performance.eventLoopUtilization();
      const elu = performance.eventLoopUtilization(now, this.utilization);
      ctx.body = {
        pid: process.pid,
        hrtimeUs: String(process.hrtime.bigint() / 1000n),
        memory: process.memoryUsage(),
        sockets: app.imSockets.connections,
        deliveriesInFlight: app.im.delivery.pending,
        eventLoop: {
          utilization: Math.round(elu.utilization * 1000) / 1000,
          delayP50Ms: this.loopDelay.percentile(50) / 1e6,
          delayP99Ms: this.loopDelay.percentile(99) / 1e6,
          delayMaxMs: this.loopDelay.max / 1e6,
        },
        gc: this.gc.take(Boolean(ctx.query.reset)),
        history: historyTimes.toJSON(),
        // What this egg-im build has of a message-page cache (config.im.history), if anything.
        historyConfig: (app.config.im as any).history ?? null,
      };
      if (ctx.query.reset) {
        this.loopDelay.reset();
        this.utilization = now;
        historyTimes.reset();
      }
    });
  }

  async didReady() {
    const { app } = this;
    this.timeline = new Timeline(app.imMetrics.registry, () => app.imCache.degraded);
    await this.timeline.start();
  }

  async beforeClose() {
    await this.timeline?.stop();
    this.gc.stop();
  }
}

/**
 * The hook sets whose cost the benchmark measures (`--app-config='{"benchHooks":"trivial"}'`):
 * - none: nothing registered (the default, what every other figure is);
 * - empty: one of each kind, doing nothing;
 * - trivial: a beforeSend that looks at the text and lets it through, and an afterSend that counts offline recipients.
 */
function registerBenchHooks(app: Application, variant: string): void {
  const { hooks } = app.im;
  if (variant === 'none') return;
  if (variant === 'empty') {
    hooks.beforeSend(() => undefined);
    hooks.afterSend(() => undefined);
    hooks.status(() => undefined);
    return;
  }
  if (variant !== 'trivial') throw new Error(`[egg-im-bench] benchHooks: none, empty or trivial, got ${variant}`);
  let offline = 0;
  hooks.beforeSend(({ type, content }) => {
    if (type === 'text' && typeof content.text === 'string' && content.text.includes('forbidden')) {
      return { content: { ...content, text: content.text.replace(/forbidden/g, '*') } };
    }
  });
  hooks.afterSend((_message, info) => {
    offline += info.offline.length;
  });
  app.beforeClose(() => app.coreLogger.info('[egg-im-bench] afterSend saw %d offline recipients', offline));
}

let gc: (() => void) | undefined;
/** A full garbage collection, so heap readings compare live objects only. */
function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose_gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
  gc();
}
