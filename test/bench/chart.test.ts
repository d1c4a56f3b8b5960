import assert from 'node:assert';
import { linearTicks, logTicks, percentileChart, timelineChart } from './lib/chart';
import { describeTimeline, perSecond, stallSeconds, type SecondRow } from './lib/timeline';
import { Histogram } from './lib/histogram';
import { reportJson } from './lib/report';
import { assertWellFormed } from './lib/wellFormed';
import type { ServerSecond } from './app/lib/Timeline';

const count = (svg: string, pattern: RegExp) => (svg.match(pattern) ?? []).length;
/** The points of each polyline, in drawing order. */
const polylines = (svg: string) => [ ...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g) ].map(m => m[1].split(' ').length);

describe('the benchmark\'s charts (test/bench/lib/chart.ts)', () => {
  it('a percentile chart: one curve per target with a point per percentile and the max, log latency ticks, the axes named', () => {
    const points: Array<[number, number]> = [ [ 0.5, 1 ], [ 0.9, 2 ], [ 0.99, 8 ], [ 0.999, 30 ], [ 0.9999, 90 ] ];
    const svg = percentileChart('Latency <by> percentile & more', [
      { name: 'egg-im', color: '#00f', points, max: 120 },
      { name: 'bare relay', color: '#f80', points: points.map(([ q, ms ]) => [ q, ms / 4 ]) },
    ]);
    assertWellFormed(svg);
    assert.deepStrictEqual(polylines(svg), [ 6, 5 ], 'egg-im: 5 percentiles and its max; the bare relay without a max');
    for (const label of [ '>50<', '>99.9<', '>max<', 'percentile (%)', 'end-to-end latency (ms, log)', '>egg-im<', '>bare relay<', '>100<', '>0.2<' ]) {
      assert(svg.includes(label), `has ${label}`);
    }
    assert(svg.includes('Latency &lt;by&gt; percentile &amp; more'), 'the title escaped');
  });

  it('a timeline: a bar per second with a value, a line point per second measured, lanes of marks, stall seconds shaded', () => {
    const svg = timelineChart('steady', 6, [
      { label: 'delivery (ms)', series: [
        { name: 'slowest', kind: 'bar', color: '#00f', values: [ 10, 12, 180, 11, undefined, 0 ] },
        { name: 'p99', kind: 'line', color: '#0f0', values: [ 8, 9, 90, 9, undefined, 0 ] },
      ] },
      { label: 'GC pauses (ms)', series: [ { name: 'total', kind: 'bar', color: '#840', values: [ 0, 0, 0, 0, 0, 0 ] } ] },
    ], [ { name: 'outboxSweep', marks: [ undefined, 'ran', 'long', undefined, 'ran', undefined ] } ], [ 2 ]);
    assertWellFormed(svg);
    assert.equal(count(svg, /<rect class="bar"/g), 4, 'bars for 10, 12, 180, 11 (none for nothing or 0)');
    assert.deepStrictEqual(polylines(svg), [ 5 ]);
    assert.equal(count(svg, /<circle class="mark"/g), 3);
    assert.equal(count(svg, /<circle class="mark"[^>]*r="4"/g), 1, 'a long run marked larger');
    assert.equal(count(svg, /<rect class="stall"/g), 1);
    for (const label of [ 'delivery (ms)', 'GC pauses (ms)', 'outboxSweep', 'second of sending', '>200<' ]) assert(svg.includes(label), `has ${label}`);
  });

  it('ticks: 1-2-5 per decade on a log axis; round steps reaching the largest value on a linear one', () => {
    assert.deepStrictEqual(logTicks(0.1, 100), [ 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100 ]);
    assert.deepStrictEqual(linearTicks(185), [ 0, 100, 200 ]);
    assert.deepStrictEqual(linearTicks(0), [ 0, 0.5, 1 ]);
    assert.deepStrictEqual(linearTicks(3, 10, 1), [ 0, 1, 2, 3 ]);
  });

  it('the XML check refuses what a browser would not draw', () => {
    assertWellFormed('<?xml version="1.0"?><svg a="1"><g><text>a &amp; b</text></g><!-- c --></svg>');
    for (const bad of [ '<svg><g></svg>', '<svg a="1" a="2"/>', '<svg>a & b</svg>', '<svg/><svg/>', '<svg a=1/>', '<svg><text>x</g></svg>', 'x<svg/>' ]) {
      assert.throws(() => assertWellFormed(bad), /not well-formed XML/, bad);
    }
  });
});

