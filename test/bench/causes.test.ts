import assert from 'node:assert';
import { batches, causeOf, load } from './lib/causes';
import { notMetRows } from './lib/report';

const steady = {
  cpu: { processes: { 'egg-im worker': 71.6, mariadb: 32.7, loadGenerators: 53.1 }, machineBusyPct: 86.7 },
  serverEventLoop: { utilization: 0.911, delayP99Ms: 51.2 },
  serverGc: { minor: { maxMs: 57 }, major: { count: 0, maxMs: 0 } },
  perSecond: { rows: [ {}, { server: { batches: 10, batchMean: 20, commitMeanMs: 10 } }, { server: { batches: 30, batchMean: 60, commitMeanMs: 30 } } ] },
  services: { perMessage: { 'mysql.Com_insert': 1.5, 'mysql.Com_select': 0.75, 'mysql.Com_update': 0, 'mysql.Com_delete': 0.2, 'mysql.Com_commit': 0.5 } },
};
const bareSteady = { cpu: { processes: { 'bare relay': 46, mariadb: 0.2, loadGenerators: 49.9 }, machineBusyPct: 51 } };

describe('the benchmark\'s causes of targets not met (test/bench/lib/causes.ts)', () => {
  it('reads the load of a window: the machine, each process, the server\'s event loop', () => {
    assert.equal(load(steady), 'the machine\'s cores 87 % busy (egg-im worker 72 %, mariadb 33 %, loadGenerators 53 %, each in % of one core); ' +
      'the server\'s event loop 91 % utilized, its delay p99 51.2 ms');
    assert.equal(load(bareSteady), 'the machine\'s cores 51 % busy (bare relay 46 %, loadGenerators 50 %, each in % of one core)', 'a process under 0.5 % left out');
  });

  it('averages the write batches by batch, not by second, and names the slowest second', () => {
    assert.equal(batches(steady), 'write batches of 50 messages on average, each committed in 25 ms on average (in the slowest second 60 messages in 30 ms)');
    assert.equal(batches({ perSecond: { rows: [ {} ] } }), 'no write batch measured');
  });

  it('gives each target not met its cause from the run and its change; none for a target it has nothing to say about', () => {
    const eggIm = {
      steady,
      saturation: { steps: [ { rate: 3000, sustained: true }, { rate: 3750, sustained: false, why: 'p99 412 ms', ...steady } ] },
      history: { recentRead: { clientMs: { p99: 16.6 }, serverMs: { p99: 12.7 }, ...steady } },
      historyNode: { firstRead: { clientMs: { p99: 61.2 }, serverMs: { p99: 40.1 }, ...steady } },
      twoNodes: { sent: 120000, acked: 103137, errors: { RATE_LIMITED: 16863 }, ...steady },
      twoNodesAtTargetRate: steady,
      group: steady,
    };
    const bare = { steady: bareSteady };
    const p99 = causeOf('one-to-one steady p99', eggIm, bare)!;
    assert.match(p99.cause, /event loop 91 % utilized.*write batches of 50 messages.*longest young GC pause 57 ms, 0 full GC\(s\)\. The bare relay's run: the machine's cores 51 % busy/);
    assert.match(p99.change, /^Headroom in the worker/);
    assert.deepStrictEqual(causeOf('one-to-one steady p50', eggIm, bare), p99, 'the same window');
    const cpu = causeOf('server CPU per message vs bare relay (steady)', eggIm, bare)!;
    assert.match(cpu.cause, /^the worker 72 % of a core against the relay's 46 % .*statements per message 2\.45\b/);
    assert.match(cpu.change, /^For 1\.3× against this run's relay the worker would spend 11\.8 points of a core less\. Less CPU per message/);
    assert.match(causeOf('saturation vs bare relay', eggIm, bare)!.cause, /^the first step not sustained, 3,750 msg\/s: p99 412 ms; the machine's cores 87 %/);
    assert.match(causeOf('history page p99, recent conversation ("from cache")', eggIm, bare)!.cause, /^client p99 16\.6 ms, the server's own p99 12\.7 ms/);
    const apart = causeOf('history page p99, first read (from MySQL), on a node without sockets', eggIm, bare)!;
    assert.match(apart.cause, /^client p99 61\.2 ms, the server's own p99 40\.1 ms/);
    assert.match(apart.change, /^The node serving the pages shares two cores/);
    assert.match(causeOf('history page p99, first read (from MySQL)', eggIm, bare)!.change, /^A page must not wait behind/);
    assert.match(causeOf('messages lost (two nodes at 2,000 msg/s)', eggIm, bare)!.cause, /^16863 of 120000 sends refused \(\{"RATE_LIMITED":16863\}\), none of the accepted lost/);
    assert.match(causeOf('two nodes p99 at 1,000 msg/s', eggIm, bare)!.cause, /statements per message 2\.45; write batches of 50/);
    const group = causeOf('group of 500 p99 vs bare relay', eggIm, bare)!;
    assert.match(group.cause, /^the machine's cores 87 % busy.*longest young GC pause 57 ms/);
    assert.match(group.change, /^Headroom, as for steady: .*less CPU per message in the worker\./);
    assert.equal(causeOf('server memory per idle connection (RSS)', eggIm, bare), undefined);
  });

  it('the report says a cause shared by the targets of one window once', () => {
    const shared = { cause: 'busy', change: 'less work' };
    assert.deepStrictEqual(notMetRows([
      { name: 'p99', ...shared }, { name: 'ratio', ...shared }, { name: 'memory' }, { name: 'history', cause: 'busy', change: 'another core' },
    ]), [
      [ 'p99', 'busy', 'less work' ], [ 'ratio', 'as the row above', 'as the row above' ], [ 'memory', 'see its scenario below', '–' ],
      [ 'history', 'busy', 'another core' ],
    ]);
  });
});
