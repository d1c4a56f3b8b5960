import assert from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertWellFormed } from './lib/wellFormed';

const ROOT = path.resolve(__dirname, '../..');
const DOCS = path.join(ROOT, 'docs/benchmarks.md');
const hashOf = (file: string) => (fs.existsSync(file) ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : 'absent');

const latency = (value: any, label: string) => {
  for (const key of [ 'count', 'p50', 'p95', 'p99', 'max' ]) assert.equal(typeof value?.[key], 'number', `${label}.${key}`);
};

describe('the benchmark, --quick (npm run bench -- --quick)', function() {
  this.timeout(180000);
  let out: string;
  let child: ChildProcess | undefined;

  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-bench-smoke-'));
  });

  after(() => {
    // The benchmark stops what it started on SIGTERM; only reached when the test itself failed or timed out.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('runs every scenario against egg-im and the bare relay and writes the report, never docs/benchmarks.md', async () => {
    const docsBefore = hashOf(DOCS);
    let output = '';
    child = spawn(process.execPath, [ '--require', require.resolve('ts-node/register/transpile-only'), 'test/bench/index.ts', '--quick', `--out=${out}` ], {
      cwd: ROOT, env: { ...process.env }, stdio: [ 'ignore', 'pipe', 'pipe' ],
    });
    child.stdout!.on('data', chunk => { output += chunk; });
    child.stderr!.on('data', chunk => { output += chunk; });
    const code = await new Promise<number | null>(resolve => child!.once('exit', resolve));
    assert.equal(code, 0, output);
    assert.equal(hashOf(DOCS), docsBefore, 'a --quick run must not touch docs/benchmarks.md');

    const report = JSON.parse(fs.readFileSync(path.join(out, 'benchmarks.json'), 'utf8'));
    const markdown = fs.readFileSync(path.join(out, 'benchmarks.md'), 'utf8');
    const { meta, eggIm, bare } = report;
    assert.equal(meta.quick, true);
    assert.deepEqual(meta.scenarios, [ 1, 2, 3, 4, 5, 6 ]);
    assert(meta.machine.nproc >= 1 && meta.machine.cpuModel && meta.machine.memoryGiB > 0, JSON.stringify(meta.machine));
    for (const key of [ 'node', 'mariadb', 'redis', 'socketIo', 'egg', 'eggIm' ]) assert.equal(typeof meta.versions[key], 'string', `versions.${key}`);

    // 1. connections
    for (const c of [ eggIm.connections, bare.connections ]) {
      assert.equal(c.clients, meta.settings.clients);
      assert.equal(typeof c.connected, 'number');
      assert.equal(typeof c.connectSeconds, 'number');
      assert.equal(typeof c.disconnectsDuringHold, 'number');
      assert.equal(typeof c.server.rssPerConnectionKB, 'number');
      assert.equal(typeof c.server.heapPerConnectionKB, 'number');
    }
    // 2. steady, 4. group, 6. two nodes: latencies, losses, CPU
    for (const [ label, r ] of Object.entries<any>({ 'eggIm.steady': eggIm.steady, 'bare.steady': bare.steady, 'eggIm.group': eggIm.group,
      'bare.group': bare.group, 'eggIm.twoNodes': eggIm.twoNodes })) {
      latency(r.e2eMs, `${label}.e2eMs`);
      latency(r.ackMs, `${label}.ackMs`);
      assert(r.sent > 0, `${label}.sent`);
      assert.equal(typeof r.lost, 'number', `${label}.lost`);
      assert.equal(typeof r.deliveriesPerS, 'number', `${label}.deliveriesPerS`);
      assert.equal(typeof r.cpu.machineBusyPct, 'number', `${label}.cpu`);
    }
    // The cold start: the warm-up before the steady minute, reported apart from it.
    for (const [ label, r ] of Object.entries<any>({ 'eggIm.coldStart': eggIm.coldStart, 'bare.coldStart': bare.coldStart })) {
      latency(r?.e2eMs, `${label}.e2eMs`);
      assert(r.sent > 0 && r.perSecond.rows.length > 0, `${label}: its messages and their seconds`);
    }
    assert.match(markdown, /\*\*The cold start\.\*\* Before the minute, 1 s at the same rate/);
    assert.match(markdown, /\| slowest delivery per second of sending \(ms\) \| [\d,]+( \/ [\d,]+)* \| [\d,]+( \/ [\d,]+)* \|/);
    assert.equal(typeof eggIm.steady.cpu.processes['egg-im worker'], 'number');
    // The server's write system calls (its frames leave in them): the worker and the relay both write.
    assert(eggIm.steady.cpu.writeCallsPerS['egg-im worker'] > 0, 'eggIm.steady write calls');
    assert(bare.steady.cpu.writeCallsPerS['bare relay'] > 0, 'bare.steady write calls');
    assert.match(markdown, /\| server write system calls per delivery \| [\d.]+ \| [\d.]+ \|/);
    assert.deepEqual(eggIm.twoNodes.socketsPerNode.length, 2);
    // 3. saturation
    for (const s of [ eggIm.saturation, bare.saturation ]) {
      assert.equal(typeof s.highestSustainedRate, 'number');
      assert(s.steps.length >= 1);
    }
    // 5. history
    // On the node that holds the sockets, then on a node that holds none.
    for (const where of [ 'history', 'historyNode' ]) {
      for (const phase of [ 'firstRead', 'repeatRead', 'recentRead' ]) {
        latency(eggIm[where][phase].clientMs, `${where}.${phase}.clientMs`);
        latency(eggIm[where][phase].serverMs, `${where}.${phase}.serverMs`);
        assert.equal(eggIm[where][phase].pages, meta.settings.history.pages, `${where}.${phase}.pages`);
        // A request without a response is counted by its cause (none on the smoke run's small load).
        assert.deepEqual(eggIm[where][phase].errors, {}, `${where}.${phase}.errors`);
        assert.deepEqual(eggIm[where][phase].statuses, { 200: meta.settings.history.pages }, `${where}.${phase}.statuses`);
      }
    }
    assert.match(markdown, /\| first read, node without sockets \|/);
    assert.match(markdown, /\| pages \(HTTP statuses; requests without a response, by cause\) \| \d+ \(\{"200":\d+\}; none failed\) \|/);
    assert.equal(eggIm.history.seed.messages, meta.settings.history.conversations * meta.settings.history.perConversation);
    // The recent messages' deliveries are over before the first page is timed: the phases time reads alone.
    assert.equal(eggIm.history.deliveriesInFlightAtFirstRead, 0);
    // ratios and targets
    for (const key of [ 'connections', 'steady', 'saturation', 'group', 'twoNodes' ]) assert(report.ratios[key], `ratios.${key}`);
    assert(report.targets.length >= 8);
    // Each target not met says what the run measured beside it and what would close it (memory has no cause to read).
    const notMet = report.targets.filter((t: any) => t.met === false);
    for (const t of notMet) if (!t.name.startsWith('server memory')) assert(t.cause && t.change, `${t.name}: its cause and change`);
    if (notMet.length) assert(markdown.includes('### Targets not met: the cause measured in this run, and the change that would close it'));
    // The per-second timeline of each traffic window: latencies by send second, the egg-im server's second beside them.
    for (const [ label, r ] of Object.entries<any>({ 'eggIm.steady': eggIm.steady, 'eggIm.group': eggIm.group, 'eggIm.twoNodes': eggIm.twoNodes,
      'bare.steady': bare.steady, 'eggIm.saturation.steps[0]': eggIm.saturation.steps[0] })) {
      const { rows } = r.perSecond;
      assert(rows.length >= 2, `${label}.perSecond: ${rows.length} seconds`);
      if (r.e2eMs) assert.equal(rows.reduce((n: number, row: any) => n + row.deliveries, 0), r.e2eMs.count, `${label}: every delivery in a send second`);
      for (const row of rows) for (const key of [ 't', 'deliveries', 'slowestMs', 'p99Ms' ]) assert.equal(typeof row[key], 'number', `${label}.perSecond ${key}`);
      assert(rows.some((row: any) => typeof row.loadGen?.loopMaxMs === 'number'), `${label}: the load generators' own seconds`);
      if (label.startsWith('bare')) continue;
      const measured = rows.filter((row: any) => row.server);
      assert(measured.length >= rows.length - 1, `${label}: the server's seconds (${measured.length} of ${rows.length})`);
      for (const { server } of measured) {
        for (const key of [ 'loopMaxMs', 'loopP99Ms', 'batches', 'batchMean', 'commitMeanMs', 'redisRttMs', 'mysqlRttMs' ]) assert.equal(typeof server[key], 'number', `${label} ${key}`);
        for (const kind of [ 'minor', 'major' ]) assert.equal(typeof server.gc[kind].totalMs, 'number');
        assert(server.mysqlRttMs > 0 && server.redisRttMs > 0, `${label}: round trips measured`);
      }
    }
    const steadySeconds = eggIm.steady.perSecond.rows.filter((row: any) => row.server);
    assert(steadySeconds.some((row: any) => row.server.batches > 0 && row.server.batchMean >= 1 && row.server.commitMeanMs > 0), 'write batches seen');
    assert(steadySeconds.some((row: any) => row.server.timers.historyFlush?.runs > 0 && row.server.timers.receiptFlush?.runs > 0), 'the flushes seen');
    assert.equal(eggIm.steady.e2eCurve.length, 38);
    assert.deepStrictEqual(eggIm.twoNodes.otherNodesPerSecond.map((n: any) => n.node), [ 'node2' ]);
    assert(eggIm.twoNodes.otherNodesPerSecond[0].seconds.length >= eggIm.twoNodes.perSecond.rows.length - 1, 'node 2\'s seconds');
    // The pictures: well-formed SVG beside the report, linked from it.
    const pictures = fs.readdirSync(path.join(out, 'benchmarks')).sort();
    assert.deepStrictEqual(pictures, [ 'group', 'steady', 'two-nodes' ].flatMap(w => [ `latency-${w}.svg`, `timeline-${w}.svg` ]).sort());
    for (const file of pictures) {
      assertWellFormed(fs.readFileSync(path.join(out, 'benchmarks', file), 'utf8'));
      assert(markdown.includes(`](benchmarks/${file})`), `benchmarks.md shows ${file}`);
    }
    assert(markdown.includes('### What the timelines show'));
    // Progress as it goes: elapsed / expected time, the step, the time left of a sending window.
    assert.match(output, /\[bench \d+(m\d\ds|s) \/ ~\d+(m\d\ds|s|m)\] step \d+\/11 egg-im one-to-one steady \(~\d+ s\): egg-im steady: sending 2 s \(1 s left\)/);
    for (const heading of [ '## Machine and versions', '## Targets', '## 1. Connections', '## 2. One-to-one, steady', '## 3. One-to-one, saturation',
      '## 4. Group', '## 5. History', '## 6. Two nodes' ]) {
      assert(markdown.includes(heading), `benchmarks.md lacks "${heading}"`);
    }
  });
});
