/**
 * For a target not met: what this run measured beside it (the cause, read from the run's own figures), and the
 * change that would close it (what docs/performance.md measured; its table "What would close the remaining gaps"
 * keeps the evidence). The report prints one row per target not met.
 */

/** What a traffic window of the benchmark reports (the fields read here). */
interface Window {
  cpu?: { processes: Record<string, number>; machineBusyPct: number };
  serverEventLoop?: { utilization: number; delayP99Ms: number };
  serverGc?: { minor: { maxMs: number }; major: { count: number; maxMs: number } };
  perSecond?: { rows: Array<{ server?: { batches: number; batchMean: number; commitMeanMs: number } }> };
  services?: { perMessage?: Record<string, number> };
  sent?: number;
  acked?: number;
  errors?: Record<string, number>;
}

export interface Cause {
  cause: string;
  change: string;
}

const pct = (value: number | undefined) => (value === undefined ? '?' : `${Math.round(value)} %`);
const ms = (value: number | undefined) => (value === undefined ? '?' : `${Number(value.toFixed(1))} ms`);

/** How busy the machine and the server were in the window, and who used it. */
export function load(w: Window): string {
  const processes = Object.entries(w.cpu?.processes ?? {}).filter(([ , value ]) => value >= 0.5).map(([ name, value ]) => `${name} ${pct(value)}`).join(', ');
  const loop = w.serverEventLoop;
  return `the machine's cores ${pct(w.cpu?.machineBusyPct)} busy (${processes}, each in % of one core)` +
    (loop ? `; the server's event loop ${pct(100 * loop.utilization)} utilized, its delay p99 ${ms(loop.delayP99Ms)}` : '');
}

/** The write batches of the window: their mean size and commit time, weighted by batch, and the slowest second's. */
export function batches(w: Window): string {
  let count = 0;
  let messages = 0;
  let commitMs = 0;
  let slowest: { batchMean: number; commitMeanMs: number } | undefined;
  for (const { server } of w.perSecond?.rows ?? []) {
    if (!server?.batches) continue;
    count += server.batches;
    messages += server.batches * server.batchMean;
    commitMs += server.batches * server.commitMeanMs;
    if (!slowest || server.commitMeanMs > slowest.commitMeanMs) slowest = server;
  }
  if (!slowest) return 'no write batch measured';
  return `write batches of ${Math.round(messages / count)} messages on average, each committed in ${ms(commitMs / count)} on average ` +
    `(in the slowest second ${Math.round(slowest.batchMean)} messages in ${ms(slowest.commitMeanMs)})`;
}

function gc(w: Window): string {
  const g = w.serverGc;
  if (!g) return '';
  return `; the longest young GC pause ${ms(g.minor.maxMs)}, ${g.major.count} full GC(s)${g.major.count ? ` (longest ${ms(g.major.maxMs)})` : ''}`;
}

const CPU_CHANGE = 'Less CPU per message in the worker. The statements\' text is now built once per batch shape (about 0.8 points of a ' +
  'core); the one cut measured on the CPU and not made yet is the bus on a node alone (1.3–1.9 points; it needs a join handshake); ' +
  'the rest is what the worker does that the relay does not (validate, sequence and store each message, keep the cursors), spread ' +
  'over the pipeline with no function above half a point (performance.md, "On the CPU"). On this VM 3.8 points more are page faults ' +
  '(the relay 0.07): the old generation, returned to the system at each full GC, faulted in again by what young collections promote; ' +
  'V8\'s own heap growth removes them and costs as much in full GCs, so they go only with less promotion or a host with cheaper faults ' +
  '(performance.md, "Page faults")';

