/** What a run does: the full benchmark's defaults, the --quick smoke run, and the command-line overrides. */
export interface Settings {
  quick: boolean;
  scenarios: number[];
  bare: boolean;
  cpuProf: boolean;
  out?: string;
  /** JSON merged into the bench app's config (a variant to compare); recorded in the report. */
  appConfig?: string;
  /** Node flags for the egg-im processes (e.g. --max-semi-space-size=64); recorded in the report. */
  nodeFlags: string[];
  /**
   * Seconds of the steady rate on other pairs before each steady minute: a cold process's first seconds, reported on
   * their own, so that the minute measures warm processes (0: none, the minute starts cold).
   */
  warmupS: number;
  clients: number;
  clientsPerLoadGen: number;
  /** Handshakes in flight at once, over all load generators. */
  connectConcurrency: number;
  holdS: number;
  bareHoldS: number;
  steadyRate: number;
  steadyS: number;
  drainS: number;
  ackTimeoutMs: number;
  saturation: { startRate: number; factor: number; stepS: number; maxSteps: number; refine: boolean; p99LimitMs: number };
  group: { members: number; rate: number; seconds: number };
  history: { conversations: number; perConversation: number; rate: number; pages: number; hot: number; recent: number; limit: number };
  /**
   * `rate` for `seconds`: the steady load on two nodes. Then `targetRate` for `targetSeconds`: the rate the
   * two-node target is stated at (p99 ≤ 100 ms, 0 lost at 1,000 msg/s).
   */
  twoNodes: { rate: number; seconds: number; targetRate: number; targetSeconds: number };
  /** The whole run must end within this (everything is stopped and the run fails past it). */
  deadlineS: number;
}

const FULL: Omit<Settings, 'quick' | 'scenarios' | 'bare' | 'cpuProf' | 'out' | 'appConfig' | 'nodeFlags'> = {
  clients: 10000,
  clientsPerLoadGen: 8000,
  connectConcurrency: 400,
  holdS: 60,
  bareHoldS: 30,
  steadyRate: 2000,
  steadyS: 60,
  warmupS: 5,
  drainS: 15,
  ackTimeoutMs: 10000,
  saturation: { startRate: 3000, factor: 1.25, stepS: 10, maxSteps: 9, refine: true, p99LimitMs: 100 },
  group: { members: 500, rate: 10, seconds: 30 },
  history: { conversations: 10000, perConversation: 100, rate: 300, pages: 3000, hot: 500, recent: 200, limit: 50 },
  twoNodes: { rate: 2000, seconds: 60, targetRate: 1000, targetSeconds: 30 },
  deadlineS: 15 * 60,
};

const QUICK: typeof FULL = {
  clients: 200,
  clientsPerLoadGen: 8000,
  connectConcurrency: 100,
  holdS: 2,
  bareHoldS: 1,
  steadyRate: 200,
  steadyS: 2,
  warmupS: 1,
  drainS: 5,
  ackTimeoutMs: 5000,
  saturation: { startRate: 400, factor: 2, stepS: 1.5, maxSteps: 2, refine: false, p99LimitMs: 100 },
  group: { members: 50, rate: 10, seconds: 2 },
  history: { conversations: 200, perConversation: 100, rate: 100, pages: 150, hot: 20, recent: 20, limit: 50 },
  twoNodes: { rate: 200, seconds: 2, targetRate: 100, targetSeconds: 2 },
  deadlineS: 240,
};

/** The full run's warm-up: another length makes a run a variant (its report does not go to docs/). */
export const DEFAULT_WARMUP_S = FULL.warmupS;

export const USAGE = `egg-im benchmark: egg-im on MySQL and Redis against a bare socket.io relay, on this machine.

  npm run bench [-- options]
  node -r ts-node/register/transpile-only test/bench/index.ts [options]

  --quick              a smoke run: ${QUICK.clients} clients, a few seconds per scenario, a small history; writes to a
                       temporary folder (never docs/benchmarks.md)
  --scenarios=1,2,...  1 connections, 2 one-to-one steady, 3 saturation, 4 group, 5 history, 6 two nodes (default: all)
  --out=DIR            where benchmarks.md / benchmarks.json go (default: docs/ for a full run of every scenario)
  --no-bare            skip the bare relay (no ratios)
  --cpu-prof           profile the egg-im workers (node --cpu-prof) and summarize each scenario's window; the
                       report goes to a temporary folder (profiling slows the server)
  --app-config=JSON    merged into the bench app's config, to measure a variant, e.g.
                       --app-config='{"im":{"delivery":{"reorderWaitMs":50}}}'; the report goes to a temporary folder
  --node-flags="..."   Node flags for the egg-im processes, e.g. --node-flags="--max-semi-space-size=64" (a variant too)
  --warmup=S           S seconds of the steady rate on other pairs before each steady minute, egg-im and the relay
                       (default ${FULL.warmupS}): a cold process's first seconds, reported apart; 0 starts the minute cold (a variant)
  --clients=N --rate=N --hold=S --steady=S   override the scenario sizes

Needs MariaDB/MySQL and Redis (IM_BENCH_MYSQL_URL / IM_BENCH_REDIS_URL, else IM_TEST_MYSQL_URL / IM_TEST_REDIS_URL,
else mysql://root@127.0.0.1:3306 and redis://127.0.0.1:6379); creates and drops a database of its own.`;

