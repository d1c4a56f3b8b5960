/**
 * Compares on-CPU samples of processes recorded with Linux perf: the share of one core each spent per category
 * (test/bench/lib/perfSamples.ts). The recipe, for the worker and the bare relay in one run (docs/performance.md):
 * (from a scratch clone: every process writes its jit-<pid>.dump and an isolate log into the cwd, `perf inject` its
 * jitted-*.so files; NODE_OPTIONS reaches the load generators too, which then run slower)
 *   NODE_OPTIONS=--perf-prof npm run bench -- --scenarios=1,2 …       (JIT symbols for perf)
 *   perf record -k mono -F 499 -g -p <pid> -o <name>.data -- sleep 30    (during the steady minute)
 *   perf inject --jit -i <name>.data -o <name>.jit.data && perf script -i <name>.jit.data -F ip,sym,dso > <name>.txt
 *   node -r ts-node/register/transpile-only test/bench/perf-summary.ts --hz 499 --seconds 30 relay=relay.txt worker=worker.txt \
 *     [--inclusive 'MessageWriter|runScript' …]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { compareCategories, formatComparison, inclusiveShare, parsePerfScript } from './lib/perfSamples';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { hz: { type: 'string' }, seconds: { type: 'string' }, inclusive: { type: 'string', multiple: true, default: [] } },
});
const hz = Number(values.hz);
const seconds = Number(values.seconds);
if (positionals.length === 0 || !(hz > 0) || !(seconds > 0) || positionals.some(p => !p.includes('='))) {
  console.error('usage: perf-summary.ts --hz <perf record -F> --seconds <recorded> name=<perf script output> … [--inclusive <regex> …]');
  process.exit(2);
}
const processes = positionals.map(p => {
  const [ name, file ] = [ p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1) ];
  return { name, stacks: parsePerfScript(fs.readFileSync(file, 'utf8')) };
});
console.log(formatComparison(processes.map(p => p.name), compareCategories(processes.map(p => p.stacks), hz, seconds)));
for (const pattern of values.inclusive) {
  const shares = processes.map(p => `${p.name} ${inclusiveShare(p.stacks, new RegExp(pattern), hz, seconds).toFixed(2)} %`);
  console.log(`with a frame matching /${pattern}/ on the stack: ${shares.join(', ')}`);
}
