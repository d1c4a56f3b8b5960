/**
 * `npm run bench`: what egg-im does on this machine, next to a bare socket.io relay under the same load.
 *
 * Starts the bare relay (bare-relay.ts) and then egg-im (the bench app, test/bench/app, on the egg-im framework,
 * in production mode through scripts/cluster.js) against a database it creates and drops and a Redis key prefix
 * it owns; opens the clients from forked load-generator processes (loadgen.ts, socket.io-client over websocket,
 * one process per ~8,000 clients); runs the scenarios; stops everything it started by PID; writes
 * docs/benchmarks.md and docs/benchmarks.json (a --quick run writes to a temporary folder instead).
 * `--help` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Histogram, type HistogramData } from './lib/histogram';
import { LoadGen } from './lib/loadgens';
import { ROOT, startBareRelay, startEggNode, stopAll, readLogProblems, type EggNode } from './lib/nodes';
import { CpuWindow, cpuSeconds, machineInfo, pidsByName, rssBytes, type CpuReading } from './lib/proc';
import { formatSummary, summarizeProfile, type ProfileSummary } from './lib/profile';
import type { ClientSpec, ClientStats, ConnectResult, HttpResult, Route, TrafficResult } from './lib/protocol';
import { figures } from './lib/figures';
import { causeOf } from './lib/causes';
import { renderMarkdown, reportJson } from './lib/report';
import { perSecond } from './lib/timeline';
import {
  MYSQL_URL, REDIS_URL, ServiceCounters, countStored, createDatabase, directConversationId, dropDatabase, dropRedisPrefix, mysqlInfo, redisInfo, seedHistory, uniqueName,
} from './lib/services';
import { DEFAULT_WARMUP_S, USAGE, parseSettings, plannedSteps, type Settings } from './lib/settings';

type Target = 'bare' | 'eggIm';
interface User { index: number; userId: string; token?: string }

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const KB = 1024;
const MiB = 1024 * 1024;

class Bench {
  readonly startedAt = Date.now();
  readonly runId = randomBytes(4).toString('hex');
  readonly benchKey = randomBytes(16).toString('hex');
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-bench-'));
  loadgens: LoadGen[] = [];
  readonly report: any = { bare: {}, eggIm: {}, ratios: {}, targets: [], profiles: {} };
  private database?: string;
  private redisPrefix = `${uniqueName('r')}:`;
  private nodes: EggNode[] = [];
  private databaseUrl?: string;
  private pairsPerProc = 0;
  private cleaning?: Promise<void>;
  private mysqlPids = pidsByName([ 'mariadbd', 'mysqld' ]);
  private redisPids = pidsByName([ 'redis-server' ]);
  private counters?: ServiceCounters;
  /** The history scenario's HTTP client: a load generator of its own, holding no sockets. */
  private historyClient?: LoadGen;
  private windows: Array<{ name: string; from: number; to?: number }> = [];
  private profileWindows: Record<string, { node: string; workerPid: number; fromUs: number; toUs: number }> = {};

  /** The run's steps with their expected seconds, for the progress lines; `stage` is the current one. */
  private readonly plan: Array<{ name: string; seconds: number }>;
  private readonly expectedS: number;
  private stage = '';

  constructor(readonly settings: Settings) {
    this.plan = plannedSteps(settings);
    this.expectedS = (settings.quick ? 2 : 5) + sum(this.plan.map(p => p.seconds));
  }

  /** A progress line: elapsed / expected time, the step, the message. */
  log(message: string): void {
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const expected = this.expectedS >= 300 ? `${Math.round(this.expectedS / 60)}m` : duration(this.expectedS);
    console.log(`[bench ${duration(elapsed)} / ~${expected}] ${this.stage ? `${this.stage}: ` : ''}${message}`);
  }

  /** Enters a step of the plan (see plannedSteps): later lines name it. */
  step(name: string): void {
    const index = this.plan.findIndex(p => p.name === name);
    this.stage = `step ${index + 1}/${this.plan.length} ${name} (~${this.plan[index]?.seconds ?? '?'} s)`;
  }

  has(scenario: number): boolean {
    return this.settings.scenarios.includes(scenario);
  }

  /** docs/ for a full run (every scenario, default sizes); a quick, partial or profiled run (or --out) writes elsewhere. */
  get outDir(): string {
    if (this.settings.out) return path.resolve(this.settings.out);
    const partial = [ 1, 2, 3, 4, 5, 6 ].some(scenario => !this.has(scenario)) || !this.settings.bare;
    const variant = this.settings.cpuProf || this.settings.appConfig || this.settings.nodeFlags.length || this.settings.warmupS !== DEFAULT_WARMUP_S;
    if (this.settings.quick || partial || variant) {
      return path.join(os.tmpdir(), `egg-im-bench-${this.settings.quick ? 'quick' : 'variant'}-${this.runId}`);
    }
    return path.join(ROOT, 'docs');
  }

  // ------------------------------------------------------------------ run

  async run(): Promise<void> {
    const { settings } = this;
    this.log(`${settings.quick ? 'QUICK smoke run' : 'full run'}: scenarios ${settings.scenarios.join(',')}, ${settings.clients} clients, ` +
      `bare relay ${settings.bare ? 'on' : 'off'}${settings.cpuProf ? ', --cpu-prof' : ''}; services ${MYSQL_URL.replace(/\/\/[^@/]*@/, '//')} and ${REDIS_URL}`);
    const [ mysql, redis ] = await Promise.all([ mysqlInfo(), redisInfo() ]);
    this.counters = await ServiceCounters.open();
    // What else is using the machine (other people's tests, services): it shares the cores with the benchmark.
    const idle = new CpuWindow({});
    await sleep(settings.quick ? 500 : 3000);
    const background = idle.stop();
    this.log(`background CPU before the run: ${background.othersPct} % of one core` +
      (background.othersPct > 25 ? ' — WARNING: other processes are busy; they share the cores with the benchmark and skew its figures' : ''));
    this.report.meta = {
      date: new Date().toISOString(),
      quick: settings.quick,
      scenarios: settings.scenarios,
      machine: machineInfo(),
      versions: {
        node: process.version, mariadb: mysql.version, redis: redis.version,
        socketIo: require('socket.io/package.json').version, socketIoClient: require('socket.io-client/package.json').version,
        egg: require('egg/package.json').version, eggIm: require('egg-im/package.json').version,
      },
      mysqlSettings: mysql.settings,
      git: gitState(),
      settings: { ...settings, out: undefined },
      app: 'test/bench/app on the egg-im framework (production mode, 1 worker): scrypt N=1024 (default 16384), per-connection rate limit ' +
        'burst 1000 / 1000 per s (default 200 / 100 per s), bench-only routes /bench/users and /bench/stats; everything else as shipped' +
        (settings.appConfig ? `; VARIANT: ${settings.appConfig} merged into its config` : '') +
        (settings.nodeFlags.length ? `; VARIANT: node ${settings.nodeFlags.join(' ')}` : ''),
      backgroundCpuPct: background.othersPct,
      userSetup: 'bench-only bulk route POST /bench/users: app.imStore.users.create + app.imSessions.create (the register and login code minus HTTP and scrypt), 32 at a time',
    };
    const procs = Math.max(1, Math.ceil(settings.clients / settings.clientsPerLoadGen));
    this.pairsPerProc = Math.ceil(settings.clients / 2 / procs);
    this.loadgens = Array.from({ length: procs }, (_, i) => new LoadGen(i));
    await Promise.all(this.loadgens.map(lg => lg.ready));
    this.log(`${procs} load generator process(es): pids ${this.loadgens.map(lg => lg.pid).join(', ')}`);

    const needsSockets = [ 1, 2, 3, 4, 6 ].some(s => this.has(s));
    if (settings.bare && needsSockets) await this.runBare();
    await this.runEggIm();
    this.computeRatiosAndTargets();
  }

  // ------------------------------------------------------------------ helpers

  procOfClient(index: number): number {
    return Math.min(this.loadgens.length - 1, Math.floor(Math.floor(index / 2) / this.pairsPerProc));
  }

  /** Every client index of load generator k. */
  clientsOf(k: number): number[] {
    const from = k * this.pairsPerProc * 2;
    const to = Math.min(this.settings.clients, (k + 1) * this.pairsPerProc * 2);
    return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
  }

  /**
   * One-to-one routes of load generator k: each of its pairs (2p, 2p+1), both ways; `offset` 1 makes the pairs
   * (2p+1, 2p+2) instead, each client with its other neighbour (other conversations).
   */
  pairRoutes(k: number, users: User[], offset = 0): Route[] {
    const clients = this.clientsOf(k);
    const forward: Route[] = [];
    const back: Route[] = [];
    for (let i = offset; i + 1 < clients.length; i += 2) {
      const [ a, b ] = [ clients[i], clients[i + 1] ];
      forward.push({ from: a, to: { type: 'user', id: users[b].userId }, recipients: [ b ] });
      back.push({ from: b, to: { type: 'user', id: users[a].userId }, recipients: [ a ] });
    }
    return [ ...forward, ...back ];
  }

  /**
   * The steady rate for --warmup seconds on other pairs (their own conversations), before the steady minute: the
   * first seconds of a server that has not run the send path yet (in the relay's run, of the load generators too),
   * reported apart as the cold start, so that the minute measures a warm one. Undefined with --warmup=0.
   */
  async warmUp(target: string, users: User[], server: { pids: Record<string, number[]>; stats?: () => Promise<any>; node?: EggNode },
    settle: () => Promise<void>): Promise<any> {
    const { warmupS, steadyRate, drainS } = this.settings;
    if (!warmupS) return undefined;
    const r = await this.traffic(`${target} cold start`, `wu-${this.runId}`, k => this.pairRoutes(k, users, 1), steadyRate, warmupS, drainS, server);
    this.log(`${target} cold start: ${warmupS} s at ${steadyRate} msg/s on other pairs, p99 ${r.e2eMs.p99} ms, slowest delivery per second ` +
      `${(r.perSecond?.rows ?? []).map((row: { slowestMs: number }) => Math.round(row.slowestMs)).join(' / ')} ms (reported apart from the steady minute)`);
    await settle();
    return r;
  }

  /** Runs `fn` while printing the load generators' progress and the server's CPU every few seconds. */
  async ticker<T>(label: string, serverPids: number[], fn: () => Promise<T>, sendingS?: number): Promise<T> {
    const every = this.settings.quick ? 1000 : 3000;
    const started = Date.now();
    const phase = () => {
      if (sendingS === undefined) return '';
      const left = Math.ceil(sendingS - (Date.now() - started) / 1000);
      return left > 0 ? `sending ${sendingS} s (${left} s left) · ` : 'draining · ';
    };
    let last = { at: Date.now(), cpu: sumCpu(serverPids) };
    const timer = setInterval(() => {
      const now = { at: Date.now(), cpu: sumCpu(serverPids) };
      const cpu = Math.round((100 * (now.cpu - last.cpu)) / ((now.at - last.at) / 1000));
      last = now;
      const p = this.loadgens.map(lg => lg.lastProgress).filter(Boolean);
      const done = p.reduce((a, b) => a + b!.done, 0);
      const total = p.reduce((a, b) => a + b!.total, 0);
      const failed = p.reduce((a, b) => a + (b!.failed ?? 0), 0);
      this.log(`${label}: ${phase()}${p.length ? `${done.toLocaleString('en')}/${total.toLocaleString('en')}${failed ? ` (${failed} failed)` : ''} · ` : ''}server CPU ${cpu} %`);
    }, every);
    for (const lg of this.loadgens) lg.lastProgress = undefined;
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  async connectAll(users: User[], indexes: number[], urlOf: (index: number) => string, withToken: boolean): Promise<ConnectResult> {
    const per = this.loadgens.map(() => [] as ClientSpec[]);
    for (const i of indexes) {
      per[this.procOfClient(i)].push({ index: i, userId: users[i].userId, token: withToken ? users[i].token : undefined, url: urlOf(i) });
    }
    const concurrency = Math.ceil(this.settings.connectConcurrency / this.loadgens.length);
    const results: ConnectResult[] = await Promise.all(this.loadgens.map((lg, k) => (per[k].length
      ? lg.call('connect', { targets: per[k], concurrency, timeoutMs: 30000 })
      : Promise.resolve({ attempted: 0, connected: 0, failed: 0, errors: {}, durationMs: 0, latency: new Histogram().toJSON() }))));
    const errors: Record<string, number> = {};
    for (const r of results) for (const [ k, v ] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    return {
      attempted: sum(results.map(r => r.attempted)), connected: sum(results.map(r => r.connected)), failed: sum(results.map(r => r.failed)),
      errors, durationMs: Math.max(...results.map(r => r.durationMs)), latency: mergeHist(results.map(r => r.latency)),
    };
  }

  async disconnectClients(indexes: number[]): Promise<void> {
    const per = this.loadgens.map(() => [] as number[]);
    for (const i of indexes) per[this.procOfClient(i)].push(i);
    await Promise.all(this.loadgens.map((lg, k) => lg.call('disconnect', { indexes: per[k] })));
  }

  async clientStats(reset = false): Promise<ClientStats> {
    const all: ClientStats[] = await Promise.all(this.loadgens.map(lg => lg.call('stats', { reset })));
    const reasons: Record<string, number> = {};
    for (const s of all) for (const [ k, v ] of Object.entries(s.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
    return {
      connected: sum(all.map(s => s.connected)), disconnects: sum(all.map(s => s.disconnects)), reconnects: sum(all.map(s => s.reconnects)),
      reasons, rssBytes: sum(all.map(s => s.rssBytes)),
    };
  }

  async eggStats(node: EggNode, query = ''): Promise<any> {
    const res = await fetch(`${node.url}/bench/stats${query}`, { headers: { 'x-bench-key': this.benchKey }, signal: AbortSignal.timeout(30000) });
    if (res.status !== 200) throw new Error(`GET /bench/stats answered ${res.status}`);
    return res.json();
  }

  /** The node's per-second timeline (GET /bench/timeline) of the epoch seconds from..to, once it has sampled the last one. */
  async serverTimeline(node: EggNode, from: number, to: number): Promise<any[]> {
    const wait = (to + 1) * 1000 + 100 - Date.now();
    if (wait > 0) await sleep(wait);
    const res = await fetch(`${node.url}/bench/timeline?from=${from}&to=${to}`, { headers: { 'x-bench-key': this.benchKey }, signal: AbortSignal.timeout(30000) });
    if (res.status !== 200) throw new Error(`GET /bench/timeline answered ${res.status}`);
    return (await res.json()).seconds;
  }

  async bareStats(url: string, gc: boolean): Promise<any> {
    const res = await fetch(`${url}/stats${gc ? '?gc=1' : ''}`, { signal: AbortSignal.timeout(30000) });
    return res.json();
  }

  cpuPids(server: Record<string, number[]>): Record<string, number[]> {
    return { ...server, mariadb: this.mysqlPids, redis: this.redisPids, loadGenerators: this.loadgens.map(lg => lg.pid) };
  }

  /** Runs traffic on every load generator that has routes; CPU and server stats are read when sending ends. */
  async traffic(label: string, tag: string, routesOf: (k: number) => Route[], rate: number, seconds: number, drainS: number,
    server: { pids: Record<string, number[]>; stats?: () => Promise<any>; checkStore?: boolean; classify?: (route: Route) => string; node?: EggNode; otherNodes?: EggNode[] }): Promise<any> {
    const routes = this.loadgens.map((_, k) => routesOf(k));
    const routeCount = sum(routes.map(r => r.length));
    if (routeCount === 0) throw new Error(`${label}: no routes`);
    if (server.stats) await server.stats().catch(() => undefined); // resets the server's loop statistics
    const countersBefore = await this.counters!.read();
    const startedAt = Date.now();
    const cpu = new CpuWindow(this.cpuPids(server.pids));
    let cpuReading: CpuReading | undefined;
    let serverStats: any;
    let counters: Record<string, number> | undefined;
    const atEnd = setTimeout(async () => {
      cpuReading = cpu.stop();
      const [ stats, after ] = await Promise.all([ server.stats?.().catch(() => undefined), this.counters!.read().catch(() => undefined) ]);
      serverStats = stats;
      if (after) counters = ServiceCounters.diff(countersBefore, after);
    }, seconds * 1000);
    const serverPidList = Object.values(server.pids).flat();
    const results: TrafficResult[] = await this.ticker(label, serverPidList, () => Promise.all(this.loadgens.map((lg, k) => (routes[k].length
      ? lg.call('traffic', {
        tag, routes: routes[k], rate: (rate * routes[k].length) / routeCount, durationMs: seconds * 1000, drainMs: drainS * 1000,
        ackTimeoutMs: this.settings.ackTimeoutMs,
      })
      : Promise.resolve(undefined)))), seconds);
    clearTimeout(atEnd);
    cpuReading ??= cpu.stop();
    counters ??= ServiceCounters.diff(countersBefore, await this.counters!.read());
    const done = results.filter(Boolean) as TrafficResult[];
    const errors: Record<string, number> = {};
    for (const r of done) for (const [ k, v ] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    const sendSeconds = Math.max(...done.map(r => r.sendSeconds));
    const e2e = Histogram.from(mergeHist(done.map(r => r.e2e)));
    const [ fromSecond, toSecond ] = [ Math.floor(startedAt / 1000), Math.floor((startedAt + sendSeconds * 1000) / 1000) ];
    const serverSeconds = server.node ? await this.serverTimeline(server.node, fromSecond, toSecond) : [];
    // The other nodes' seconds, as they are (the rows carry the first node's).
    const otherNodes = await Promise.all((server.otherNodes ?? []).map(async n => ({ node: n.name, seconds: await this.serverTimeline(n, fromSecond, toSecond) })));
    const ack = Histogram.from(mergeHist(done.map(r => r.ack)));
    const sent = sum(done.map(r => r.sent));
    const received = sum(done.map(r => r.received));
    // Per second: deliveries, the slowest, and how many took over a second (by receive time, from the start).
    const timeline: Array<[number, number, number]> = [];
    for (const r of done) {
      r.timeline.forEach(([ count, max, slow ], i) => {
        const slot = timeline[i] ??= [ 0, 0, 0 ];
        slot[0] += count;
        slot[1] = Math.max(slot[1], Math.round(max));
        slot[2] += slow;
      });
    }
    // Losses by kind of route (e.g. which node each end is on).
    let lostBy: Record<string, number> | undefined;
    if (server.classify) {
      lostBy = {};
      results.forEach((r, k) => {
        for (const [ routeIndex, count ] of r?.lostByRoute ?? []) {
          const kind = server.classify!(routes[k][routeIndex]);
          lostBy![kind] = (lostBy![kind] ?? 0) + count;
        }
      });
    }
    // Not pushed in time is not the same as lost: a message egg-im stored still reaches the client by a later retry or sync.
    const undelivered = done.flatMap(r => r.undelivered);
    let undeliveredStored: number | undefined;
    if (server.checkStore && undelivered.length) {
      undeliveredStored = await countStored(this.databaseUrl!, undelivered).catch(() => undefined);
      this.log(`  ${undelivered.length} acknowledged message(s) not delivered after the drain; ${undeliveredStored ?? '?'} of them are in the database`);
    }
    return {
      targetRate: rate,
      seconds: round(sendSeconds, 2),
      sent,
      acked: sum(done.map(r => r.acked)),
      sendRate: Math.round(sent / sendSeconds),
      ackTimeouts: sum(done.map(r => r.ackTimeouts)),
      errors,
      skipped: sum(done.map(r => r.skipped)),
      expectedDeliveries: sum(done.map(r => r.expected)),
      deliveries: received,
      deliveriesPerS: Math.round(received / sendSeconds),
      lost: sum(done.map(r => r.lost)),
      lostRoutes: sum(done.map(r => r.lostRoutes)),
      lostChecked: undelivered.length,
      lostButStored: undeliveredStored,
      lostBy,
      startedAt: new Date(startedAt).toISOString(),
      timeline,
      duplicates: sum(done.map(r => r.duplicates)),
      outOfOrder: sum(done.map(r => r.outOfOrder)),
      deliveredUnacked: sum(done.map(r => r.deliveredUnacked)),
      drainSeconds: round(Math.max(...done.map(r => r.drainSeconds)), 2),
      e2eMs: e2e.summary(),
      // By percentile, the tail spread out (50 %, then q = 1 - 10^-n for n from 0.4 to 4 by 0.1), for the report's curves.
      e2eCurve: [ 0.5, ...Array.from({ length: 37 }, (_, i) => 1 - 10 ** -(0.4 + i / 10)) ].map(q => [ round(q, 6), round(e2e.percentile(q), 2) ]),
      // Per second of sending: the latencies of the messages sent in it, and what the egg-im server did in it.
      perSecond: perSecond(fromSecond, toSecond, done.map(r => r.bySendSecond), serverSeconds, done.map(r => r.ownStalls)),
      ...(otherNodes.length ? { otherNodesPerSecond: otherNodes } : {}),
      e2eOver100MsPct: e2e.count ? round((100 * e2e.countAbove(100)) / e2e.count, 2) : 0,
      e2eOver240MsPct: e2e.count ? round((100 * e2e.countAbove(240)) / e2e.count, 2) : 0,
      ackMs: ack.summary(),
      cpu: cpuReading,
      serverEventLoop: serverStats?.eventLoop,
      serverGc: serverStats?.gc,
      loadGenLoopDelayP99Ms: round(Math.max(...done.map(r => r.loopDelayP99Ms)), 1),
      loadGenLoopDelayMaxMs: round(Math.max(...done.map(r => r.loopDelayMaxMs)), 1),
      loadGenGcMaxMs: round(Math.max(...done.map(r => r.gcMaxMs)), 1),
      // Server-wide counters over the sending window (other clients of MariaDB/Redis on this machine count too).
      services: {
        totals: counters,
        perMessage: Object.fromEntries(Object.entries(counters).map(([ k, v ]) => [ k, round(v / Math.max(1, sum(done.map(r => r.acked))), 2) ])),
      },
    };
  }

  // ------------------------------------------------------------------ scenarios, shared by both targets

  async connections(target: Target, users: User[], urlOf: (i: number) => string, memory: (gc: boolean) => Promise<{ rss: number; heap: number; external: number }>,
    pids: Record<string, number[]>, holdS: number, report: boolean): Promise<any> {
    const n = this.settings.clients;
    const before = await memory(true);
    const cpu = new CpuWindow(this.cpuPids(pids));
    const all = Array.from({ length: n }, (_, i) => i);
    const result = await this.ticker(`${target} connections`, Object.values(pids).flat(),
      () => this.connectAll(users, all, urlOf, target === 'eggIm'));
    const cpuConnect = cpu.stop();
    this.log(`${target}: ${result.connected}/${n} connected in ${round(result.durationMs / 1000)} s` +
      `${result.failed ? `, ${result.failed} failed: ${JSON.stringify(result.errors)}` : ''}`);
    if (!report) return undefined;
    await this.clientStats(true);
    const rssSeries: number[] = [];
    const holdCpu = new CpuWindow(this.cpuPids(pids));
    const holdEnd = Date.now() + holdS * 1000;
    while (Date.now() < holdEnd) {
      await sleep(Math.min(5000, Math.max(0, holdEnd - Date.now())));
      const m = await memory(false);
      rssSeries.push(m.rss);
      const s = await this.clientStats();
      this.log(`  ${target} hold: ${s.connected.toLocaleString('en')} connected, ${s.disconnects} disconnects, server RSS ${round(m.rss / MiB)} MiB`);
    }
    const cpuHold = holdCpu.stop();
    const held = await this.clientStats(true);
    const after = await memory(true);
    const connected = result.connected || 1;
    return {
      clients: n,
      connected: result.connected,
      failed: result.failed,
      errors: result.errors,
      connectSeconds: round(result.durationMs / 1000, 2),
      connectsPerS: Math.round(result.connected / (result.durationMs / 1000)),
      handshakeMs: Histogram.from(result.latency).summary(),
      holdSeconds: holdS,
      disconnectsDuringHold: held.disconnects,
      disconnectReasons: held.reasons,
      connectedAfterHold: held.connected,
      server: {
        rssBeforeMiB: round(before.rss / MiB), rssAfterMiB: round(after.rss / MiB), rssPeakMiB: round(Math.max(after.rss, ...rssSeries) / MiB),
        heapBeforeMiB: round(before.heap / MiB), heapAfterMiB: round(after.heap / MiB),
        rssPerConnectionKB: round((after.rss - before.rss) / connected / KB),
        heapPerConnectionKB: round((after.heap - before.heap) / connected / KB),
        externalPerConnectionKB: round((after.external - before.external) / connected / KB),
      },
      cpuWhileConnecting: cpuConnect,
      // Idle sockets: the relay's cost is engine.io's pings; egg-im's adds presence heartbeats and session expiry.
      cpuWhileHolding: cpuHold,
      loadGeneratorsRssMiB: round(held.rssBytes / MiB),
    };
  }

  /**
   * Raises the rate step by step. A step is *sustained* when end-to-end p99 stays within the limit with nothing lost,
   * refused or timed out, at the rate offered; it *keeps up* when, whatever the latency, the load was offered and every
   * message was delivered with no loss and at most a short drain. The steps go on while the server keeps up, so both
   * the latency-bound rate (the target's definition) and the throughput ceiling are found.
   */
  async saturation(target: Target, routesOf: (k: number) => Route[], pids: Record<string, number[]>, quiesce: () => Promise<void>,
    stats?: () => Promise<any>, node?: EggNode): Promise<any> {
    const { startRate, factor, stepS, maxSteps, refine, p99LimitMs } = this.settings.saturation;
    const steps: any[] = [];
    const best = { sustained: 0, keptUp: 0 };
    const worst = { sustained: Infinity, keptUp: Infinity };
    const step = async (rate: number) => {
      const r = await this.traffic(`${target} saturation ${rate}/s`, `s${rate}-${this.runId}`, routesOf, rate, stepS, Math.min(this.settings.drainS, 10),
        { pids, stats, checkStore: target === 'eggIm', node });
      const offered = r.sendRate >= 0.95 * rate;
      const clean = r.lost === 0 && r.ackTimeouts === 0 && Object.keys(r.errors).length === 0;
      const keptUp = offered && clean && r.deliveries >= r.expectedDeliveries && r.drainSeconds <= Math.max(2, stepS / 5);
      const sustained = keptUp && r.e2eMs.p99 <= p99LimitMs;
      const why = sustained ? 'ok' : [ r.e2eMs.p99 > p99LimitMs && `p99 ${r.e2eMs.p99} ms`, r.lost && `${r.lost} lost`, r.ackTimeouts && `${r.ackTimeouts} ack timeouts`,
        Object.keys(r.errors).length && `errors ${JSON.stringify(r.errors)}`, !offered && `load generators offered only ${r.sendRate}/s`,
        clean && offered && !keptUp && `delivery fell behind (drain ${r.drainSeconds} s)` ].filter(Boolean).join(', ');
      if (sustained) best.sustained = Math.max(best.sustained, rate);
      else worst.sustained = Math.min(worst.sustained, rate);
      if (keptUp) best.keptUp = Math.max(best.keptUp, rate);
      else worst.keptUp = Math.min(worst.keptUp, rate);
      steps.push({ rate, sustained, keptUp, why, sendRate: r.sendRate, deliveriesPerS: r.deliveriesPerS, e2eMs: r.e2eMs, e2eOver100MsPct: r.e2eOver100MsPct,
        ackMs: r.ackMs, lost: r.lost, ackTimeouts: r.ackTimeouts, errors: r.errors, drainSeconds: r.drainSeconds, cpu: r.cpu,
        serverEventLoop: r.serverEventLoop, serverGc: r.serverGc, loadGenLoopDelayP99Ms: r.loadGenLoopDelayP99Ms, perSecond: r.perSecond });
      this.log(`${target} saturation ${rate}/s: p50 ${r.e2eMs.p50} ms, p99 ${r.e2eMs.p99} ms, sent ${r.sendRate}/s, delivered ${r.deliveriesPerS}/s, lost ${r.lost} → ` +
        `${sustained ? 'sustained' : keptUp ? `kept up, not sustained (${why})` : `fell behind (${why})`}`);
      await quiesce();
      return keptUp;
    };
    let rate = startRate;
    for (let i = 0; i < maxSteps; i++) {
      if (!(await step(rate))) break;
      rate = Math.round((rate * factor) / 100) * 100;
    }
    // Nothing held the latency bound: look below the start (twice at most).
    for (let down = Math.round(startRate / 2 / 100) * 100; best.sustained === 0 && down >= 100 && down >= startRate / 4; down = Math.round(down / 2 / 100) * 100) {
      await step(down);
    }
    if (refine) {
      // One more step between the last good and the first bad rate, for the latency bound if it has both ends, else the ceiling.
      const [ low, high ] = best.sustained && worst.sustained < Infinity ? [ best.sustained, worst.sustained ] : [ best.keptUp, worst.keptUp ];
      const mid = Math.round((low + high) / 2 / 100) * 100;
      if (low && high < Infinity && mid > low && mid < high) await step(mid);
    }
    return {
      p99LimitMs, stepSeconds: stepS, highestSustainedRate: best.sustained, firstUnsustainedRate: Number.isFinite(worst.sustained) ? worst.sustained : undefined,
      highestKeptUpRate: best.keptUp, firstFellBehindRate: Number.isFinite(worst.keptUp) ? worst.keptUp : undefined, steps,
    };
  }

  // ------------------------------------------------------------------ the bare relay

  async runBare(): Promise<void> {
    const { settings } = this;
    this.log('== bare socket.io relay (bare-relay.ts): no auth, no store, no cache ==');
    const relay = await startBareRelay();
    const users: User[] = Array.from({ length: settings.clients }, (_, i) => ({ index: i, userId: `b${i}` }));
    const pids = { 'bare relay': [ relay.pid ] };
    const memory = async (gc: boolean) => {
      const s = await this.bareStats(relay.url, gc);
      return { rss: rssBytes(relay.pid) ?? s.memory.rss, heap: s.memory.heapUsed, external: s.memory.external };
    };
    try {
      this.step('bare relay connections');
      this.report.bare.connections = await this.connections('bare', users, () => relay.url, memory, pids,
        this.has(1) ? settings.bareHoldS : 0, this.has(1));
      await sleep(1000);
      if (this.has(2) || this.has(6)) {
        this.step('bare relay one-to-one steady');
        this.log(`bare: one-to-one steady, ${settings.steadyRate} msg/s for ${settings.steadyS} s`);
        this.report.bare.coldStart = await this.warmUp('bare', users, { pids }, () => sleep(1000));
        this.report.bare.steady = await this.traffic('bare steady', `st-${this.runId}`, k => this.pairRoutes(k, users), settings.steadyRate,
          settings.steadyS, settings.drainS, { pids });
        this.logSteady('bare', this.report.bare.steady);
      }
      if (this.has(3)) {
        this.step('bare relay saturation');
        this.log('bare: one-to-one saturation');
        this.report.bare.saturation = await this.saturation('bare', k => this.pairRoutes(k, users), pids, () => sleep(1000));
      }
      if (this.has(4)) {
        this.step('bare relay group');
        const members = Array.from({ length: settings.group.members }, (_, i) => i);
        const joined = await this.loadgens[0].call('join', { indexes: members, groupId: 'bench' });
        this.log(`bare: group of ${joined.joined} members, ${settings.group.rate} msg/s for ${settings.group.seconds} s`);
        this.report.bare.group = await this.traffic('bare group', `g-${this.runId}`, k => (k === 0 ? this.groupRoutes(members, 'bench') : []),
          settings.group.rate, settings.group.seconds, settings.drainS, { pids });
        this.report.bare.group.members = members.length;
        this.logGroup('bare', this.report.bare.group);
      }
    } finally {
      await this.disconnectClients(users.map(u => u.index));
      await relay.stop();
    }
  }

  groupRoutes(members: number[], groupId: string): Route[] {
    return members.map(from => ({ from, to: { type: 'group' as const, id: groupId }, recipients: members.filter(m => m !== from) }));
  }

  logSteady(target: string, r: any): void {
    this.log(`${target} steady: e2e p50 ${r.e2eMs.p50} / p95 ${r.e2eMs.p95} / p99 ${r.e2eMs.p99} / max ${r.e2eMs.max} ms, ack p99 ${r.ackMs.p99} ms, ` +
      `sent ${r.sent} (${r.sendRate}/s), lost ${r.lost}, server CPU ${JSON.stringify(r.cpu?.processes)}`);
  }

  logGroup(target: string, r: any): void {
    this.log(`${target} group: ${r.deliveries} deliveries (${r.deliveriesPerS}/s), e2e p50 ${r.e2eMs.p50} / p99 ${r.e2eMs.p99} ms, lost ${r.lost}`);
  }

  // ------------------------------------------------------------------ egg-im

  async startNode(name: string): Promise<EggNode> {
    const node = await startEggNode({
      name,
      env: {
        IM_DATABASE_URL: this.databaseUrl!, IM_REDIS_URL: REDIS_URL, IM_REDIS_PREFIX: this.redisPrefix,
        ...(this.settings.appConfig ? { IM_BENCH_APP_CONFIG: this.settings.appConfig } : {}),
      },
      logDir: path.join(this.tmp, `logs-${name}`),
      runDir: path.join(this.tmp, `run-${name}`),
      benchKey: this.benchKey,
      execArgv: [ ...this.settings.nodeFlags, ...(this.settings.cpuProf ? [ '--cpu-prof', `--cpu-prof-dir=${path.join(this.tmp, 'profiles')}` ] : []) ],
    });
    this.nodes.push(node);
    this.log(`${name} ready at ${node.url} (cluster.js pid ${node.pid}, app worker pid ${node.workerPid})`);
    return node;
  }

  async createUsers(node: EggNode): Promise<User[]> {
    const n = this.settings.clients;
    const chunk = 500;
    const users: User[] = new Array(n);
    const started = Date.now();
    let next = 0;
    let done = 0;
    const prefix = `b${this.runId}_`;
    const worker = async () => {
      for (let from = next; from < n; from = next) {
        next += chunk;
        const count = Math.min(chunk, n - from);
        const res = await fetch(`${node.url}/bench/users`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-bench-key': this.benchKey },
          body: JSON.stringify({ prefix, from, count }), signal: AbortSignal.timeout(120000),
        });
        if (res.status !== 200) throw new Error(`POST /bench/users answered ${res.status}: ${await res.text()}`);
        for (const u of (await res.json()).users as User[]) users[u.index] = u;
        done += count;
      }
    };
    const timer = setInterval(() => this.log(`  users: ${done.toLocaleString('en')}/${n.toLocaleString('en')}`), this.settings.quick ? 1000 : 3000);
    try {
      await Promise.all([ worker(), worker() ]);
    } finally {
      clearInterval(timer);
    }
    const seconds = (Date.now() - started) / 1000;
    this.report.eggIm.setup = { users: n, seconds: round(seconds, 2), perSecond: Math.round(n / seconds), method: this.report.meta.userSetup };
    this.log(`${n} users with sessions in ${round(seconds)} s (${Math.round(n / seconds)}/s)`);
    return users;
  }

  /** A scenario's start or end: in wall time for the log summary, and in the worker's clock for --cpu-prof. */
  async markWindow(key: string, node: EggNode, edge: 'from' | 'to'): Promise<void> {
    const name = key.replace(/-\d+$/, '');
    if (edge === 'from' && !this.windows.some(w => w.name === name && w.to === undefined)) this.scenario(name, 'start');
    if (edge === 'to') this.scenario(name, 'end');
    if (!this.settings.cpuProf) return;
    const stats = await this.eggStats(node);
    const window = this.profileWindows[key] ??= { node: node.name, workerPid: node.workerPid, fromUs: 0, toUs: 0 };
    window[edge === 'from' ? 'fromUs' : 'toUs'] = Number(stats.hrtimeUs);
  }

  /** Waits (30 s at most) until the nodes have no deliveries in flight and their workers are nearly idle: a backlog is done. */
  async quiesce(nodes: EggNode[]): Promise<void> {
    const started = Date.now();
    const deadline = started + 30000;
    const pids = nodes.map(n => n.workerPid);
    for (;;) {
      const stats = await Promise.all(nodes.map(n => this.eggStats(n).catch(() => ({ deliveriesInFlight: 0 }))));
      const before = sumCpu(pids);
      await sleep(500);
      const busy = (100 * (sumCpu(pids) - before)) / 0.5;
      if ((stats.every(s => s.deliveriesInFlight === 0) && busy < 30 * pids.length) || Date.now() > deadline) break;
    }
    if (Date.now() - started > 5000) this.log(`  waited ${round((Date.now() - started) / 1000)} s for the server to finish its backlog`);
    await sleep(this.settings.quick ? 200 : 2000);
  }

  async runEggIm(): Promise<void> {
    const { settings } = this;
    this.step('egg-im start and users');
    this.log('== egg-im (test/bench/app on the framework, production mode, MySQL + Redis) ==');
    this.database = uniqueName('db');
    this.databaseUrl = await createDatabase(this.database);
    this.log(`database ${this.database}, Redis prefix ${this.redisPrefix}`);
    const node1 = await this.startNode('node1');
    const users = await this.createUsers(node1);
    const pids1 = { 'egg-im worker': [ node1.workerPid ] };
    const stats1 = () => this.eggStats(node1, '?reset=1');
    const memory = async (gc: boolean) => {
      const s = await this.eggStats(node1, gc ? '?gc=1' : '');
      return { rss: rssBytes(node1.workerPid) ?? s.memory.rss, heap: s.memory.heapUsed, external: s.memory.external };
    };
    const needsSockets = [ 1, 2, 3, 4, 6 ].some(s => this.has(s));
    if (needsSockets) {
      this.step('egg-im connections');
      await this.markWindow('connections', node1, 'from');
      const result = await this.connections('eggIm', users, () => node1.url, memory, pids1, settings.holdS, this.has(1));
      await this.markWindow('connections', node1, 'to');
      if (result) this.report.eggIm.connections = result;
      await this.quiesce([ node1 ]);
    }
    if (this.has(2)) {
      this.step('egg-im one-to-one steady');
      this.log(`egg-im: one-to-one steady, ${settings.steadyRate} msg/s for ${settings.steadyS} s`);
      this.report.eggIm.coldStart = await this.warmUp('egg-im', users, { pids: pids1, stats: stats1, node: node1 }, () => this.quiesce([ node1 ]));
      await this.markWindow('steady', node1, 'from');
      this.report.eggIm.steady = await this.traffic('egg-im steady', `st-${this.runId}`, k => this.pairRoutes(k, users), settings.steadyRate,
        settings.steadyS, settings.drainS, { pids: pids1, stats: stats1, checkStore: true, node: node1 });
      await this.markWindow('steady', node1, 'to');
      this.logSteady('egg-im', this.report.eggIm.steady);
      await this.quiesce([ node1 ]);
    }
    if (this.has(3)) {
      this.step('egg-im saturation');
      this.log('egg-im: one-to-one saturation');
      await this.markWindow('saturation', node1, 'from');
      this.report.eggIm.saturation = await this.saturation('eggIm', k => this.pairRoutes(k, users), pids1, () => this.quiesce([ node1 ]), stats1, node1);
      await this.markWindow('saturation', node1, 'to');
    }
    if (this.has(4)) await this.groupScenario(node1, users, pids1, stats1);
    if (this.has(5)) await this.historyScenario(node1, users);
    if (this.has(6)) await this.twoNodes(node1, users, needsSockets);
  }

  async groupScenario(node: EggNode, users: User[], pids: Record<string, number[]>, stats: () => Promise<any>): Promise<void> {
    this.step('egg-im group');
    const { group, drainS } = this.settings;
    const members = Array.from({ length: group.members }, (_, i) => i);
    const res = await fetch(`${node.url}/im/groups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${users[0].token}` },
      body: JSON.stringify({ name: 'bench group', memberIds: members.slice(1).map(i => users[i].userId) }),
    });
    if (res.status !== 201) throw new Error(`POST /im/groups answered ${res.status}: ${await res.text()}`);
    const { groupId } = await res.json();
    this.log(`egg-im: group ${groupId} of ${members.length} members, ${group.rate} msg/s for ${group.seconds} s`);
    await this.markWindow('group', node, 'from');
    this.report.eggIm.group = await this.traffic('egg-im group', `g-${this.runId}`, k => (k === 0 ? this.groupRoutes(members, groupId) : []),
      group.rate, group.seconds, drainS, { pids, stats, checkStore: true, node });
    await this.markWindow('group', node, 'to');
    this.report.eggIm.group.members = members.length;
    this.logGroup('egg-im', this.report.eggIm.group);
    await this.quiesce([ node ]);
  }

  async historyScenario(node: EggNode, users: User[]): Promise<void> {
    this.step('egg-im history');
    const { history } = this.settings;
    const n = users.length;
    const pairs: Array<[string, string]> = Array.from({ length: history.conversations }, (_, c) => [ users[c % n].userId, users[(c + 2) % n].userId ]);
    this.log(`egg-im: seeding ${(history.conversations * history.perConversation).toLocaleString('en')} messages in ${history.conversations} conversations (multi-row INSERTs)`);
    let lastLog = Date.now();
    const seed = await seedHistory(this.databaseUrl!, pairs, history.perConversation, (rows, total) => {
      if (Date.now() - lastLog > 3000) {
        lastLog = Date.now();
        this.log(`  seed: ${rows.toLocaleString('en')}/${total.toLocaleString('en')} rows`);
      }
    });
    this.log(`seeded in ${round(seed.seconds)} s (${seed.rowsPerSecond.toLocaleString('en')} rows/s)`);
    await sleep(this.settings.quick ? 200 : 3000);
    // The pages are read by a process of their own, which holds none of the sockets: the process that times them
    // does nothing else.
    const reader = this.historyClient = new LoadGen(this.loadgens.length);
    await reader.ready;
    // Recent: conversations written through egg-im just now (POST /im/messages/batch), newest page: what a
    // write-through cache of recent messages would serve.
    const recent = Math.min(history.recent, Math.floor(n / 2));
    const perRecent = history.limit + 10;
    await this.writeRecent(node, users, recent, perRecent);
    // Their recipients are online: the pushes, acknowledgements and receipts end before the first page is timed.
    await this.quiesce([ node ]);
    const stats = await this.eggStats(node);
    await this.markWindow('history', node, 'from');
    const inWorker = await this.historyPhases(reader, node, users, pairs, recent, 0, '', false);
    await this.markWindow('history', node, 'to');
    // The same phases from a node that holds no sockets (the same database and Redis), on conversations of their own
    // for the first and repeat reads: where a deployment routes its history pages ("History on nodes without sockets").
    this.log('egg-im: the same pages from a node that holds no sockets');
    const historyNode = await this.startNode('history');
    await this.markWindow('historyNode', historyNode, 'from');
    const apart = await this.historyPhases(reader, historyNode, users, pairs, recent, history.pages, ' (history node)', true);
    await this.markWindow('historyNode', historyNode, 'to');
    await historyNode.stop();
    reader.stop();
    this.report.eggIm.history = {
      seed, limit: history.limit, deliveriesInFlightAtFirstRead: stats.deliveriesInFlight, ...inWorker, hotConversations: history.hot,
      recentConversations: recent, recentMessagesEach: perRecent, historyConfig: stats.historyConfig,
    };
    this.report.eggIm.historyNode = apart;
  }

  /**
   * The three history phases against `node`: first reads of conversations `offset`.. (never read before), repeat reads
   * of `history.hot` of them, and the newest page of the `recent` conversations just written. `warmUp`: a node just
   * started.
   */
  async historyPhases(reader: LoadGen, node: EggNode, users: User[], pairs: Array<[string, string]>, recent: number, offset: number, suffix: string, warmUp: boolean) {
    const { history } = this.settings;
    const n = users.length;
    const page = (c: number, older: boolean) => ({
      url: `${node.url}/im/conversations/${encodeURIComponent(directConversationId(pairs[c][0], pairs[c][1]))}/messages?limit=${history.limit}` +
        (older ? `&beforeSeq=${history.perConversation - history.limit + 1}` : ''),
      token: users[c % n].token!,
    });
    const phase = async (label: string, requests: Array<{ url: string; token: string }>) => {
      await this.eggStats(node, '?reset=1');
      const cpu = new CpuWindow({ ...this.cpuPids({ 'egg-im worker': [ node.workerPid ] }), 'history client': [ reader.pid ] });
      const result: HttpResult = await this.ticker(label, [ node.workerPid ], () => reader.call('http', {
        tag: label, requests, rate: history.rate, count: requests.length, maxInFlight: 64,
      }));
      const cpuReading = cpu.stop();
      const server = await this.eggStats(node, '?reset=1');
      const { statuses } = result;
      const out = {
        pages: result.done, rate: history.rate, statuses, errors: result.errors,
        bytesPerPage: Math.round(result.bytes / Math.max(1, result.done)),
        clientMs: Histogram.from(result.latency).summary(),
        serverMs: Histogram.from(server.history as HistogramData).summary(),
        cpu: cpuReading,
        serverEventLoop: server.eventLoop,
        serverGc: server.gc,
        loadGenLoopDelayMaxMs: round(result.loopDelayMaxMs, 1),
        loadGenGcMaxMs: round(result.gcMaxMs, 1),
      };
      this.log(`${label}: ${out.pages} pages, client p50 ${out.clientMs.p50} / p99 ${out.clientMs.p99} ms, server p50 ${out.serverMs.p50} / p99 ${out.serverMs.p99} ms, ` +
        `statuses ${JSON.stringify(statuses)}; server loop delay max ${out.serverEventLoop?.delayMaxMs?.toFixed(0)} ms, GC longest ` +
        `${out.serverGc?.minor.maxMs} / ${out.serverGc?.major.maxMs} ms; load generators loop delay max ${out.loadGenLoopDelayMaxMs} ms`);
      return out;
    };
    const recentPages = (count: number) => Array.from({ length: count }, (_, i) => {
      const p = i % recent;
      return {
        url: `${node.url}/im/conversations/${encodeURIComponent(directConversationId(users[2 * p].userId, users[2 * p + 1].userId))}/messages?limit=${history.limit}`,
        token: users[2 * p + (i % 2)].token!,
      };
    });
    if (warmUp) {
      // A node just started runs its code unoptimized (the other node's HTTP path had the users and the recent
      // messages written through it): two seconds of pages untimed, half of them first reads of conversations no
      // phase reads (past both nodes' first reads; wrapping to the first node's when there are none).
      const spare = (i: number) => page((2 * history.pages + i) % history.conversations, false);
      const warming = recentPages(2 * history.rate).map((recentPage, i) => (i % 2 ? recentPage : spare(i)));
      await reader.call('http', { tag: `history warm-up${suffix}`, requests: warming, rate: history.rate, count: warming.length, maxInFlight: 64 });
    }
    // First reads: every page from a conversation never read before (membership and rows from MySQL).
    const firstRead = await phase(`history first read${suffix}`, Array.from({ length: history.pages }, (_, i) => page(offset + i, false)));
    // Repeat reads: a hot set of seeded conversations read again and again, newest and older pages.
    const repeatRead = await phase(`history repeat read${suffix}`, Array.from({ length: history.pages }, (_, i) =>
      page(offset + (i % history.hot), Math.floor(i / history.hot) % 2 === 1)));
    const recentRead = await phase(`history recent read${suffix}`, recentPages(history.pages));
    return { firstRead, repeatRead, recentRead };
  }

  /** `count` messages in each of the first `pairs` pairs' conversations, through POST /im/messages/batch. */
  async writeRecent(node: EggNode, users: User[], pairs: number, count: number): Promise<void> {
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      for (let p = next++; p < pairs; p = next++) {
        const messages = Array.from({ length: count }, (_, i) => ({
          to: { type: 'user', id: users[2 * p + 1].userId }, type: 'text', content: { text: `recent message ${i}` }, clientMsgId: `recent-${this.runId}-${p}-${i}`,
        }));
        const res = await fetch(`${node.url}/im/messages/batch`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${users[2 * p].token}` },
          body: JSON.stringify({ messages }), signal: AbortSignal.timeout(60000),
        });
        const body = await res.json();
        if (res.status !== 200 || body.results?.some((r: any) => !r.ok)) throw new Error(`POST /im/messages/batch answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    this.log(`wrote ${pairs * count} recent messages in ${pairs} conversations through POST /im/messages/batch in ${round((Date.now() - started) / 1000)} s`);
  }

  async twoNodes(node1: EggNode, users: User[], connected: boolean): Promise<void> {
    this.step('egg-im two nodes');
    const { settings } = this;
    const node2 = await this.startNode('node2');
    // Pair p: p % 4 = 0 both on node 1, 1 both on node 2, 2 and 3 split (half the pairs cross nodes).
    const nodeOf = (i: number) => {
      const p = Math.floor(i / 2);
      const kind = p % 4;
      const first = i % 2 === 0;
      return kind === 0 ? 0 : kind === 1 ? 1 : kind === 2 ? (first ? 0 : 1) : (first ? 1 : 0);
    };
    const urls = [ node1.url, node2.url ];
    const moved = new Set<number>();
    // A route by where its ends are: "node 1 → node 2", and whether the recipient was moved to node 2.
    const classify = (route: Route) => {
      const to = route.recipients[0];
      return `node ${nodeOf(route.from) + 1} → node ${nodeOf(to) + 1}${connected && moved.has(to) ? ' (recipient moved)' : ''}`;
    };
    const moving = users.map(u => u.index).filter(i => nodeOf(i) === 1);
    for (const i of moving) moved.add(i);
    if (connected) {
      this.log(`egg-im two nodes: moving ${moving.length} clients to node 2`);
      this.scenario('twoNodes: moving clients', 'start');
      // In slices, as a rebalancing would: every disconnect costs egg-im presence and last-seen writes.
      const slice = this.settings.quick ? moving.length : 250;
      for (let i = 0; i < moving.length; i += slice) {
        await this.disconnectClients(moving.slice(i, i + slice));
        if (i + slice < moving.length) await sleep(250);
      }
      const r = await this.ticker('egg-im reconnect to node 2', [ node2.workerPid ], () => this.connectAll(users, moving, i => urls[nodeOf(i)], true));
      if (r.failed) this.log(`  ${r.failed} failed: ${JSON.stringify(r.errors)}`);
      this.scenario('twoNodes: moving clients', 'end');
    } else {
      const r = await this.ticker('egg-im connections', [ node1.workerPid, node2.workerPid ],
        () => this.connectAll(users, users.map(u => u.index), i => urls[nodeOf(i)], true));
      if (r.failed) this.log(`  ${r.failed} failed: ${JSON.stringify(r.errors)}`);
    }
    await this.quiesce([ node1, node2 ]);
    const sockets = await Promise.all([ node1, node2 ].map(n => this.eggStats(n).then(s => s.sockets)));
    const pids = { 'egg-im worker 1': [ node1.workerPid ], 'egg-im worker 2': [ node2.workerPid ] };
    const options = { pids, stats: () => this.eggStats(node1, '?reset=1'), checkStore: true, classify, node: node1, otherNodes: [ node2 ] };
    const pairs = Math.floor(users.length / 2);
    const crossing = Array.from({ length: pairs }, (_, p) => p % 4 >= 2).filter(Boolean).length;
    const layout = { socketsPerNode: sockets, pairs, crossingPairs: crossing };
    // First at the rate the two-node target is stated at (normal load: the cross-node path below one node's
    // ceiling), then the steady rate, which overloads two nodes on a machine of two cores: measured after it, the
    // target's step met the heaps that overload left (major GCs of node 2 in its slowest second; performance.md).
    const { targetRate, targetSeconds } = settings.twoNodes;
    this.log(`egg-im two nodes: sockets ${sockets.join(' + ')}; at the target's rate, ${targetRate} msg/s for ${targetSeconds} s`);
    this.scenario('twoNodes at the target rate', 'start');
    const atTarget = await this.traffic('egg-im two nodes (target rate)', `tn2-${this.runId}`, k => this.pairRoutes(k, users), targetRate, targetSeconds,
      settings.drainS, options);
    this.scenario('twoNodes at the target rate', 'end');
    this.report.eggIm.twoNodesAtTargetRate = { ...atTarget, ...layout };
    this.logSteady('egg-im two nodes (target rate)', atTarget);
    await this.quiesce([ node1, node2 ]);
    this.log(`egg-im two nodes: one-to-one steady, ${settings.twoNodes.rate} msg/s for ${settings.twoNodes.seconds} s`);
    await Promise.all([ this.markWindow('twoNodes-1', node1, 'from'), this.markWindow('twoNodes-2', node2, 'from') ]);
    const result = await this.traffic('egg-im two nodes', `tn-${this.runId}`, k => this.pairRoutes(k, users), settings.twoNodes.rate,
      settings.twoNodes.seconds, settings.drainS, options);
    await Promise.all([ this.markWindow('twoNodes-1', node1, 'to'), this.markWindow('twoNodes-2', node2, 'to') ]);
    this.report.eggIm.twoNodes = { ...result, ...layout };
    this.logSteady('egg-im two nodes', result);
  }

  // ------------------------------------------------------------------ results

  computeRatiosAndTargets(): void {
    const { bare, eggIm, ratios, targets } = this.report;
    const ratio = (a?: number, b?: number) => (a !== undefined && b ? round(a / b, 2) : undefined);
    if (bare.connections && eggIm.connections) {
      ratios.connections = {
        connectSeconds: ratio(eggIm.connections.connectSeconds, bare.connections.connectSeconds),
        rssPerConnection: ratio(eggIm.connections.server.rssPerConnectionKB, bare.connections.server.rssPerConnectionKB),
        heapPerConnection: ratio(eggIm.connections.server.heapPerConnectionKB, bare.connections.server.heapPerConnectionKB),
      };
    }
    if (bare.steady && eggIm.steady) {
      ratios.steady = {
        p50: ratio(eggIm.steady.e2eMs.p50, bare.steady.e2eMs.p50), p99: ratio(eggIm.steady.e2eMs.p99, bare.steady.e2eMs.p99),
        ackP99: ratio(eggIm.steady.ackMs.p99, bare.steady.ackMs.p99),
        serverCpu: ratio(serverCpu(eggIm.steady.cpu), serverCpu(bare.steady.cpu)),
      };
    }
    if (bare.saturation && eggIm.saturation) {
      ratios.saturation = { highestSustainedRate: ratio(eggIm.saturation.highestSustainedRate, bare.saturation.highestSustainedRate) };
    }
    if (bare.group && eggIm.group) {
      ratios.group = { p99: ratio(eggIm.group.e2eMs.p99, bare.group.e2eMs.p99), deliveriesPerS: ratio(eggIm.group.deliveriesPerS, bare.group.deliveriesPerS) };
    }
    if (bare.steady && eggIm.twoNodes) {
      ratios.twoNodes = { p50: ratio(eggIm.twoNodes.e2eMs.p50, bare.steady.e2eMs.p50), p99: ratio(eggIm.twoNodes.e2eMs.p99, bare.steady.e2eMs.p99) };
    }
    const target = (name: string, goal: string, measured: number | undefined, met: boolean | undefined, note = '') => {
      targets.push({ name, goal, measured, met: measured === undefined ? undefined : met, note });
    };
    if (eggIm.steady) {
      // A latency (or a zero loss) counts only when every send was accepted: refused sends deliver nothing.
      const ok = allAccepted(eggIm.steady);
      const note = ok ? '' : `not every send was accepted: ${eggIm.steady.acked} of ${eggIm.steady.sent} acked, errors ${JSON.stringify(eggIm.steady.errors)}`;
      target('one-to-one steady p99', '≤ 25 ms', eggIm.steady.e2eMs.p99, ok && eggIm.steady.e2eMs.p99 <= 25, note);
      if (ratios.steady) target('one-to-one steady p99 vs bare relay', '≤ 2.5×', ratios.steady.p99, ok && ratios.steady.p99 <= 2.5, note);
      target('one-to-one steady p50', '≤ 5 ms', eggIm.steady.e2eMs.p50, ok && eggIm.steady.e2eMs.p50 <= 5, note);
      target('messages lost (steady)', '0', eggIm.steady.lost, ok && eggIm.steady.lost === 0, ok ? lostNote(eggIm.steady) : note);
      if (ratios.steady) target('server CPU per message vs bare relay (steady)', '≤ 1.3×', ratios.steady.serverCpu, ratios.steady.serverCpu <= 1.3);
    }
    if (eggIm.saturation) {
      target('saturation, persisted msg/s at p99 ≤ 100 ms', '≥ 6,000/s', eggIm.saturation.highestSustainedRate, eggIm.saturation.highestSustainedRate >= 6000);
      if (ratios.saturation) {
        target('saturation vs bare relay', '≥ 60 %', round(100 * ratios.saturation.highestSustainedRate, 0), ratios.saturation.highestSustainedRate >= 0.6);
      }
    }
    if (eggIm.connections) {
      target('server memory per idle connection (RSS)', '≤ 40 KB', eggIm.connections.server.rssPerConnectionKB, eggIm.connections.server.rssPerConnectionKB <= 40);
    }
    if (eggIm.history) {
      const cache = eggIm.history.historyConfig;
      target('history page p99, recent conversation ("from cache")', '≤ 10 ms', eggIm.history.recentRead.clientMs.p99, eggIm.history.recentRead.clientMs.p99 <= 10,
        cache ? `config.im.history of this build: ${JSON.stringify(cache)}` : 'this build has no message-page cache (no config.im.history): the page came from MySQL');
      target('history page p99, first read (from MySQL)', '≤ 50 ms', eggIm.history.firstRead.clientMs.p99, eggIm.history.firstRead.clientMs.p99 <= 50);
    }
    const apart = eggIm.historyNode;
    if (apart) {
      target('history page p99, recent conversation ("from cache"), on a node without sockets', '≤ 10 ms', apart.recentRead.clientMs.p99, apart.recentRead.clientMs.p99 <= 10,
        'the same pages from a node of their own while the 10,000 sockets stay on the first (docs/scaling.md, "History on nodes without sockets")');
      target('history page p99, first read (from MySQL), on a node without sockets', '≤ 50 ms', apart.firstRead.clientMs.p99, apart.firstRead.clientMs.p99 <= 50);
    }
    if (ratios.group) target('group of 500 p99 vs bare relay', '≤ 2×', ratios.group.p99, allAccepted(eggIm.group) && ratios.group.p99 <= 2);
    const atTarget = eggIm.twoNodesAtTargetRate;
    if (atTarget) {
      target(`two nodes p99 at ${atTarget.targetRate.toLocaleString('en')} msg/s`, '≤ 100 ms', atTarget.e2eMs.p99,
        allAccepted(atTarget) && atTarget.lost === 0 && atTarget.e2eMs.p99 <= 100);
    }
    if (eggIm.twoNodes) {
      // Not met when sends were refused (overload): the zero then covers only the accepted ones.
      target(`messages lost (two nodes at ${eggIm.twoNodes.targetRate.toLocaleString('en')} msg/s)`, '0', eggIm.twoNodes.lost, allAccepted(eggIm.twoNodes) && eggIm.twoNodes.lost === 0,
        allAccepted(eggIm.twoNodes) ? lostNote(eggIm.twoNodes) : `not every send was accepted: ${eggIm.twoNodes.acked} of ${eggIm.twoNodes.sent} acked, ${eggIm.twoNodes.lost} of those lost`);
    }
    for (const t of targets) if (t.met === false) Object.assign(t, causeOf(t.name, eggIm, bare));
  }

  /** The node's logged warnings and errors, counted per message and per scenario (or setup / shutdown) they fell in. */
  logProblems(node: EggNode): Array<{ level: string; message: string; when: string; count: number }> {
    const counts = new Map<string, number>();
    const lastEnd = Math.max(0, ...this.windows.map(w => w.to ?? Date.now()));
    for (const { level, message, at } of readLogProblems(node.logDir)) {
      const window = this.windows.find(w => at >= w.from && at <= (w.to ?? Infinity));
      const when = window ? window.name : at > lastEnd ? 'shutdown' : 'setup / between scenarios';
      const key = `${level}\t${message}\t${when}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [ ...counts ].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([ key, count ]) => {
      const [ level, message, when ] = key.split('\t');
      return { level, message, when, count };
    });
  }

  /** Marks a scenario's start or end in wall time (for the log summary). */
  scenario(name: string, edge: 'start' | 'end'): void {
    if (edge === 'start') this.windows.push({ name, from: Date.now() });
    else {
      const window = [ ...this.windows ].reverse().find(w => w.name === name && w.to === undefined);
      if (window) window.to = Date.now();
    }
  }

  /** Stops everything this run started (by PID), drops the database and the Redis keys. Runs once. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const lg of this.loadgens) lg.stop();
      this.historyClient?.stop();
      await stopAll();
      for (const node of this.nodes) (this.report.eggIm.serverLog ??= {})[node.name] = this.logProblems(node);
      await this.counters?.close();
      if (this.database) await dropDatabase(this.database).catch(err => console.error(`[bench] could not drop ${this.database}: ${err.message}`));
      await dropRedisPrefix(this.redisPrefix).catch(err => console.error(`[bench] could not clear Redis prefix ${this.redisPrefix}: ${err.message}`));
    })();
    return this.cleaning;
  }

  summarizeProfiles(): void {
    if (!this.settings.cpuProf) return;
    const dir = path.join(this.tmp, 'profiles');
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    const outDir = path.join(this.outDir, 'profiles');
    fs.mkdirSync(outDir, { recursive: true });
    const texts: string[] = [];
    for (const [ name, w ] of Object.entries(this.profileWindows)) {
      const file = files.find(f => f.includes(`.${w.workerPid}.`));
      if (!file) {
        this.log(`no CPU profile of worker ${w.workerPid} (${name})`);
        continue;
      }
      const target = path.join(outDir, `${w.node}-worker-${w.workerPid}.cpuprofile`);
      if (!fs.existsSync(target)) fs.copyFileSync(path.join(dir, file), target);
      const summary: ProfileSummary = summarizeProfile(target, [ w.fromUs, w.toUs ]);
      summary.file = path.relative(ROOT, target);
      this.report.profiles[name] = { window: w, ...summary };
      texts.push(`== ${name} (${w.node}, worker ${w.workerPid}) ==\n${formatSummary(summary)}`);
    }
    fs.writeFileSync(path.join(outDir, 'summary.txt'), texts.join('\n\n'));
    this.log(`CPU profiles and summaries in ${outDir}`);
  }

  write(): void {
    this.stage = '';
    this.report.meta.durationSeconds = Math.round((Date.now() - this.startedAt) / 1000);
    const outDir = this.outDir;
    const docs = path.join(ROOT, 'docs');
    if (this.settings.quick && path.resolve(outDir) === docs) throw new Error('a --quick run never writes docs/benchmarks.md: give another --out');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'benchmarks.json'), `${reportJson(this.report)}\n`);
    const pictures = path.join(outDir, 'benchmarks');
    fs.mkdirSync(pictures, { recursive: true });
    const written = figures(this.report);
    for (const figure of written) fs.writeFileSync(path.join(pictures, figure.file), figure.svg);
    fs.writeFileSync(path.join(outDir, 'benchmarks.md'), renderMarkdown(this.report));
    this.log(`report: ${path.join(outDir, 'benchmarks.md')}, benchmarks.json and ${written.length} charts in ${pictures}`);
  }
}

/** The commit measured, and the files that differed from it (the tree may hold work in progress). */
function gitState(): { commit: string; changedFiles: string[] } {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const changed = git('status', '--porcelain', '--', 'plugins', 'framework', 'packages')
    .split('\n').filter(Boolean).map(line => line.slice(3));
  return { commit: git('rev-parse', '--short', 'HEAD') || 'unknown', changedFiles: changed };
}

/** Every send of the window acknowledged, none refused, and something delivered. */
function allAccepted(r: any): boolean {
  return r.sent > 0 && r.acked === r.sent && r.e2eMs.count > 0 && Object.keys(r.errors ?? {}).length === 0 && !r.ackTimeouts;
}

function lostNote(r: any): string {
  if (!r.lost) return '';
  return `acknowledged but not pushed within ${r.drainSeconds} s after sending stopped; ${r.lostButStored ?? '?'} of the ${r.lostChecked} checked are stored ` +
    'in the database (a later retry, reconnect or sync delivers those), the rest are missing';
}

/** 3m12s, 45s. */
function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sumCpu(pids: number[]): number {
  return sum(pids.map(p => cpuSeconds(p) ?? 0));
}

function mergeHist(list: HistogramData[]): HistogramData {
  const h = new Histogram();
  for (const d of list) h.merge(d);
  return h.toJSON();
}

function serverCpu(cpu?: CpuReading): number | undefined {
  if (!cpu) return undefined;
  return sum(Object.entries(cpu.processes).filter(([ k ]) => k.startsWith('egg-im worker') || k === 'bare relay').map(([ , v ]) => v));
}

async function main(): Promise<number> {
  let settings: Settings | 'help';
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (err: any) {
    console.error(err.message);
    return 2;
  }
  if (settings === 'help') {
    console.log(USAGE);
    return 0;
  }
  const bench = new Bench(settings);
  let failed = false;
  const abort = (why: string) => {
    // Stopping the processes makes the running scenario fail; main then writes what was measured (marked incomplete).
    console.error(`[bench] ${why}: stopping everything this run started`);
    bench.cleanup().catch(() => undefined);
    setTimeout(() => process.exit(1), 60000).unref();
  };
  const deadline = setTimeout(() => abort(`the run passed its ${settings.deadlineS} s deadline`), settings.deadlineS * 1000);
  for (const signal of [ 'SIGINT', 'SIGTERM' ] as const) process.once(signal, () => abort(`got ${signal}`));
  try {
    await bench.run();
  } catch (err: any) {
    failed = true;
    console.error(`[bench] failed: ${err?.stack ?? err}`);
  } finally {
    await bench.cleanup();
    clearTimeout(deadline);
  }
  if (!failed) {
    bench.summarizeProfiles();
    bench.write();
    printSummary(bench.report);
  } else if (Object.keys(bench.report.eggIm).length || Object.keys(bench.report.bare).length) {
    // What was measured before the failure, marked incomplete, never over docs/benchmarks.md.
    bench.report.meta.incomplete = true;
    bench.settings.out ??= path.join(os.tmpdir(), `egg-im-bench-incomplete-${bench.runId}`);
    try {
      bench.computeRatiosAndTargets();
      bench.write();
    } catch (err: any) {
      console.error(`[bench] could not write the partial report: ${err.message}`);
    }
  }
  fs.rmSync(bench.tmp, { recursive: true, force: true, maxRetries: 2 });
  return failed ? 1 : 0;
}

function printSummary(report: any): void {
  console.log('\nTargets:');
  for (const t of report.targets) {
    console.log(`  ${t.met === undefined ? '  -  ' : t.met ? ' MET ' : 'NOT MET'}  ${t.name}: ${t.measured ?? 'n/a'} (goal ${t.goal})`);
  }
}

if (require.main === module) {
  main().then(code => process.exit(code), err => {
    console.error(err);
    process.exit(1);
  });
}
