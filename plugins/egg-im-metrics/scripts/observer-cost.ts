/**
 * What the metrics add to one message on the hot path, alone: the observations a message causes (its send
 * answered, its delivery acknowledged, a tenth of a write batch) with their clock readings, in three ways: the
 * no-op observers (metrics off), egg-im's observers (lib/hotMetrics.ts), and the same through prom-client's own
 * Counter and Histogram. Prints nanoseconds per message; compare within one run (the machine may be busy).
 *   node -r ts-node/register/transpile-only plugins/egg-im-metrics/scripts/observer-cost.ts
 */
import { performance } from 'node:perf_hooks';
import { Counter, Histogram, Registry } from 'prom-client';
import { ImMetrics } from '../lib/ImMetrics';
import type { MessageObserver, StoreObserver } from '../lib/observers';

const MESSAGES = 1_000_000;
const quiet = { info() {}, warn() {}, error() {} };

function run(messages: MessageObserver, store: StoreObserver): number {
  const started = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    const arrivedAt = performance.now();
    messages.answered('accepted', (performance.now() - arrivedAt) / 1000);
    const pushedAt = performance.now();
    messages.delivered((performance.now() - pushedAt) / 1000);
    if (i % 10 === 0) {
      const batchAt = performance.now();
      store.batchCommitted(10, (performance.now() - batchAt) / 1000);
    }
  }
  return ((performance.now() - started) * 1e6) / MESSAGES;
}

/** The same observations on prom-client's own metrics (what lib/hotMetrics.ts replaces on the hot path). */
function promClientObservers(): { messages: MessageObserver; store: StoreObserver } {
  const registers = [ new Registry() ];
  const messages = new Counter({ name: 'm', help: 'm', labelNames: [ 'result', 'code' ] as const, registers });
  const deliveries = new Counter({ name: 'd', help: 'd', labelNames: [ 'outcome' ] as const, registers });
  const [ ack, delivery, size, commit ] = [ 'a', 'b', 'c', 'e' ].map(name => new Histogram({ name, help: name, registers }));
  const accepted = messages.labels({ result: 'accepted' });
  const delivered = deliveries.labels({ outcome: 'delivered' });
  return {
    messages: {
      answered: (_result, seconds) => { accepted.inc(); ack.observe(seconds); },
      refused: code => messages.inc({ result: 'refused', code }),
      delivered: seconds => { delivered.inc(); delivery.observe(seconds); },
      retried: () => deliveries.inc({ outcome: 'retried' }),
      failed: () => deliveries.inc({ outcome: 'failed' }),
    },
    store: { batchCommitted: (n, seconds) => { size.observe(n); commit.observe(seconds); } },
  };
}

const off = new ImMetrics({ enabled: false }, quiet);
const on = new ImMetrics({ enabled: true }, quiet);
const native = promClientObservers();
for (let round = 1; round <= 5; round++) {
  const offNs = run(off.messages, off.store);
  const onNs = run(on.messages, on.store);
  const nativeNs = run(native.messages, native.store);
  console.log(`round ${round}: off ${offNs.toFixed(0)} ns/message; on ${onNs.toFixed(0)} (+${(onNs - offNs).toFixed(0)}); ` +
    `with prom-client's own metrics ${nativeNs.toFixed(0)} (+${(nativeNs - offNs).toFixed(0)})`);
}
