/** docs/benchmarks.md from the benchmark's JSON report. */
import { figuresSection } from './figures';


const n = (v: unknown, digits = 1): string => {
  if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) return '–';
  if (typeof v !== 'number') return String(v);
  const rounded = Math.round(v * 10 ** digits) / 10 ** digits;
  return rounded.toLocaleString('en', { maximumFractionDigits: digits });
};
const ratio = (a?: number, b?: number) => (a !== undefined && b ? `${n(a / b, 2)}×` : '–');
const lat = (s: any) => (s ? `${n(s.p50, 2)} / ${n(s.p95, 2)} / ${n(s.p99, 2)} / ${n(s.max, 1)}` : '–');
const cpuOf = (cpu: any, key: string) => (cpu?.processes?.[key] !== undefined ? `${n(cpu.processes[key], 0)} %` : '–');
const serverCpu = (cpu: any) => {
  if (!cpu) return undefined;
  const values = Object.entries(cpu.processes).filter(([ k ]) => k.startsWith('egg-im worker') || k === 'bare relay').map(([ , v ]) => v as number);
  return values.reduce((a, b) => a + b, 0);
};

/** The server's write system calls per delivery (its frames, acks and replies; database and Redis writes too). */
const serverWritesPerDelivery = (r: any) => {
  const perS = r?.cpu?.writeCallsPerS;
  if (!perS || !r.deliveriesPerS) return undefined;
  const writes = Object.entries(perS).filter(([ k ]) => k.startsWith('egg-im worker') || k === 'bare relay').map(([ , v ]) => v as number);
  return writes.reduce((a, b) => a + b, 0) / r.deliveriesPerS;
};

const E2E = 'end-to-end p50 / p95 / p99 / max (ms)';
const ACK = 'sender ack p50 / p95 / p99 / max (ms)';
const DELIVERIES = 'deliveries (per s)';
const CPU = 'server CPU (% of one core)';

/** Seconds (by receive time) in which some delivery took over a second, and the worst of them. */
function stalls(timeline?: Array<[number, number, number]>): string {
  if (!timeline) return '–';
  const slow = timeline.map(([ , max, over ], t) => ({ t, max, over })).filter(x => x.over > 0);
  if (slow.length === 0) return 'none';
  const worst = slow.reduce((a, b) => (b.max > a.max ? b : a));
  return `${slow.length} (at ${worst.t} s: ${worst.over} over 1 s, up to ${n(worst.max, 0)} ms)`;
}

/** The slowest delivery of the messages sent in each second (ms), in order. */
function slowestPerSecond(r: any): string {
  const rows: any[] | undefined = r?.perSecond?.rows;
  return rows?.length ? rows.map(row => n(row.slowestMs, 0)).join(' / ') : '–';
}

/** The warm-up before the steady minute: the first seconds of a server that had not run the send path yet, at the same rate. */
function coldStart(e: any, b: any, seconds: number): string[] {
  return [
    `**The cold start.** Before the minute, ${seconds} s at the same rate on other pairs (each client with its other neighbour): the first ` +
      'messages each server handles, on a process that has not run the send path yet (in the relay\'s run, the load generators\' ' +
      'first messages too; a node that takes its full load as it starts meets the same). Not part of the figures above; what stalls in it: [performance.md, "The cold start"](performance.md#the-cold-start-reported-apart-session-16).',
    table([ '', 'egg-im', 'bare relay', 'egg-im / bare' ], [
      [ 'messages sent / acked', e && `${n(e.sent, 0)} / ${n(e.acked, 0)}`, b && `${n(b.sent, 0)} / ${n(b.acked, 0)}`, '' ],
      [ E2E, lat(e?.e2eMs), lat(b?.e2eMs), ratio(e?.e2eMs.p99, b?.e2eMs.p99) ],
      [ 'slowest delivery per second of sending (ms)', slowestPerSecond(e), slowestPerSecond(b), '' ],
      [ 'lost', e?.lost, b?.lost, '' ],
      [ CPU, e && `${n(serverCpu(e.cpu), 0)} %`, b && `${n(serverCpu(b.cpu), 0)} %`, '' ],
    ]),
  ];
}