describe('the benchmark\'s per-second timeline (test/bench/lib/timeline.ts)', () => {
  const row = (t: number, slowestMs: number, extra: Partial<SecondRow> = {}): SecondRow => ({ t, deliveries: 100, slowestMs, p99Ms: slowestMs / 2, ...extra });

  it('merges the load generators\' histograms by send second and lines them up with the server\'s seconds', () => {
    const h = (values: number[]) => {
      const histogram = new Histogram();
      for (const v of values) histogram.record(v);
      return histogram.toJSON();
    };
    const server = { t: 101, loopMaxMs: 50 } as any;
    const { rows } = perSecond(100, 102, [ [ [ 100, h([ 1, 2 ]) ], [ 101, h([ 40 ]) ] ], [ [ 101, h([ 3 ]) ] ] ], [ server ]);
    assert.deepStrictEqual(rows.map(r => [ r.t, r.deliveries, r.slowestMs ]), [ [ 0, 2, 2 ], [ 1, 2, 40 ], [ 2, 0, 0 ] ]);
    assert.equal(rows[1].server, server);
    assert.equal(rows[0].server, undefined);
  });

  it('a stall second is one whose slowest delivery is over 3× the median second\'s; the facts name what else happened then', () => {
    const quiet: Omit<ServerSecond, 't'> = { sampledLateMs: 2, loopMaxMs: 5, loopP99Ms: 4, gc: { minor: { count: 1, totalMs: 2, maxMs: 2 }, major: { count: 0, totalMs: 0, maxMs: 0 } }, timers: {},
      batches: 10, batchMean: 5, commitMeanMs: 2, commitMaxMs: 5, cacheDegraded: false, redisRttMs: 0.3, mysqlRttMs: 0.4 };
    const stalled: Omit<ServerSecond, 't'> = { ...quiet, loopMaxMs: 140, gc: { ...quiet.gc, major: { count: 1, totalMs: 120, maxMs: 120 } }, timers: { outboxSweep: { runs: 1, ms: 30 } },
      commitMaxMs: 250 };
    const rows = [ row(0, 20), row(1, 22), row(2, 180), row(3, 21), row(4, 61) ]
      .map((r, i) => ({ ...r, server: { t: i, ...(i === 2 ? stalled : quiet) }, loadGen: { loopMaxMs: i === 4 ? 50 : 10, gcMs: 3, pings: i === 2 ? 80 : 2 } }));
    assert.deepStrictEqual(stallSeconds(rows), [ 2 ], 'the median second: 22 ms; 61 ms is not over 3× that, 180 ms is');
    const text = describeTimeline('steady', rows).join('\n');
    assert.match(text, /1 stall second\(s\) of 5/);
    assert.match(text, /second 2: slowest 180 ms.*event-loop delay max 140 ms.*1 major \(120 ms, longest 120 ms\).*outboxSweep ×1 \(30 ms\)/);
    assert.match(text, /a major GC: 1 of 1 stall seconds, 0 of 4 others/);
    assert.match(text, /a write batch's slowest commit over 3× its median second's \(≤ 5 ms\): 1 of 1 stall seconds, 0 of 4 others/);
    assert.match(text, /outboxSweep ran: 1 of 1 stall seconds, 0 of 4 others/);
    assert.match(text, /second 2: .*load generators: loop delay max 10 ms, GC 3 ms, 80 engine.io pings received/);
    assert.match(text, /engine.io pings over 3× the median second's \(2\): 1 of 1 stall seconds, 0 of 4 others/);
    assert.match(text, /a load generator's loop delay over 3× its median second's \(10 ms\): 0 of 1 stall seconds, 1 of 4 others/);
    assert.deepStrictEqual(describeTimeline('calm', rows.slice(0, 2)), [ 'calm: no stall second (none whose slowest delivery is over 3× the median second\'s 20 ms).' ]);
  });
});

describe('the benchmark\'s JSON report (test/bench/lib/report.ts)', () => {
  it('is indented, with each per-second row on one line, and reads back as it was', () => {
    const report = { eggIm: { steady: { perSecond: { from: 5, rows: [ { t: 0, server: { gc: { minor: 1 } } }, { t: 1 } ] } }, note: 'a "rows" \u0000 text' } };
    const text = reportJson(report);
    assert.deepStrictEqual(JSON.parse(text), report);
    assert(text.includes('\n          {"t":0,"server":{"gc":{"minor":1}}},\n          {"t":1}\n'), text);
  });
});
