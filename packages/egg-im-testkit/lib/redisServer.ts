import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { installExitHook, ownedProcesses } from './owned';
import { freeTcpPort } from './ports';

const OUTPUT_TAIL = 8192;

/**
 * Sends one inline command over a plain socket and returns the reply's text (a simple string,
 * an error line or a bulk string). Deliberately independent of any Redis client library.
 */
export function redisInlineCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const done = (err: Error | null, value?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? '');
    };
    const timer = setTimeout(() => done(new Error(`[egg-im-testkit] redis on port ${port} did not answer ${command} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', err => done(err));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', chunk => {
      buffer = Buffer.concat([ buffer, chunk ]);
      const lineEnd = buffer.indexOf('\r\n');
      if (lineEnd < 0) return;
      const head = buffer.subarray(0, lineEnd).toString();
      if (head[0] === '+' || head[0] === ':') return done(null, head.slice(1));
      if (head[0] === '-') return done(new Error(`[egg-im-testkit] redis replied ${head.slice(1)}`));
      if (head[0] === '$') {
        const length = Number(head.slice(1));
        if (length < 0) return done(null, '');
        const start = lineEnd + 2;
        if (buffer.length >= start + length) done(null, buffer.subarray(start, start + length).toString());
        return;
      }
      done(new Error(`[egg-im-testkit] unexpected reply from redis: ${head.slice(0, 80)}`));
    });
  });
}

/** True when a Redis server on `port` answers PING within `timeoutMs`. */
export async function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  try {
    return (await redisInlineCommand(port, 'PING', timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}

export interface RedisServerOptions {
  /** Port to listen on; a free one is chosen when absent. */
  port?: number;
  /** Working folder (`--dir`, where `SAVE` writes `dump.rdb`); a fresh temporary folder when absent. */
  dir?: string;
  /** The redis-server binary; env `IM_TEST_REDIS_SERVER` or `redis-server` on the PATH. */
  binary?: string;
  /** How long to wait for the first PING answer. */
  startTimeoutMs?: number;
}

/**
 * A throwaway `redis-server` for fault tests, started with
 * `redis-server --port N --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir <dir>`
 * as a child of this process. It is handed out only once that very process (checked by its PID)
 * answers PING, and it is stopped by its own PID, never by name.
 *
 * `stop()` ends the process but keeps the port and the folder, so `start()` brings "the same"
 * server back (loading `dump.rdb` if the test ran `SAVE` before); `dispose()` stops it for good
 * and removes the folder if this object created it.
 */
export class ThrowawayRedis {
  readonly port: number;
  readonly dir: string;
  private readonly binary: string;
  private readonly startTimeoutMs: number;
  private readonly ownsDir: boolean;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private spawnError?: Error;
  private outputTail = '';

  private constructor(port: number, dir: string, ownsDir: boolean, options: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.ownsDir = ownsDir;
    this.binary = options.binary ?? process.env.IM_TEST_REDIS_SERVER ?? 'redis-server';
    this.startTimeoutMs = options.startTimeoutMs ?? 5000;
  }

  /** Picks the port and folder and starts the server. */
  static async start(options: RedisServerOptions = {}): Promise<ThrowawayRedis> {
    const port = options.port ?? await freeTcpPort();
    const dir = options.dir ?? await fs.mkdtemp(path.join(os.tmpdir(), 'egg-im-redis-'));
    const server = new ThrowawayRedis(port, dir, options.dir === undefined, options);
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** PID of the current process (undefined when stopped). */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.child;
    return !!child && this.spawnError === undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The last few KB of the server's own output ("Ready to accept connections", "DB loaded from disk", errors). */
  output(): string {
    return this.outputTail;
  }

  /** Starts (or restarts, on the same port and folder) the server and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`[egg-im-testkit] redis-server on port ${this.port} is already running`);
    installExitHook();
    this.spawnError = undefined;
    const child = spawn(this.binary, [
      '--port', String(this.port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      '--dir', this.dir,
    ], { stdio: [ 'ignore', 'pipe', 'pipe' ] });
    this.child = child;
    ownedProcesses.add(child);
    const keep = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString()).slice(-OUTPUT_TAIL);
    };
    // Always drain both pipes: a full pipe would block the server's logging, and so the server.
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise<void>(resolve => {
      child.once('exit', () => resolve());
      child.once('error', err => {
        this.spawnError = err;
        resolve();
      });
    }).then(() => {
      ownedProcesses.delete(child);
    });

    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (!this.running) {
        // (set by the 'error' listener, which TypeScript's narrowing cannot see)
        const spawnError = this.spawnError as Error | undefined;
        const reason = spawnError ? spawnError.message : `exited with ${child.exitCode ?? child.signalCode}`;
        throw new Error(`[egg-im-testkit] redis-server on port ${this.port} ${reason}: ${this.outputTail.slice(-1000)}`);
      }
      if (await pingRedis(this.port, 250)) {
        // Make sure the server that answered is ours, not something already on that port.
        const info = await redisInlineCommand(this.port, 'INFO server', 1000);
        const pid = /process_id:(\d+)/.exec(info)?.[1];
        if (Number(pid) === child.pid) return;
        await this.stop('SIGKILL');
        throw new Error(`[egg-im-testkit] port ${this.port} is already taken by another redis-server (pid ${pid})`);
      }
      if (Date.now() > deadline) {
        await this.stop('SIGKILL');
        throw new Error(`[egg-im-testkit] redis-server on port ${this.port} did not answer PING within ${this.startTimeoutMs} ms: ${this.outputTail.slice(-1000)}`);
      }
      await new Promise(resolve => setTimeout(resolve, 25));
    }
  }

  /** Freezes the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, 'SIGSTOP');
  }

  /** Lets a paused process run again (SIGCONT). */
  resume(): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, 'SIGCONT');
  }

  /** Ends the process (SIGTERM by default; SIGKILL simulates a crash) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) {
      await this.exited;
      return;
    }
    try {
      process.kill(pid, signal);
      // a paused process acts on SIGTERM only once it runs again
      if (signal !== 'SIGKILL') process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its folder if this object created it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts a throwaway redis-server (see {@link ThrowawayRedis}). */
export function startRedisServer(options: RedisServerOptions = {}): Promise<ThrowawayRedis> {
  return ThrowawayRedis.start(options);
}