function table(head: string[], rows: Array<Array<string | number | undefined>>): string {
  const line = (cells: Array<string | number | undefined>) => `| ${cells.map(c => (c === undefined ? '–' : String(c))).join(' | ')} |`;
  return [ line(head), line(head.map(() => '---')), ...rows.map(line) ].join('\n');
}

/** A row per target not met; targets of one window (steady p99, its ratio, p50) share their cause, said once. */
export function notMetRows(notMet: Array<{ name: string; cause?: string; change?: string }>): string[][] {
  return notMet.map((t, i) => {
    const before = notMet[i - 1];
    return before && t.cause !== undefined && t.cause === before.cause && t.change === before.change
      ? [ t.name, 'as the row above', 'as the row above' ]
      : [ t.name, t.cause ?? 'see its scenario below', t.change ?? '–' ];
  });
}

export function renderMarkdown(report: any): string {
  const { meta, bare, eggIm, ratios, targets, profiles } = report;
  const m = meta.machine;
  const s = meta.settings;
  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines, '');

  p('# egg-im benchmarks');
  if (meta.incomplete) p('> **Incomplete run**: it stopped before the end (see its console output); below is what was measured until then.');
  p(`Measured by \`npm run bench\` (source: [test/bench/](../test/bench/)) on ${meta.date.slice(0, 10)}, in ${n(meta.durationSeconds / 60, 1)} minutes` +
    `${meta.quick ? ' — **a --quick smoke run: small sizes, not representative**' : ''}. Raw figures: [benchmarks.json](benchmarks.json). ` +
    'Run it on your machine with `npm run bench` (about 15 minutes; `npm run bench -- --quick` for a smoke run, `--help` for options).');

  p('## Machine and versions');
  p(table([ 'what', 'value' ], [
    [ 'CPU', `${m.cpuModel}, ${m.nproc} cores (nproc ${m.nproc})` ],
    [ 'Memory', `${m.memoryGiB} GiB` ],
    [ 'Kernel', m.kernel ],
    [ 'Node.js', meta.versions.node ],
    [ 'MariaDB', `${meta.versions.mariadb} (innodb_buffer_pool_size ${n(Number(meta.mysqlSettings.innodb_buffer_pool_size) / 2 ** 20, 0)} MiB, ` +
      `innodb_flush_log_at_trx_commit ${meta.mysqlSettings.innodb_flush_log_at_trx_commit}, log_bin ${meta.mysqlSettings.log_bin})` ],
    [ 'Redis', meta.versions.redis ],
    [ 'socket.io', `server ${meta.versions.socketIo}, client ${meta.versions.socketIoClient} (websocket transport, no bufferutil)` ],
    [ 'egg / egg-im', `${meta.versions.egg} / ${meta.versions.eggIm}` ],
    [ 'egg-im source', `commit ${meta.git?.commit}${meta.git?.changedFiles?.length ? ` plus uncommitted changes in ${meta.git.changedFiles.length} file(s) of plugins/, framework/, packages/` : ''}` ],
    [ 'Other load on the machine', `${n(meta.backgroundCpuPct, 0)} % of one core before the run (see "other processes" in each table)` ],
  ]));

  p('## How it is measured');
  p(
    `- **Everything on one machine**: the server, MariaDB, Redis and the load generators share the ${m.nproc} cores, so the load generators' own CPU ` +
    'is part of every figure (their CPU and event-loop delay are reported beside the results).',
    `- **egg-im**: ${meta.app}. Started with \`node scripts/cluster.js --baseDir test/bench/app --workers 1\`, \`EGG_SERVER_ENV=prod\`, ` +
    'a database created for the run and dropped after it, and a Redis key prefix of its own (socket.io Redis adapter on).',
    `- **Users**: ${meta.userSetup}.`,
    '- **Bare relay** ([bare-relay.ts](../test/bench/bare-relay.ts)): socket.io alone in its own process, a room per user, `message:send` → ' +
      'emit `message:new` to the recipient\'s room with an ack timeout → ack the sender. No auth, no store, no cache, no receipts. ' +
      'egg-im\'s figures are given as ratios to it.',
    `- **Clients**: socket.io-client ${meta.versions.socketIoClient} over websocket, from forked load-generator processes (one per ` +
      `${s.clientsPerLoadGen.toLocaleString('en')} clients), on 127.0.0.1. End-to-end latency is send → the recipient's \`message:new\` ` +
      '(the send time travels in `content`; both ends of a pair live in the same process); ack latency is send → the sender\'s ack. ' +
      'A message is lost when its send was acknowledged and the recipient never got it; counted per pair.',
    `- **Sizes**: ${s.clients.toLocaleString('en')} clients; steady ${s.steadyRate.toLocaleString('en')} msg/s for ${s.steadyS} s` +
      `${s.warmupS ? ` (after ${s.warmupS} s at that rate on other pairs: a cold process's first seconds, reported apart)` : ' (from a cold start)'}; ` +
      `hold ${s.holdS} s (bare relay ${s.bareHoldS} s); saturation steps of ${s.saturation.stepS} s from ${s.saturation.startRate.toLocaleString('en')} msg/s ` +
      `(×${s.saturation.factor}) until p99 > ${s.saturation.p99LimitMs} ms; group of ${s.group.members} at ${s.group.rate} msg/s for ${s.group.seconds} s; ` +
      `history ${(s.history.conversations * s.history.perConversation).toLocaleString('en')} messages in ${s.history.conversations.toLocaleString('en')} ` +
      `conversations, pages of ${s.history.limit} at ${s.history.rate}/s.`,
    '- **CPU** is read from `/proc/<pid>/stat` over each scenario\'s sending window, in % of one core (200 % = both cores); ' +
      'server memory from `/proc/<worker pid>/status` (RSS) and `process.memoryUsage()` after a full GC (heap); the server\'s write ' +
      'system calls from `/proc/<pid>/io` (`syscw`, per delivery: frames corked into one write count once).',
  );

  if (targets.length) {
    p('## Targets');
    p(table([ 'target', 'goal', 'measured', 'met' ], targets.map((t: any) => [
      t.name, t.goal, n(t.measured, 2), t.met === undefined ? '–' : t.met ? '**yes**' : '**no**',
    ])));
    const notes = targets.filter((t: any) => t.note).map((t: any) => `- ${t.name}: ${t.note}`);
    if (notes.length) p(...notes);
    const notMet = targets.filter((t: any) => t.met === false);
    if (notMet.length) {
      p('### Targets not met: the cause measured in this run, and the change that would close it');
      p(table([ 'target', 'measured beside it in this run', 'what would close it' ], notMetRows(notMet)));
      p('The evidence for each change, and what each change already made bought: [performance.md, "What would close the remaining ' +
        'gaps"](performance.md#what-would-close-the-remaining-gaps).');
    }
  }

  if (eggIm.connections || bare.connections) {
    const e = eggIm.connections;
    const b = bare.connections;
    p('## 1. Connections', `Ramp to ${s.clients.toLocaleString('en')} concurrent connections (egg-im: authenticated with a session token), then hold.`);
    p(table([ '', 'egg-im', 'bare relay', 'egg-im / bare' ], [
      [ 'connected / clients', e && `${e.connected} / ${e.clients}`, b && `${b.connected} / ${b.clients}`, '' ],
      [ 'failed handshakes', e?.failed, b?.failed, '' ],
      [ 'time to connect all (s)', n(e?.connectSeconds, 2), n(b?.connectSeconds, 2), ratio(e?.connectSeconds, b?.connectSeconds) ],
      [ 'connections per second', n(e?.connectsPerS, 0), n(b?.connectsPerS, 0), '' ],
      [ 'handshake p50 / p95 / p99 / max (ms)', lat(e?.handshakeMs), lat(b?.handshakeMs), ratio(e?.handshakeMs.p99, b?.handshakeMs.p99) ],
      [ 'hold (s)', e?.holdSeconds, b?.holdSeconds, '' ],
      [ 'disconnects during the hold', e?.disconnectsDuringHold, b?.disconnectsDuringHold, '' ],
      [ 'server RSS before → after (MiB)', e && `${n(e.server.rssBeforeMiB)} → ${n(e.server.rssAfterMiB)}`, b && `${n(b.server.rssBeforeMiB)} → ${n(b.server.rssAfterMiB)}`, '' ],
      [ 'server RSS per connection (KB)', n(e?.server.rssPerConnectionKB), n(b?.server.rssPerConnectionKB), ratio(e?.server.rssPerConnectionKB, b?.server.rssPerConnectionKB) ],
      [ 'server heap per connection (KB, after GC)', n(e?.server.heapPerConnectionKB), n(b?.server.heapPerConnectionKB), ratio(e?.server.heapPerConnectionKB, b?.server.heapPerConnectionKB) ],
      [ 'server CPU while connecting', e && `${n(serverCpu(e.cpuWhileConnecting), 0)} %`, b && `${n(serverCpu(b.cpuWhileConnecting), 0)} %`, '' ],
      [ 'MariaDB / Redis CPU while connecting', e && `${cpuOf(e.cpuWhileConnecting, 'mariadb')} / ${cpuOf(e.cpuWhileConnecting, 'redis')}`,
        b && `${cpuOf(b.cpuWhileConnecting, 'mariadb')} / ${cpuOf(b.cpuWhileConnecting, 'redis')}`, '' ],
      [ 'server CPU while holding (idle sockets)', e?.cpuWhileHolding && `${n(serverCpu(e.cpuWhileHolding), 1)} %`,
        b?.cpuWhileHolding && `${n(serverCpu(b.cpuWhileHolding), 1)} %`, ratio(e?.cpuWhileHolding && serverCpu(e.cpuWhileHolding), b?.cpuWhileHolding && serverCpu(b.cpuWhileHolding)) ],
      [ 'MariaDB / Redis CPU while holding', e?.cpuWhileHolding && `${cpuOf(e.cpuWhileHolding, 'mariadb')} / ${cpuOf(e.cpuWhileHolding, 'redis')}`,
        b?.cpuWhileHolding && `${cpuOf(b.cpuWhileHolding, 'mariadb')} / ${cpuOf(b.cpuWhileHolding, 'redis')}`, '' ],
    ]));
  }

  const trafficRows = (cols: any[]) => [
    [ 'target rate → sent (msg/s)', ...cols.map(r => r && `${n(r.targetRate, 0)} → ${n(r.sendRate, 0)}`) ],
    [ 'messages sent / acked', ...cols.map(r => r && `${n(r.sent, 0)} / ${n(r.acked, 0)}`) ],
    [ E2E, ...cols.map(r => lat(r?.e2eMs)) ],
    [ 'deliveries slower than 100 ms / 240 ms', ...cols.map(r => r && `${n(r.e2eOver100MsPct, 2)} % / ${n(r.e2eOver240MsPct, 2)} %`) ],
    [ 'seconds with a delivery slower than 1 s (worst)', ...cols.map(r => stalls(r?.timeline)) ],
    [ ACK, ...cols.map(r => lat(r?.ackMs)) ],
    [ DELIVERIES, ...cols.map(r => r && `${n(r.deliveries, 0)} (${n(r.deliveriesPerS, 0)}/s)`) ],
    [ 'lost: acked, not pushed by the end of the drain (routes with a loss) [of them stored]', ...cols.map(r => r && `${r.lost} (${r.lostRoutes})` +
      (r.lostButStored !== undefined ? ` [${r.lostButStored} of ${r.lostChecked} stored]` : '')) ],
    [ 'errors / ack timeouts', ...cols.map(r => r && `${Object.keys(r.errors).length ? JSON.stringify(r.errors) : 0} / ${r.ackTimeouts}`) ],
    [ 'duplicates / out of order', ...cols.map(r => r && `${r.duplicates} / ${r.outOfOrder}`) ],
    [ CPU, ...cols.map(r => r && `${n(serverCpu(r.cpu), 0)} %`) ],
    [ 'server write system calls per delivery', ...cols.map(r => n(serverWritesPerDelivery(r), 2)) ],
    [ 'MariaDB / Redis CPU', ...cols.map(r => r && `${cpuOf(r.cpu, 'mariadb')} / ${cpuOf(r.cpu, 'redis')}`) ],
    [ 'load generators CPU / loop delay p99', ...cols.map(r => r && `${cpuOf(r.cpu, 'loadGenerators')} / ${n(r.loadGenLoopDelayP99Ms, 1)} ms`) ],
    [ 'other processes on the machine (CPU)', ...cols.map(r => r && `${n(r.cpu?.othersPct, 0)} %`) ],
    [ 'machine busy (all cores)', ...cols.map(r => r && `${n(r.cpu?.machineBusyPct, 0)} %`) ],
    [ 'MySQL statements / commits per message', ...cols.map(r => r?.services && `${n(r.services.perMessage['mysql.Questions'], 2)} / ${n(r.services.perMessage['mysql.Com_commit'], 2)}`) ],
    [ 'InnoDB row lock waits / deadlocks (window)', ...cols.map(r => r?.services && `${n(r.services.totals['mysql.Innodb_row_lock_waits'], 0)} / ${n(r.services.totals['mysql.Innodb_deadlocks'], 0)}`) ],
    [ 'Redis commands per message', ...cols.map(r => r?.services && n(r.services.perMessage['redis.commands'], 2)) ],
    [ 'server event loop: utilization / delay p99', ...cols.map(r => (r?.serverEventLoop ? `${n(100 * r.serverEventLoop.utilization, 0)} % / ${n(r.serverEventLoop.delayP99Ms, 1)} ms` : '–')) ],
    [ 'server GC pauses: young / full (count, total, longest)', ...cols.map(r => (r?.serverGc ? gcCell(r.serverGc) : '–')) ],
  ];

  if (eggIm.steady || bare.steady) {
    const e = eggIm.steady;
    const b = bare.steady;
    p('## 2. One-to-one, steady', `${s.clients.toLocaleString('en')} clients connected, ${s.clients / 2} pairs, ${s.steadyRate.toLocaleString('en')} msg/s ` +
      `spread over the pairs (both ways) for ${s.steadyS} s. egg-im persists every message (MySQL), routes it, pushes it, records the ` +
      'delivery receipt and tells the sender: the clients ask for cursors, as the typed client does, so the delivered cursor rides in the ' +
      'sender\'s ack when the recipient acknowledged before it left (`im.delivery.deliveredInAckMs`), else in a `message:cursors` frame.');
    const rows = trafficRows([ e, b ]);
    const ratios2: Record<string, string> = {
      [E2E]: `${ratio(e?.e2eMs.p50, b?.e2eMs.p50)} (p50), ${ratio(e?.e2eMs.p99, b?.e2eMs.p99)} (p99)`,
      [ACK]: `${ratio(e?.ackMs.p50, b?.ackMs.p50)} (p50), ${ratio(e?.ackMs.p99, b?.ackMs.p99)} (p99)`,
      [CPU]: ratio(serverCpu(e?.cpu), serverCpu(b?.cpu)),
    };
    p(table([ '', 'egg-im', 'bare relay', 'egg-im / bare' ], rows.map(row => [ ...row, ratios2[row[0] as string] ?? '' ])));
    if (eggIm.coldStart || bare.coldStart) p(...coldStart(eggIm.coldStart, bare.coldStart, s.warmupS));
  }

  if (eggIm.saturation || bare.saturation) {
    const e = eggIm.saturation;
    const b = bare.saturation;
    p('## 3. One-to-one, saturation', `The rate rises in steps of ${s.saturation.stepS} s (×${s.saturation.factor} from ` +
      `${s.saturation.startRate.toLocaleString('en')} msg/s). A step is *sustained* when end-to-end p99 stays within ${s.saturation.p99LimitMs} ms ` +
      'with nothing lost, refused or timed out at the rate offered; it *keeps up* when, whatever its latency, every message was delivered ' +
      'without loss and without a backlog at the end. Steps go on while the server keeps up; when no step is sustained, two lower rates are tried.');
    p(table([ '', 'egg-im', 'bare relay', 'egg-im / bare' ], [
      [ `highest sustained rate, p99 ≤ ${s.saturation.p99LimitMs} ms (msg/s)`, n(e?.highestSustainedRate, 0), n(b?.highestSustainedRate, 0),
        ratio(e?.highestSustainedRate, b?.highestSustainedRate) ],
      [ 'highest rate kept up, any latency (msg/s)', n(e?.highestKeptUpRate, 0), n(b?.highestKeptUpRate, 0), ratio(e?.highestKeptUpRate, b?.highestKeptUpRate) ],
      [ 'first rate that fell behind (msg/s)', n(e?.firstFellBehindRate, 0), n(b?.firstFellBehindRate, 0), '' ],
    ]));
    for (const [ name, sat ] of [ [ 'egg-im', e ], [ 'bare relay', b ] ] as const) {
      if (!sat) continue;
      p(`${name} steps:`);
      p(table([ 'rate', 'sent/s', 'delivered/s', 'e2e p50 / p95 / p99 / max (ms)', 'lost', 'server CPU', 'MariaDB / Redis CPU', 'load gen loop p99', 'result' ],
        sat.steps.map((st: any) => [
          n(st.rate, 0), n(st.sendRate, 0), n(st.deliveriesPerS, 0), lat(st.e2eMs), st.lost, `${n(serverCpu(st.cpu), 0)} %`,
          `${cpuOf(st.cpu, 'mariadb')} / ${cpuOf(st.cpu, 'redis')}`, `${n(st.loadGenLoopDelayP99Ms, 1)} ms`,
          st.sustained ? 'sustained' : st.keptUp ? `kept up; ${st.why}` : `fell behind: ${st.why}`,
        ])));
    }
  }

  if (eggIm.group || bare.group) {
    const e = eggIm.group;
    const b = bare.group;
    p('## 4. Group', `A group of ${s.group.members} members (all connected), ${s.group.rate} msg/s from its members in turn for ${s.group.seconds} s; ` +
      `each message goes to the ${s.group.members - 1} other members, and their delivery receipts go back to the sender as cursors ` +
      '(`message:cursors`, coalesced per turn of the server).');
    const rows = trafficRows([ e, b ]);
    const ratios4: Record<string, string> = {
      [E2E]: `${ratio(e?.e2eMs.p50, b?.e2eMs.p50)} (p50), ${ratio(e?.e2eMs.p99, b?.e2eMs.p99)} (p99)`,
      [DELIVERIES]: ratio(e?.deliveriesPerS, b?.deliveriesPerS),
      [CPU]: ratio(serverCpu(e?.cpu), serverCpu(b?.cpu)),
    };
    p(table([ '', 'egg-im', 'bare relay', 'egg-im / bare' ], rows.map(row => [ ...row, ratios4[row[0] as string] ?? '' ])));
  }

  if (eggIm.history) {
    const h = eggIm.history;
    p('## 5. History', `${h.seed.messages.toLocaleString('en')} messages in ${h.seed.conversations.toLocaleString('en')} direct conversations, seeded ` +
      `straight into MySQL with multi-row INSERTs in ${n(h.seed.seconds)} s (${h.seed.rowsPerSecond.toLocaleString('en')} rows/s). ` +
      `Pages of ${h.limit} through \`GET /im/conversations/:id/messages\` at ${s.history.rate} pages/s over HTTP keep-alive, with the ${s.clients.toLocaleString('en')} ` +
      'sockets still connected (the pages are read by a process of their own, which holds none of them). *First read*: each page from a seeded conversation never read before (membership and rows from MySQL). ' +
      `*Repeat read*: ${h.hotConversations} seeded conversations read again and again, newest and older pages. *Recent read*: the newest page of ` +
      `${h.recentConversations} conversations that just got ${h.recentMessagesEach} messages each through \`POST /im/messages/batch\` (what a cache of ` +
      `recent messages would hold). This build's message-page cache config (\`config.im.history\`): \`${JSON.stringify(h.historyConfig)}\`. ` +
      'Server time is measured by the bench app\'s middleware.');
    const apart = eggIm.historyNode;
    if (apart) {
      p('Each phase runs twice: on the node that holds the sockets, then on a node started for it that holds none (the same ' +
        'database and Redis; its first and repeat reads on conversations of their own, after two seconds of untimed recent pages to ' +
        'warm its code): where a deployment would route the pages ([scaling](scaling.md#history-on-nodes-without-sockets)).');
    }
    const phases = (x: any) => [ x.firstRead, x.repeatRead, x.recentRead ];
    const columns = [ ...phases(h), ...(apart ? phases(apart) : []) ];
    const row = (label: string, f: (x: any) => string | number | undefined) => [ label, ...columns.map(x => (x ? f(x) : '–')) ];
    const names = [ 'first read', 'repeat read', 'recent read' ];
    p(table([ '', ...names, ...(apart ? names.map(name => `${name}, node without sockets`) : []) ], [
      row('pages (HTTP statuses; requests without a response, by cause)', x => `${x.pages} (${JSON.stringify(x.statuses)}; ${failedRequests(x.errors)})`),
      row('client p50 / p95 / p99 / max (ms)', x => lat(x.clientMs)),
      row('server p50 / p95 / p99 / max (ms)', x => lat(x.serverMs)),
      row('bytes per page', x => n(x.bytesPerPage, 0)),
      row('server CPU', x => `${n(serverCpu(x.cpu), 0)} %`),
      row('MariaDB CPU', x => cpuOf(x.cpu, 'mariadb')),
      row('server GC pauses: young / full (count, total, longest)', x => (x.serverGc ? gcCell(x.serverGc) : '–')),
      row('page reader: CPU / loop delay max / GC longest', x => `${cpuOf(x.cpu, 'history client')} / ${n(x.loadGenLoopDelayMaxMs)} ms / ${n(x.loadGenGcMaxMs)} ms`),
    ]));
  }

  if (eggIm.twoNodes) {
    const t = eggIm.twoNodes;
    p('## 6. Two nodes', `Two egg-im processes (one worker each) joined by the socket.io Redis adapter, ${t.socketsPerNode.join(' + ')} sockets; ` +
      `the steady load (${t.targetRate.toLocaleString('en')} msg/s for ${n(t.seconds, 0)} s) with ${t.crossingPairs} of ${t.pairs} pairs split across the nodes` +
      (eggIm.twoNodesAtTargetRate ? `, after ${n(eggIm.twoNodesAtTargetRate.seconds, 0)} s at the two-node target's rate (measured first: a step after the steady load would meet what that load left).` : '.'));
    const t2 = eggIm.twoNodesAtTargetRate;
    const cols = t2 ? [ t, t2, eggIm.steady, bare.steady ] : [ t, eggIm.steady, bare.steady ];
    const rows = trafficRows(cols);
    const cpuRow = rows.findIndex(row => row[0] === CPU);
    const two = (r: any) => r && `${cpuOf(r.cpu, 'egg-im worker 1')} + ${cpuOf(r.cpu, 'egg-im worker 2')}`;
    rows[cpuRow] = [ CPU, two(t), ...(t2 ? [ two(t2) ] : []),
      eggIm.steady && `${n(serverCpu(eggIm.steady.cpu), 0)} %`, bare.steady && `${n(serverCpu(bare.steady.cpu), 0)} %` ];
    p(table([ '', `egg-im, two nodes, ${n(t.targetRate, 0)} msg/s`, ...(t2 ? [ `egg-im, two nodes, ${n(t2.targetRate, 0)} msg/s (the target's rate)` ] : []),
      'egg-im, one node (scenario 2)', 'bare relay, one process' ], rows));
    p(`Two nodes / bare relay: p50 ${ratio(t.e2eMs.p50, bare.steady?.e2eMs.p50)}, p99 ${ratio(t.e2eMs.p99, bare.steady?.e2eMs.p99)}.`);
    for (const [ label, r ] of [ [ `${n(t.targetRate, 0)} msg/s`, t ], [ `${n(t2?.targetRate, 0)} msg/s`, t2 ] ] as const) {
      if (r?.lostBy && Object.keys(r.lostBy).length) p(`Messages not pushed by the end of the drain at ${label}, by route: \`${JSON.stringify(r.lostBy)}\`.`);
    }
  }

  out.push(...figuresSection(report));

  if (profiles && Object.keys(profiles).length) {
    p('## CPU profiles (--cpu-prof)');
    for (const [ name, prof ] of Object.entries<any>(profiles)) {
      p(`### ${name}: ${prof.file}, ${n(prof.totalMs / 1000, 1)} s, ${prof.busyPct} % busy`);
      p(table([ 'package (self time)', '%' ], prof.byPackage.slice(0, 12).map((r: any) => [ r.name, r.pct ])));
      p(table([ 'function (self time)', '%' ], prof.topSelf.slice(0, 15).map((r: any) => [ `\`${r.name}\``, r.pct ])));
      p(table([ 'innermost egg-im function on the stack', '%' ], prof.byEggImFunction.slice(0, 15).map((r: any) => [ `\`${r.name}\``, r.pct ])));
    }
  }

  if (eggIm.serverLog) {
    const lines = Object.entries<any[]>(eggIm.serverLog).flatMap(([ node, rows ]) => rows.map(r => [
      node, r.when, r.level, r.count, `\`${r.message.replace(/\|/g, '\\|')}\``,
    ]));
    p('## Warnings and errors egg-im logged', 'From the nodes\' egg-web.log, by the scenario they fell in (*shutdown*: after the last scenario, when the load generators are stopped and every socket drops at once).');
    p(lines.length ? table([ 'node', 'when', 'level', 'count', 'message (ids and numbers masked)' ], lines) : 'None.');
  }

  if (ratios && Object.keys(ratios).length) {
    p('## Ratios to the bare relay', '```json', JSON.stringify(ratios, null, 2), '```');
  }
  p('<details><summary>Settings of this run (JSON)</summary>', '', '```json', JSON.stringify(s, null, 2), '```', '</details>');
  return out.join('\n');
}

