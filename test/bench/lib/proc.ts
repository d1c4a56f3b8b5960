import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** Linux /proc readings: memory and CPU time of a process, the machine's CPU, process trees. */

let clockTicks = 0;
function ticksPerSecond(): number {
  if (!clockTicks) {
    try {
      clockTicks = Number(execFileSync('getconf', [ 'CLK_TCK' ], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Resident set size of a process in bytes (VmRSS), or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used, in seconds. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields after it are space separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name (state is the first).
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Write system calls a process has made (`syscw` in /proc/<pid>/io): each socket write is one, whatever its size. */
export function writeCalls(pid: number): number | undefined {
  try {
    const match = /^syscw:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU time of the whole machine, in seconds (all cores). */
export function machineSeconds(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = values[3] + (values[4] || 0); // idle + iowait
  return { busy: (total - idle) / ticksPerSecond(), total: total / ticksPerSecond() };
}

export function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (const child of childrenOf(pid)) out.push(child, ...descendantsOf(child));
  return out;
}

export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** PIDs whose command name (/proc/<pid>/comm) is one of `names` (e.g. the database and Redis servers). */
export function pidsByName(names: string[]): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to a process and every descendant, children first. */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of childrenOf(pid)) killTree(child, signal);
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export interface CpuReading {
  /** CPU used over the window, in % of one core, per label. */
  processes: Record<string, number>;
  /** The whole machine's busy time over the window, in % of all cores. */
  machineBusyPct: number;
  /** Busy time of everything else on the machine (other processes, the kernel), in % of one core. */
  othersPct: number;
  /** Write system calls per second over the window, per label (frames and replies leave in them). */
  writeCallsPerS: Record<string, number>;
  seconds: number;
}

/** Measures CPU use of named processes over a window: `const w = new CpuWindow({...}); ...; w.stop()`. */
export class CpuWindow {
  private readonly start: Map<string, number> = new Map();
  private readonly startWrites: Map<string, number> = new Map();
  private readonly startMachine = machineSeconds();
  private readonly startedAt = process.hrtime.bigint();

  constructor(private readonly pids: Record<string, number[]>) {
    for (const [ label, list ] of Object.entries(pids)) {
      this.start.set(label, sum(list.map(cpuSeconds)));
      this.startWrites.set(label, sum(list.map(writeCalls)));
    }
  }

  stop(): CpuReading {
    const seconds = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    const processes: Record<string, number> = {};
    const writeCallsPerS: Record<string, number> = {};
    for (const [ label, list ] of Object.entries(this.pids)) {
      processes[label] = round1((100 * (sum(list.map(cpuSeconds)) - (this.start.get(label) ?? 0))) / seconds);
      writeCallsPerS[label] = round1((sum(list.map(writeCalls)) - (this.startWrites.get(label) ?? 0)) / seconds);
    }
    const machine = machineSeconds();
    const busy = machine.busy - this.startMachine.busy;
    const total = machine.total - this.startMachine.total;
    const ours = Object.values(processes).reduce((a, b) => a + b, 0);
    return {
      processes,
      machineBusyPct: round1(total > 0 ? (100 * busy) / total : 0),
      othersPct: round1(Math.max(0, (100 * busy) / seconds - ours)),
      writeCallsPerS,
      seconds: round1(seconds),
    };
  }
}

function sum(values: Array<number | undefined>): number {
  return values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

const round1 = (v: number) => Math.round(v * 10) / 10;

export function machineInfo() {
  const cpus = os.cpus();
  return {
    nproc: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}
