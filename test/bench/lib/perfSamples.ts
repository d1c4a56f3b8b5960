/**
 * On-CPU samples of a process (Linux `perf record -g`, read back with `perf script -F ip,sym,dso`), sorted into
 * what the time went to. Unlike V8's `--cpu-prof`, which samples the wall clock and charges a process for the time it
 * was preempted inside a system call, `perf` counts only the time the process ran, kernel included: the measure to
 * compare egg-im's worker with the bare relay on a machine whose cores they share with MariaDB and the load.
 */

/** One sample's stack, innermost frame first: the symbol of each frame. */
export type Stack = string[];

/** Stacks from `perf script -F ip,sym,dso` output: a block of `<address> <symbol> (<dso>)` lines per sample. */
export function parsePerfScript(text: string): Stack[] {
  const stacks: Stack[] = [];
  let stack: Stack = [];
  for (const line of text.split('\n')) {
    const frame = /^\s*[0-9a-f]+ (.*) \(([^()]*)\)$/.exec(line);
    if (frame) {
      stack.push(frame[1]);
    } else if (line.trim() === '' && stack.length > 0) {
      stacks.push(stack);
      stack = [];
    }
  }
  if (stack.length > 0) stacks.push(stack);
  return stacks;
}

const GC_HELPER = /PlatformWorkerThread/;
/** The kernel's page-fault entry: the process touched memory for the first time (or again, after giving it back). */
const PAGE_FAULT = /^(asm_)?exc_page_fault$/;
const GC_MAIN = /Heap::CollectGarbage|ScavengerCollector|MarkCompactCollector|Heap::PerformGarbageCollection/;
/** libc's entry for each system call the event loop spends its kernel time in. */
const SYSCALLS: Record<string, string> = {
  __GI___writev: 'system call: writev (frames to clients)',
  __GI___libc_write: 'system call: write (MySQL, Redis)',
  read: 'system call: read',
  __GI___libc_read: 'system call: read',
  epoll_pwait: 'system call: epoll_pwait (waiting)',
};
const SOCKET_IO = new Set([ 'engine.io', 'engine.io-parser', 'socket.io', 'socket.io-parser', 'socket.io-adapter', 'ws', '@socket.io/component-emitter', 'debug', 'base64id' ]);

/**
 * What a sample's time went to: a page fault (whoever touched the page: on a VM each costs the host's work too),
 * GC (V8's helper threads, or the main thread collecting), a system call made
 * below the innermost JavaScript frame, else the code of that innermost JavaScript frame (the runtime and
 * builtins it called count as its own): egg-im's, socket.io's stack, another package, node's own JavaScript.
 */
export function categoryOf(stack: Stack): string {
  if (stack.some(s => PAGE_FAULT.test(s))) return 'page faults (memory touched the first time)';
  if (stack.some(s => GC_HELPER.test(s))) return 'GC: V8 helper threads';
  if (stack.some(s => GC_MAIN.test(s))) return 'GC: main thread';
  for (const symbol of stack) {
    if (symbol.startsWith('JS:') || symbol.startsWith('Builtin:')) break;
    if (SYSCALLS[symbol]) return SYSCALLS[symbol];
  }
  const js = stack.find(s => s.startsWith('JS:'));
  if (!js) return 'native, no JavaScript frame';
  const modules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(js);
  if (modules) return SOCKET_IO.has(modules[1]) ? 'socket.io, engine.io, ws' : `package: ${modules[1]}`;
  if (/\/(plugins|packages|framework)\/[^/]+\//.test(js)) return 'egg-im code';
  if (js.includes('/test/bench/')) return 'the benchmark\'s code (the relay\'s handlers, the app\'s timeline)';
  if (/ node:/.test(js)) return 'node\'s JavaScript';
  return 'other JavaScript';
}

/** The share of one core spent with a frame matching `pattern` anywhere on the stack (a function and all it called). */
export function inclusiveShare(stacks: Stack[], pattern: RegExp, hz: number, seconds: number): number {
  return (100 * stacks.filter(stack => stack.some(s => pattern.test(s))).length) / (hz * seconds);
}

export interface CategoryRow {
  category: string;
  /** Share of one core over the recording, per process given (in the order given). */
  core: number[];
}

/**
 * Per category, the share of one core each process spent on it: samples / (frequency × seconds recorded).
 * Sorted by how much more the last process spent than the first.
 */
export function compareCategories(processes: Stack[][], hz: number, seconds: number): { rows: CategoryRow[]; totals: number[] } {
  const counts = processes.map(stacks => {
    const count = new Map<string, number>();
    for (const stack of stacks) {
      const category = categoryOf(stack);
      count.set(category, (count.get(category) ?? 0) + 1);
    }
    return count;
  });
  const share = (samples: number) => (100 * samples) / (hz * seconds);
  const categories = new Set(counts.flatMap(count => [ ...count.keys() ]));
  const rows = [ ...categories ].map(category => ({ category, core: counts.map(count => share(count.get(category) ?? 0)) }));
  const gap = (row: CategoryRow) => row.core[row.core.length - 1] - row.core[0];
  rows.sort((a, b) => gap(b) - gap(a));
  return { rows, totals: processes.map(stacks => share(stacks.length)) };
}

export function formatComparison(names: string[], { rows, totals }: { rows: CategoryRow[]; totals: number[] }): string {
  const cell = (n: number, width = 9) => n.toFixed(1).padStart(width);
  const gap = (values: number[]) => (values.length > 1 ? cell(values[values.length - 1] - values[0], 13) : '');
  const line = (label: string, values: number[]) => `${label.padEnd(42)}${values.map(v => cell(v)).join('')}${gap(values)}`;
  const head = `${'on-CPU, % of one core'.padEnd(42)}${names.map(n => n.slice(0, 9).padStart(9)).join('')}${names.length > 1 ? 'last − first'.padStart(13) : ''}`;
  return [ head, ...rows.map(row => line(row.category, row.core)), line('total', totals) ].join('\n');
}