/** A history phase's requests that got no response: by cause, or only their count in reports written before causes were kept. */
function failedRequests(errors: Record<string, number> | number | undefined): string {
  if (typeof errors === 'number') return errors ? `${errors} failed, cause not recorded` : 'none failed';
  return errors && Object.keys(errors).length ? `failed: ${JSON.stringify(errors)}` : 'none failed';
}

function gcCell(gc: { minor: { count: number; totalMs: number; maxMs: number }; major: { count: number; totalMs: number; maxMs: number } }): string {
  const one = (s: { count: number; totalMs: number; maxMs: number }) => `${s.count}, ${n(s.totalMs, 0)} ms, ${n(s.maxMs, 1)} ms`;
  return `${one(gc.minor)} / ${one(gc.major)}`;
}

/** The report as indented JSON, each per-second row of a timeline (`rows`, `seconds`) on one line (a full run has hundreds). */
export function reportJson(report: unknown): string {
  const rows: string[] = [];
  const text = JSON.stringify(report, (key, value) => ((key === 'rows' || key === 'seconds') && Array.isArray(value)
    ? value.map(row => `\u0000${rows.push(JSON.stringify(row)) - 1}`) : value), 2);
  return text.replace(/"\\u0000(\d+)"/g, (_, i) => rows[Number(i)]);
}
