import os from 'node:os';
import path from 'node:path';

/**
 * The benchmark's app: egg-im as shipped, except
 * - scrypt at N=1024 (the default is 16384, ~40 ms of CPU per hash): logins are not what is measured;
 * - per-connection and per-user rate limits raised (burst 1000, 1000/s; defaults 200, 100/s and 300, 100/s) so a
 *   load test that funnels many messages through few connections or users (--quick) is not refused;
 * - bench-only routes under /bench (see app.ts), answered only with the run's key in `x-bench-key`;
 * - it listens on 127.0.0.1 only; logs and run files go to the run's temporary folder.
 * The services come from IM_DATABASE_URL, IM_REDIS_URL and IM_REDIS_PREFIX.
 */
const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([ , v ]) => v !== undefined));

/** `--app-config` of the benchmark (env IM_BENCH_APP_CONFIG, JSON): a config variant to measure, merged over this one. */
function merge(base: Record<string, any>, extra: Record<string, any>): Record<string, any> {
  const out = { ...base };
  for (const [ key, value ] of Object.entries(extra)) {
    out[key] = value && typeof value === 'object' && !Array.isArray(value) && base[key] && typeof base[key] === 'object'
      ? merge(base[key], value) : value;
  }
  return out;
}

const config = {
  keys: 'egg-im-bench-key',
  rundir: process.env.IM_RUN_DIR || path.join(os.tmpdir(), 'egg-im-bench-run'),
  logger: { dir: process.env.IM_LOG_DIR, consoleLevel: 'NONE' },
  cluster: { listen: { hostname: '127.0.0.1' } },
  middleware: [ 'benchTimer' ],
  security: {
    // As the framework's (the API is authenticated by bearer token), plus the bench routes.
    csrf: { ignore: (ctx: { path: string }) => ctx.path.startsWith('/im/') || ctx.path.startsWith('/bench/') },
  },
  imCache: { client: defined({ prefix: process.env.IM_REDIS_PREFIX }) },
  imConnection: {
    auth: { scrypt: { N: 1024, r: 8, p: 1 } },
    rateLimit: { burst: 1000, perSecond: 1000 },
    userRateLimit: { burst: 1000, perSecond: 1000 },
  },
};

export default merge(config, process.env.IM_BENCH_APP_CONFIG ? JSON.parse(process.env.IM_BENCH_APP_CONFIG) : {});
