import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Command, Progress, Reply } from './protocol';

const REGISTER = require.resolve('ts-node/register/transpile-only');

/** One forked load-generator process (loadgen.ts) and its request/reply channel. */
export class LoadGen {
  readonly child: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  lastProgress?: Progress['progress'];

  constructor(readonly index: number) {
    this.child = fork(path.join(__dirname, '..', 'loadgen.ts'), [], {
      execArgv: [ '--require', REGISTER, '--max-old-space-size=4096' ],
      stdio: [ 'ignore', 'inherit', 'inherit', 'ipc' ],
    });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: any) => {
        if (message?.ready) resolve();
        else if (message?.progress) this.lastProgress = message.progress;
        else if (typeof message?.id === 'number') this.settle(message as Reply);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', (code, signal) => {
        const err = new Error(`load generator ${index} exited (code ${code}, signal ${signal})`);
        reject(err);
        for (const w of this.waiting.values()) w.reject(err);
        this.waiting.clear();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T = any>(cmd: Command['cmd'], args: Command['args']): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, cmd, args });
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private settle(reply: Reply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`load generator ${this.index}: ${reply.error}`));
  }
}
