import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from 'egg-im-testkit';
import { freePort, getJson, start, type Started } from './process';

const ROOT = path.resolve(__dirname, '../..');

/** How long a node may take to answer /readyz (about 7 s here; 20 s with both cores busy). A hook that starts nodes allows more. */
export const NODE_START_MS = 60000;

export interface Node {
  url: string;
  port: number;
  logDir: string;
  process: Started;
  /** Ends the node: SIGTERM (graceful) or SIGKILL (a crash); resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts one egg-im node in its own process (production mode, one worker) on the `node` fixture app
 * (or `baseDir`), and waits until /readyz answers 200. Nodes given the same database and Redis prefix
 * form one cluster through the socket.io Redis adapter.
 */
export async function startNode(env: Record<string, string>, baseDir = path.join(ROOT, 'test/fixtures/apps/node')): Promise<Node> {
  const port = await freePort();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-node-'));
  const started = start(process.execPath, [ 'scripts/cluster.js', '--baseDir', baseDir, '--workers', '1', '--port', String(port) ], {
    cwd: ROOT,
    env: { ...process.env, ...env, IM_LOG_DIR: logDir, EGG_SERVER_ENV: 'prod', NODE_ENV: 'production' },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    // Gives up before the hooks' own timeouts (a hook that starts nodes allows more than NODE_START_MS), and at
    // once when the node exits, so a start that failed says why.
    const outcome = await waitFor(async () => {
      if (started.child.exitCode !== null || started.child.signalCode !== null) return 'exited';
      return (await getJson(`${url}/readyz`)).status === 200 ? 'ready' : undefined;
    }, NODE_START_MS, `node on port ${port} to be ready`);
    if (outcome === 'exited') throw new Error(`node on port ${port} exited while starting (code ${started.child.exitCode}, signal ${started.child.signalCode})`);
  } catch (err) {
    // The whole tree: egg's master, agent and worker would outlive cluster.js.
    killTree(started.child.pid!);
    throw new Error(`${(err as Error).message}\n${started.output()}${logTails(logDir)}`);
  }
  return {
    url,
    port,
    logDir,
    process: started,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (started.child.exitCode === null && started.child.signalCode === null) {
        // cluster.js forwards SIGTERM to egg's master; a SIGKILL must reach the whole process group of the node.
        if (signal === 'SIGKILL') killTree(started.child.pid!);
        else started.child.kill(signal);
      }
      await started.exited;
      if (!process.env.TEST_KEEP_LOGS) fs.rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** SIGKILL for a process and every descendant (a crashed node takes its workers with it). */
function killTree(pid: number): void {
  for (const child of childrenOf(pid)) killTree(child);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The last lines of each log file a node wrote (egg writes its own errors there, not to the console). */
function logTails(logDir: string, lines = 30): string {
  const tails: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else tails.push(`--- ${path.relative(logDir, full)}\n${fs.readFileSync(full, 'utf8').split('\n').slice(-lines).join('\n')}`);
    }
  };
  walk(logDir);
  return tails.length ? `\n${tails.join('\n')}` : '';
}
