import type http from 'node:http';
import type { Agent, IBoot } from 'egg';
import { checkConfig } from './lib/checkConfig';
import { AgentGatherer } from './lib/cluster';
import { serveMetrics } from './lib/endpoint';

/** The agent gathers every worker's metrics for a scrape, and serves them on `imMetrics.port` when one is set. */
export default class MetricsAgentBoot implements IBoot {
  private server?: http.Server;

  constructor(private readonly agent: Agent) {}

  async didLoad(): Promise<void> {
    const { agent } = this;
    const config = checkConfig(agent.config.imMetrics);
    if (!config.enabled) return;
    const gatherer = new AgentGatherer(agent.messenger, config.timeoutMs, agent.coreLogger);
    if (config.port > 0) this.server = await serveMetrics(config, () => gatherer.gather(), agent.coreLogger);
  }

  async beforeClose(): Promise<void> {
    const { server } = this;
    if (server) await new Promise<void>(resolve => server.close(() => resolve()));
  }
}
