import v8 from 'node:v8';

/**
 * The V8 flags egg-im sets in each process that loads it, before the app's own code runs.
 *
 * `--no-allocation-site-pretenuring`: V8 decides, from what survived earlier collections, that a place in the code
 * allocates long-lived objects, and from then on makes them in the old generation. An IM node's heavy phases (a
 * burst of connections, a first read of many conversations) make such decisions for containers that later live a
 * millisecond: a row list, a page, a request's state. Dead in the old generation, they still hold young objects,
 * which each young collection copies and promotes until the next full one. Measured on the benchmark's history
 * reads: 6 MB surviving each young collection, with the flag 0.15 MB (docs/performance.md).
 *
 * `--heap-growing-percent=200`: after a full GC the old generation may grow to three times what survived it before
 * the next one. V8's own factor shrinks as less is promoted, which kept full GCs every ~6 s at 2,000 msg/s, each a
 * second of slow deliveries on a busy worker; with this, one every ~85 s. The price is memory: a worker holding
 * 10,000 sockets (~215 MB live) peaks near 650 MB instead of 300 MB.
 */
export const V8_FLAGS: readonly string[] = [ '--no-allocation-site-pretenuring', '--heap-growing-percent=200' ];

/**
 * The V8 flags that only take effect when node starts, so they go on node's command line, not here: `npm start`
 * (scripts/cluster.js) and the benchmark pass them; a published app gives them to `egg-scripts start`
 * (`--node-options--…`, docs/operations.md).
 *
 * `--max-semi-space-size=64`: a larger young generation; the message path allocates many short-lived objects
 * (measured: GC from 7.7 % to 4.0 % of a worker at 1,200 msg/s).
 *
 * `--no-memory-reducer`: when allocation slowed (the load dropped), V8 compacted the whole heap, grown by
 * `--heap-growing-percent` above, in one pause of 130-180 ms while requests still came.
 */
export const START_FLAGS: readonly string[] = [ '--max-semi-space-size=64', '--no-memory-reducer' ];

/** The flag's name without its dashes or `no`, with `_` as `-` (V8 reads `-x`, `--x`, `--no-x`, `--nox`, `_` for `-`). */
function flagName(arg: string): string {
  return arg.split('=')[0].replace(/_/g, '-').replace(/^--?(no-?)?/, '');
}

/** The flags of `flags` that `execArgv` (node's command line) does not set either way: those are the operator's. */
export function notGiven(flags: readonly string[], execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.filter(arg => arg.startsWith('-')).map(flagName));
  return flags.filter(flag => !given.has(flagName(flag)));
}

/** The flags of `V8_FLAGS` the framework sets in this process. */
export function flagsToApply(execArgv: readonly string[]): string[] {
  return notGiven(V8_FLAGS, execArgv);
}

let applied: readonly string[] | undefined;

/** Sets the flags `flagsToApply` leaves, once per process; returns them. */
export function applyV8Flags(execArgv: readonly string[] = process.execArgv): readonly string[] {
  if (!applied) {
    applied = flagsToApply(execArgv);
    for (const flag of applied) v8.setFlagsFromString(flag);
  }
  return applied;
}

/** What `applyV8Flags` set in this process. */
export function appliedV8Flags(): readonly string[] {
  return applied ?? [];
}
