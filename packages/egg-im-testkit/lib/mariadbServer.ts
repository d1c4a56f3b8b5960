/**
 * A throwaway `mariadbd` for fault tests: its own temporary datadir, its own port, its own process.
 * It can be killed (as a crash) and started again on the same datadir and port; `destroy()` stops
 * only the process this helper started (by its PID) and removes the temporary folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { installExitHook, ownedDirs, ownedProcesses } from './owned';
import { freeTcpPort } from './ports';

const PREFIX = '[egg-im-testkit]';

export interface MariadbServerOptions {
  /** Port to listen on; a free one is picked when unset. */
  port?: number;
  /** How long to wait for the server to accept connections, per start. */
  startTimeoutMs?: number;
  /** How long to wait for the process to exit after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}


function findBinary(names: string[], envName: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const dirs = [...(process.env.PATH || '').split(path.delimiter), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const name of names) {
    for (const dir of dirs) {
      if (!dir) continue;
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  throw new Error(`${PREFIX} cannot find ${names.join(' or ')} (set ${envName})`);
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class MariadbServer {
  readonly port: number;
  readonly dir: string;
  readonly dataDir: string;
  private readonly socketPath: string;
  private readonly errorLog: string;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(dir: string, port: number, options: MariadbServerOptions) {
    this.dir = dir;
    this.port = port;
    this.dataDir = path.join(dir, 'data');
    this.socketPath = path.join(dir, 'mysqld.sock');
    this.errorLog = path.join(dir, 'error.log');
    this.startTimeoutMs = options.startTimeoutMs ?? 20000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10000;
  }

  /** Creates a datadir in a new temporary folder and starts a server on it. */
  static async create(options: MariadbServerOptions = {}): Promise<MariadbServer> {
    installExitHook();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-mdb-'));
    ownedDirs.add(dir);
    const server = new MariadbServer(dir, options.port ?? (await freeTcpPort()), options);
    try {
      server.installDb();
      await server.start();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  /** `mysql://root@127.0.0.1:<port>`, optionally with a database path. Grants are skipped: any user/password is accepted. */
  url(database = '', user = 'root', password = ''): string {
    const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
    return `mysql://${auth}@127.0.0.1:${this.port}/${database}`;
  }

  /** PID of the running server, or undefined when it is not running. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  private commonArgs(): string[] {
    // small InnoDB files keep the temporary datadir at a few MB
    return ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=16M'];
  }

  private installDb(): void {
    const installer = findBinary(['mariadb-install-db', 'mysql_install_db'], 'IM_TEST_MARIADB_INSTALL_DB');
    const result = spawnSync(installer, [
      '--no-defaults',
      '--auth-root-authentication-method=normal',
      `--datadir=${this.dataDir}`,
      `--user=${os.userInfo().username}`,
      '--skip-test-db',
      ...this.commonArgs(),
    ], { encoding: 'utf8', timeout: 60000 });
    if (result.status !== 0) {
      const output = `${result.stdout || ''}${result.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`${PREFIX} ${installer} failed (status ${result.status}${result.error ? `, ${result.error.message}` : ''}):\n${output}`);
    }
  }

  /** Starts the server on the same datadir and port; resolves once it answers a ping. */
  async start(): Promise<void> {
    if (this.running) return;
    const binary = findBinary(['mariadbd', 'mysqld'], 'IM_TEST_MARIADBD');
    const child = spawn(binary, [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--port=${this.port}`,
      `--socket=${this.socketPath}`,
      `--pid-file=${path.join(this.dir, 'mysqld.pid')}`,
      `--log-error=${this.errorLog}`,
      '--bind-address=127.0.0.1',
      `--user=${os.userInfo().username}`,
      '--skip-grant-tables',
      '--skip-name-resolve',
      '--skip-log-bin',
      ...this.commonArgs(),
    ], { stdio: 'ignore' });
    this.child = child;
    ownedProcesses.add(child);
    this.exited = new Promise<void>(resolve => {
      child.once('exit', () => {
        ownedProcesses.delete(child);
        resolve();
      });
      child.once('error', () => {
        ownedProcesses.delete(child);
        resolve();
      });
    });

    const deadline = Date.now() + this.startTimeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`${PREFIX} mariadbd exited during start (port ${this.port}):\n${tail(this.errorLog)}`);
      }
      try {
        const conn = await mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root', connectTimeout: 1000 });
        try {
          await conn.ping();
        } finally {
          await conn.end();
        }
        return;
      } catch (err) {
        lastError = (err as { code?: string }).code || (err as Error).message;
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    await this.kill();
    throw new Error(`${PREFIX} mariadbd did not accept connections on port ${this.port} within ${this.startTimeoutMs} ms (${lastError}):\n${tail(this.errorLog)}`);
  }

  /** Kills the server process (SIGKILL by default: a crash) and waits until it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) return;
    process.kill(child.pid, signal);
    await this.waitExit(this.stopTimeoutMs);
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, like a hung host. */
  pause(): void {
    if (this.running && this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGSTOP');
  }

  /**
   * `pause()`, then waits until every thread of the server has stopped: SIGSTOP reaches a busy thread only when
   * it next enters the kernel, so a reply it was writing may still leave just after `pause()` returns.
   */
  async paused(): Promise<void> {
    this.pause();
    const pid = this.child?.pid;
    if (!this.running || pid === undefined) return;
    const stopped = () => fs.readdirSync(`/proc/${pid}/task`).every(tid => {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return /\) [tT] /.test(stat);
    });
    for (let i = 0; i < 200 && !stopped(); i++) await new Promise(resolve => setTimeout(resolve, 5));
  }

  /** Lets a paused server run again (SIGCONT). */
  resume(): void {
    if (this.running && this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGCONT');
  }

  /** Stops the server gracefully (SIGTERM), then SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) return;
    this.resume(); // a paused process would not act on SIGTERM
    process.kill(child.pid, 'SIGTERM');
    if (!(await this.waitExit(this.stopTimeoutMs)) && this.running) {
      process.kill(child.pid, 'SIGKILL');
      await this.waitExit(this.stopTimeoutMs);
    }
  }

  /** Stops the server and removes its temporary folder. */
  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
      ownedDirs.delete(this.dir);
    }
  }

  private async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.exited) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>(resolve => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.exited.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Creates a datadir in a temporary folder and starts a `mariadbd` of its own on it. */
export function startMariadbServer(options?: MariadbServerOptions): Promise<MariadbServer> {
  return MariadbServer.create(options);
}
