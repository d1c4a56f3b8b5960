import assert from 'node:assert';
import { EventEmitter } from 'node:events';
import { Counter, Registry } from 'prom-client';
import { AgentGatherer } from '../lib/cluster';
import { parseMetrics, sampleValue } from 'egg-im-testkit/lib/metrics';

/** egg's messenger as the agent sees it: what it sends to the workers is recorded; the test plays the workers. */
class FakeMessenger extends EventEmitter {
  readonly toApp: Array<{ action: string; data: any }> = [];
  sendToApp(action: string, data: unknown) {
    this.toApp.push({ action, data });
  }
  sendToAgent() {}
}

async function workerMetrics(accepted: number) {
  const registry = new Registry();
  new Counter({ name: 'egg_im_messages_total', help: 'h', labelNames: [ 'result' ] as const, registers: [ registry ] }).inc({ result: 'accepted' }, accepted);
  return registry.getMetricsAsJSON();
}

describe('egg-im-metrics: the agent gathers the workers\' metrics', () => {
  const warnings: unknown[][] = [];
  const logger = { info() {}, warn: (...args: unknown[]) => void warnings.push(args), error() {} };

  it('asks every worker once for scrapes that arrive together, and sums what they answer', async () => {
    const messenger = new FakeMessenger();
    const gatherer = new AgentGatherer(messenger, 2000, logger);
    messenger.emit('egg-pids', [ 101, 102 ]);
    const scrapes = Promise.all(Array.from({ length: 5 }, () => gatherer.gather()));
    assert.equal(messenger.toApp.length, 1, 'one request to the workers');
    const [ { action, data: { id } } ] = messenger.toApp;
    assert.equal(action, 'egg-im-metrics:collect');
    messenger.emit('egg-im-metrics:part', { id, pid: 101, metrics: await workerMetrics(2) });
    messenger.emit('egg-im-metrics:part', { id, pid: 102, metrics: await workerMetrics(3) });
    for (const { text } of await scrapes) {
      const samples = parseMetrics(text);
      assert.equal(sampleValue(samples, 'egg_im_messages_total', { result: 'accepted' }), 5);
      assert.equal(sampleValue(samples, 'egg_im_metrics_workers'), 2);
    }
    // the next scrape asks again
    void gatherer.gather().catch(() => {});
    assert.equal(messenger.toApp.length, 2);
  });

  it('answers with the workers that answered in time, and says so; fails when none did', async () => {
    const messenger = new FakeMessenger();
    const gatherer = new AgentGatherer(messenger, 200, logger);
    messenger.emit('egg-pids', [ 101, 102 ]);
    const partial = gatherer.gather();
    messenger.emit('egg-im-metrics:part', { id: messenger.toApp[0].data.id, pid: 101, metrics: await workerMetrics(2) });
    const samples = parseMetrics((await partial).text);
    assert.equal(sampleValue(samples, 'egg_im_metrics_workers'), 1);
    assert.equal(sampleValue(samples, 'egg_im_messages_total', { result: 'accepted' }), 2);
    assert.match(String(warnings.at(-1)?.[0]), /workers answered within/);

    await assert.rejects(gatherer.gather(), /no worker answered/);
    // A worker's scrape that fails is answered at once (the worker answers 503), not left to its timeout.
    messenger.emit('egg-im-metrics:scrape', { id: 'w-1' });
    await new Promise(resolve => setTimeout(resolve, 300));
    const result = messenger.toApp.find(m => m.action === 'egg-im-metrics:result');
    assert.equal(result?.data.id, 'w-1');
    assert.match(result?.data.error, /no worker answered/);
  });
});
