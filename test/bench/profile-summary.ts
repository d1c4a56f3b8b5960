/**
 * Summarizes a V8 CPU profile: self time by package and by function, and the time under each egg-im function.
 *   node -r ts-node/register/transpile-only test/bench/profile-summary.ts <file.cpuprofile> [--from <µs> --to <µs>] [--top 25]
 * `--from`/`--to` cut the profile to a window of the profiled process's monotonic clock (process.hrtime in µs;
 * the benchmark records each scenario's window in its JSON report when run with --cpu-prof).
 */
import { parseArgs } from 'node:util';
import { formatSummary, summarizeProfile } from './lib/profile';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string', default: '25' } },
});
if (positionals.length === 0) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [--from <µs> --to <µs>] [--top 25]');
  process.exit(2);
}
const window = values.from && values.to ? [ Number(values.from), Number(values.to) ] as [number, number] : undefined;
for (const file of positionals) console.log(formatSummary(summarizeProfile(file, window, Number(values.top))));
