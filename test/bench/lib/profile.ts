import fs from 'node:fs';

/** Summaries of a V8 CPU profile (`node --cpu-prof`): where the process's time went, optionally within a window. */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Profiled time in the window, ms, and the share of it that was not idle. */
  totalMs: number;
  busyPct: number;
  samples: number;
  /** Self time by package or kind (node internals, GC, a dependency, an egg-im plugin). */
  byPackage: Row[];
  /** Self time of single functions. */
  topSelf: Row[];
  /** Time below egg-im's own functions (plugins/, framework/): each sample goes to the innermost egg-im frame on its stack. */
  byEggImFunction: Row[];
}

const SPECIAL = new Set([ '(idle)', '(program)', '(garbage collector)', '(root)' ]);

/** The package or kind a frame belongs to. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName) && !url) return functionName;
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const own = /\/(plugins|framework|packages)\/([^/]+)\//.exec(url);
  if (own) return own[2];
  if (url.includes('/test/bench/')) return 'bench app';
  return url.replace(/^file:\/\//, '');
}

const isEggIm = (frame: CallFrame) => /\/(plugins|framework)\/egg-im[^/]*\//.test(frame.url) && !frame.url.includes('/node_modules/');

function label(frame: CallFrame): string {
  const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/(plugins|framework|packages|test)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
}

function top(map: Map<string, number>, total: number, n: number): Row[] {
  return [ ...map.entries() ].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([ name, us ]) => ({ name, ms: Math.round(us / 100) / 10, pct: Math.round((1000 * us) / total) / 10 }));
}

/** `window`: [fromUs, toUs] in the profiled process's monotonic clock (process.hrtime in µs), as the bench app reports it. */
export function summarizeProfile(file: string, window?: [number, number], n = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const packages = new Map<string, number>();
  const eggIm = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let samples = 0;
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i];
    const duration = profile.timeDeltas[i + 1] ?? 0;
    if (window && (time < window[0] || time > window[1])) continue;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    samples++;
    total += duration;
    const frame = node.callFrame;
    const pkg = packageOf(frame);
    if (pkg === '(idle)') idle += duration;
    packages.set(pkg, (packages.get(pkg) ?? 0) + duration);
    const name = label(frame);
    self.set(name, (self.get(name) ?? 0) + duration);
    // The innermost egg-im function on the stack answers for this sample.
    let owner: string | undefined;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (isEggIm(f)) {
        owner = label(f);
        break;
      }
    }
    const key = owner ?? (pkg === '(idle)' ? '(idle)' : `(no egg-im frame) ${pkg}`);
    eggIm.set(key, (eggIm.get(key) ?? 0) + duration);
  }
  const busy = total - idle;
  return {
    file,
    totalMs: Math.round(total / 1000),
    busyPct: total ? Math.round((1000 * busy) / total) / 10 : 0,
    samples,
    byPackage: top(packages, total, n),
    topSelf: top(new Map([ ...self ].filter(([ k ]) => k !== '(idle)')), total, n),
    byEggImFunction: top(new Map([ ...eggIm ].filter(([ k ]) => k !== '(idle)')), total, n),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const lines = [ `${summary.file}: ${summary.totalMs} ms profiled, ${summary.busyPct} % busy, ${summary.samples} samples`, '' ];
  const table = (title: string, rows: Row[]) => {
    lines.push(`${title}`, ...rows.map(r => `  ${String(r.pct).padStart(5)} %  ${String(r.ms).padStart(9)} ms  ${r.name}`), '');
  };
  table('Self time by package (share of all profiled time, idle included):', summary.byPackage);
  table('Top functions by self time:', summary.topSelf);
  table('Time under the innermost egg-im function on the stack:', summary.byEggImFunction);
  return lines.join('\n');
}