export function parseSettings(argv: string[]): Settings | 'help' {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    flags.set(match[1], match[2] ?? 'true');
  }
  const known = [ 'quick', 'scenarios', 'out', 'no-bare', 'cpu-prof', 'app-config', 'node-flags', 'clients', 'rate', 'hold', 'steady', 'warmup', 'help' ];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
  if (flags.has('help')) return 'help';
  const quick = flags.has('quick');
  const base = structuredClone(quick ? QUICK : FULL);
  const scenarios = (flags.get('scenarios') ?? '1,2,3,4,5,6').split(',').map(Number);
  if (scenarios.some(s => !Number.isInteger(s) || s < 1 || s > 6)) throw new Error('--scenarios takes numbers from 1 to 6, e.g. --scenarios=1,2');
  const int = (name: string, fallback: number) => {
    const value = flags.has(name) ? Number(flags.get(name)) : fallback;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const settings: Settings = {
    ...base,
    quick,
    scenarios: [ ...new Set(scenarios) ].sort(),
    bare: !flags.has('no-bare'),
    cpuProf: flags.has('cpu-prof'),
    out: flags.get('out'),
    appConfig: flags.get('app-config'),
    nodeFlags: (flags.get('node-flags') ?? '').split(/\s+/).filter(Boolean),
  };
  if (flags.has('warmup')) {
    settings.warmupS = Number(flags.get('warmup'));
    if (!Number.isFinite(settings.warmupS) || settings.warmupS < 0) throw new Error('--warmup must be a number of seconds, 0 or more');
  }
  if (settings.nodeFlags.some(f => !f.startsWith('--'))) throw new Error('--node-flags takes Node options, e.g. --node-flags="--max-semi-space-size=64"');
  if (settings.appConfig !== undefined) {
    try {
      const parsed = JSON.parse(settings.appConfig);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    } catch (err: any) {
      throw new Error(`--app-config must be a JSON object: ${err.message}`);
    }
  }
  settings.clients = Math.max(4, Math.floor(int('clients', base.clients) / 2) * 2);
  settings.steadyRate = int('rate', base.steadyRate);
  settings.twoNodes.rate = settings.steadyRate;
  settings.holdS = int('hold', base.holdS);
  settings.steadyS = int('steady', base.steadyS);
  settings.twoNodes.seconds = settings.steadyS;
  settings.group.members = Math.min(settings.group.members, settings.clients);
  settings.history.conversations = Math.min(settings.history.conversations, settings.clients);
  // The history node reads the second half for its first reads: pages it is the first to read.
  settings.history.pages = Math.min(settings.history.pages, Math.floor(settings.history.conversations / 2));
  settings.history.hot = Math.min(settings.history.hot, settings.history.pages);
  return settings;
}

/** The scenarios' names, by number. */
export const SCENARIOS: Record<number, string> = { 1: 'connections', 2: 'one-to-one steady', 3: 'saturation', 4: 'group', 5: 'history', 6: 'two nodes' };

/**
 * The run's steps (target and scenario) in order, each with its expected seconds: the traffic windows' lengths from
 * the settings plus the typical setup, drain and settling measured on a 2-core machine (an estimate for the progress lines).
 */
export function plannedSteps(s: Settings): Array<{ name: string; seconds: number }> {
  const connect = s.clients / 1100 + 3;
  const window = (seconds: number) => seconds + (s.quick ? 1.5 : 5);
  const warmup = s.warmupS ? window(s.warmupS) : 0;
  const saturation = (Math.min(s.saturation.maxSteps, 6) + (s.saturation.refine ? 1 : 0)) * window(s.saturation.stepS);
  const { history: h } = s;
  const sockets = [ 1, 2, 3, 4, 6 ].some(n => s.scenarios.includes(n));
  const steps: Array<{ name: string; seconds: number }> = [];
  if (s.bare && sockets) {
    steps.push({ name: 'bare relay connections', seconds: connect / 2 + (s.scenarios.includes(1) ? s.bareHoldS : 0) });
    if (s.scenarios.includes(2) || s.scenarios.includes(6)) steps.push({ name: 'bare relay one-to-one steady', seconds: window(s.steadyS) + warmup });
    if (s.scenarios.includes(3)) steps.push({ name: 'bare relay saturation', seconds: saturation });
    if (s.scenarios.includes(4)) steps.push({ name: 'bare relay group', seconds: window(s.group.seconds) });
  }
  steps.push({ name: 'egg-im start and users', seconds: 15 + s.clients / 2000 });
  if (sockets) steps.push({ name: 'egg-im connections', seconds: connect + (s.scenarios.includes(1) ? s.holdS : 0) });
  const egg: Record<number, number> = {
    2: window(s.steadyS) + warmup,
    3: saturation,
    4: window(s.group.seconds),
    5: (h.conversations * h.perConversation) / 80000 + (6 * h.pages) / h.rate + (s.quick ? 4 : 20),
    6: 15 + connect / 2 + window(s.twoNodes.seconds) + window(s.twoNodes.targetSeconds),
  };
  for (const n of [ 2, 3, 4, 5, 6 ]) if (s.scenarios.includes(n)) steps.push({ name: `egg-im ${SCENARIOS[n]}`, seconds: egg[n] });
  return steps.map(step => ({ ...step, seconds: Math.round(step.seconds) }));
}
