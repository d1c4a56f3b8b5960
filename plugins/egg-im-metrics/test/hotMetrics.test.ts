import assert from 'node:assert';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../lib/hotMetrics';

const BUCKETS = [ 0.001, 0.01, 0.1, 1 ];
const VALUES = [ 0, 0.001, 0.0011, 0.05, 0.1, 0.7, 3, 12 ];

/** The same observations through prom-client's own metrics and through lib/hotMetrics.ts. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({ name: 'x_seconds', help: 'x', buckets: BUCKETS, registers: [ theirs ] });
  const counter = new Counter({ name: 'x_total', help: 'y', labelNames: [ 'result', 'code' ] as const, registers: [ theirs ] });
  const hotHistogram = new HotHistogram('x_seconds', 'x', BUCKETS, ours);
  const hotCounter = new HotCounter('x_total', 'y', ours);
  const accepted = hotCounter.series({ result: 'accepted' });
  const refused = hotCounter.series({ result: 'refused', code: 'RATE_LIMITED' });
  for (const value of VALUES) {
    histogram.observe(value);
    hotHistogram.observe(value);
  }
  counter.inc({ result: 'accepted' }, 3);
  accepted.value += 3;
  counter.inc({ result: 'refused', code: 'RATE_LIMITED' }, 2);
  refused.value += 2;
  return { theirs, ours, hotHistogram, hotCounter };
}

describe('egg-im-metrics: the hot path\'s counters and histograms', () => {
  it('are printed as prom-client prints its own', async () => {
    const { theirs, ours } = both();
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.match(await ours.metrics(), /x_seconds_bucket\{le="0.01"\} 3\n/);
  });

  it('are merged across workers as prom-client merges its own', async () => {
    const a = both();
    const b = both();
    const theirs = AggregatorRegistry.aggregate([ await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON() ]);
    const ours = AggregatorRegistry.aggregate([ await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON() ]);
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.match(await ours.metrics(), /x_seconds_count 16\n/);
  });

  it('reset with the registry', async () => {
    const { ours, hotHistogram } = both();
    ours.resetMetrics();
    hotHistogram.observe(0.5);
    const text = await ours.metrics();
    assert.match(text, /x_seconds_count 1\n/);
    assert.match(text, /x_total\{result="accepted"\} 0\n/);
  });
});