/** The rows of the report's "not met" table, by target name. */
export function causeOf(name: string, eggIm: any, bare: any): Cause | undefined {
  if (name.startsWith('one-to-one steady') || name === 'messages lost (steady)') {
    const w: Window = eggIm.steady;
    return {
      cause: `${load(w)}; ${batches(w)}${gc(w)}. The bare relay's run: ${load(bare.steady ?? {})}`,
      change: 'Headroom in the worker at this rate: busy 80–85 % of the wall clock at 2,000 msg/s (its CPU profile), its latency is ' +
        'queueing behind its own work and MariaDB\'s commits, on two cores shared with the load generators. A slow second (a full ' +
        'GC\'s main-thread work; a cold process\'s first seconds, measured apart as the cold start) raises the writer\'s cost per ' +
        'message over 1/rate (0.5 ms at 2,000 msg/s), its batches then grow to their cap, and the backlog drains only as fast as that ' +
        'headroom allows: performance.md, "The cold start, reported apart" and "The write batch". ' +
        `${CPU_CHANGE}`,
    };
  }
  if (name.startsWith('server CPU per message')) {
    const worker = eggIm.steady?.cpu?.processes?.['egg-im worker'];
    const relay = bare.steady?.cpu?.processes?.['bare relay'];
    return {
      cause: `the worker ${pct(worker)} of a core against the relay's ${pct(relay)} for the same messages ` +
        `(MySQL statements per message ${statements(eggIm.steady)}); the relay's own figure moves more from run to run than the ` +
        'worker\'s (performance.md keeps both across runs)',
      change: `${worker !== undefined && relay ? `For 1.3× against this run's relay the worker would spend ${Math.max(0, worker - 1.3 * relay).toFixed(1)} points of a core less. ` : ''}${CPU_CHANGE}`,
    };
  }
  if (name.startsWith('saturation')) {
    const step = eggIm.saturation?.steps?.find((s: any) => !s.sustained);
    return {
      cause: step ? `the first step not sustained, ${step.rate.toLocaleString('en')} msg/s: ${step.why}; ${load(step)}` : 'no step was left unsustained',
      change: `As for steady. ${CPU_CHANGE}`,
    };
  }
  if (name.startsWith('history page p99')) {
    const apart = name.endsWith('on a node without sockets');
    const phases = apart ? eggIm.historyNode : eggIm.history;
    const phase = name.includes('recent') ? phases?.recentRead : phases?.firstRead;
    return {
      cause: `client p99 ${ms(phase?.clientMs?.p99)}, the server's own p99 ${ms(phase?.serverMs?.p99)}; ${load(phase ?? {})}${gc(phase ?? {})}`,
      change: apart
        ? 'The node serving the pages shares two cores with the node that holds the sockets, MariaDB, Redis and the load generators: ' +
          'a core of its own (the client p99 above the server\'s is the wait before its middleware)'
        : 'A page must not wait behind the other work of the event loop that runs 10,000 sockets: history served by a process ' +
          'without the sockets (the same store and window; measured in this run, the rows "on a node without sockets")',
    };
  }
  if (name.startsWith('group of')) {
    return {
      cause: `${load(eggIm.group ?? {})}${gc(eggIm.group ?? {})}`,
      change: 'Headroom, as for steady: the group\'s slow seconds in earlier runs were single slow commits and GC pauses (a full GC ' +
        'among them) with the machine busy (performance.md, the group row). Less old-generation growth per message would make ' +
        `full GCs rarer; ${CPU_CHANGE.charAt(0).toLowerCase()}${CPU_CHANGE.slice(1)}`,
    };
  }
  if (name.startsWith('two nodes p99')) {
    const w = eggIm.twoNodesAtTargetRate;
    return {
      cause: `${load(w ?? {})}; MySQL statements per message ${statements(w)}; ${batches(w ?? {})}`,
      change: 'Cores: two workers on two cores shared with MariaDB and the load generators have no headroom; a longer write linger ' +
        'took 10 points off MariaDB without moving the tail (performance.md)',
    };
  }
  if (name.startsWith('messages lost (two nodes')) {
    const w: Window = eggIm.twoNodes ?? {};
    return {
      cause: `${(w.sent ?? 0) - (w.acked ?? 0)} of ${w.sent} sends refused (${JSON.stringify(w.errors ?? {})}), none of the accepted lost; ${load(w)}`,
      change: 'Cores: the two nodes refuse what they cannot carry (the overload limit) rather than lose it; 2,000 msg/s needs more than two shared cores',
    };
  }
  return undefined;
}

function statements(w: Window | undefined): string {
  const perMessage = w?.services?.perMessage;
  if (!perMessage) return '?';
  const total = [ 'Com_insert', 'Com_select', 'Com_update', 'Com_delete' ].reduce((sum, key) => sum + (perMessage[`mysql.${key}`] ?? 0), 0);
  return total.toFixed(2);
}
