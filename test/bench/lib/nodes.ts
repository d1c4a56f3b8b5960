import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freeTcpPort as freePort } from 'egg-im-testkit';
import { START_FLAGS, notGiven } from '../../../framework/egg-im/lib/v8Flags';
import { alive, commandLine, descendantsOf, killTree } from './proc';

export const ROOT = path.resolve(__dirname, '../../..');
const REGISTER = require.resolve('ts-node/register/transpile-only');

/** Every process the benchmark started, by PID, so that any exit path can end them. */
export const started = new Set<{ name: string; child: ChildProcess; stop: () => Promise<void> }>();


const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, label: string, failed: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failed();
    if (reason) throw new Error(`${label}: ${reason}`);
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${label}: not ready after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Ends a process tree: SIGTERM to its root (graceful), SIGKILL to whatever is left after `graceMs`. */
async function endTree(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (!pid) return;
  const tree = [ pid, ...descendantsOf(pid) ];
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (tree.some(alive) && Date.now() < deadline) await sleep(100);
  for (const p of tree) if (alive(p)) killTree(p, 'SIGKILL');
}

export interface EggNode {
  name: string;
  url: string;
  port: number;
  /** cluster.js, the egg master under it, the agent and the app worker. */
  pid: number;
  workerPid: number;
  logDir: string;
  output(): string;
  stop(): Promise<void>;
}

export interface EggNodeOptions {
  name: string;
  env: Record<string, string>;
  logDir: string;
  runDir: string;
  benchKey: string;
  /**
   * Node flags for the master and (inherited) the agent and the app worker, e.g. --cpu-prof (which NODE_OPTIONS does
   * not take). cluster.js is then started with ts-node already preloaded, so it does not restart itself without them.
   */
  execArgv?: string[];
}

/** One egg-im node on the bench app: `node scripts/cluster.js --baseDir test/bench/app --workers 1 --port P` in production mode. */
export async function startEggNode(options: EggNodeOptions): Promise<EggNode> {
  const port = await freePort();
  fs.mkdirSync(options.logDir, { recursive: true });
  fs.mkdirSync(options.runDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env, ...options.env, EGG_SERVER_ENV: 'prod', NODE_ENV: 'production', PORT: String(port),
    IM_LOG_DIR: options.logDir, IM_RUN_DIR: options.runDir, IM_BENCH_KEY: options.benchKey,
  };
  // cluster.js adds its node flags only when it restarts itself (without ts-node preloaded): a run with flags of
  // its own runs with the same as `npm start`, except those it sets itself.
  const production = notGiven(START_FLAGS, options.execArgv ?? []);
  const flags = options.execArgv?.length ? [ '--require', REGISTER, ...production, ...options.execArgv ] : [];
  const child = spawn(process.execPath, [ ...flags, 'scripts/cluster.js', '--baseDir', 'test/bench/app', '--workers', '1', '--port', String(port) ], {
    cwd: ROOT, env, stdio: [ 'ignore', 'pipe', 'pipe' ],
  });
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-65536); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const entry = { name: options.name, child, stop: () => endTree(child, 20000) };
  started.add(entry);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 200,
      120000, `${options.name} on port ${port}`, () => (child.exitCode !== null ? `exited early:\n${output}` : undefined));
  } catch (err) {
    await entry.stop();
    started.delete(entry);
    throw err;
  }
  // The app worker: the egg master's child running egg-cluster's app_worker.js (the other one is the agent).
  const workerPid = descendantsOf(child.pid!).find(pid => commandLine(pid).includes('app_worker'));
  if (!workerPid) throw new Error(`${options.name}: no app worker under pid ${child.pid}`);
  return {
    name: options.name, url, port, pid: child.pid!, workerPid, logDir: options.logDir, output: () => output,
    async stop() {
      await entry.stop();
      started.delete(entry);
    },
  };
}

export interface BareRelay {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The bare socket.io relay (bare-relay.ts) in its own process. */
export async function startBareRelay(): Promise<BareRelay> {
  const port = await freePort();
  const child = fork(path.join(__dirname, '..', 'bare-relay.ts'), [ '--port', String(port) ], {
    execArgv: [ '--require', REGISTER ], stdio: [ 'ignore', 'ignore', 'inherit', 'ipc' ],
  });
  const entry = { name: 'bare relay', child, stop: () => endTree(child, 5000) };
  started.add(entry);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', code => reject(new Error(`the bare relay exited (code ${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      await entry.stop();
      started.delete(entry);
    },
  };
}

export async function stopAll(): Promise<void> {
  await Promise.all([ ...started ].map(entry => entry.stop().catch(() => undefined)));
  started.clear();
}

/** Warnings and errors an egg-im node logged, with their times (egg logs local time) and ids and numbers masked. */
export function readLogProblems(logDir: string): Array<{ level: string; message: string; at: number }> {
  const out: Array<{ level: string; message: string; at: number }> = [];
  let text = '';
  try {
    text = fs.readFileSync(path.join(logDir, 'egg-web.log'), 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const match = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) (WARN|ERROR) \d+ (.*)$/.exec(line);
    if (!match) continue;
    const [ , y, mo, d, h, mi, sec, ms, level, rest ] = match;
    const message = rest.replace(/^\[-\/[^\]]*\]\s*/, '').replace(/\b[a-z]{1,2}_[a-z0-9]{10,}\b/g, '<id>').replace(/\d+/g, 'N').slice(0, 200);
    out.push({ level, message, at: new Date(+y, +mo - 1, +d, +h, +mi, +sec, +ms).getTime() });
  }
  return out;
}
