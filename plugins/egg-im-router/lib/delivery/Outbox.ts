import { timedRun } from 'egg-im-metrics';
import type { Message } from 'egg-im-protocol';
import type { ImConfig, Logger, Sockets, Store, Timers } from '../ports';
import type { Delivery } from './Delivery';

export interface OutboxDeps {
  outbox: Store['outbox'];
  receipts: Store['receipts'];
  delivery: Delivery;
  nodes: Sockets['nodes'];
  config: ImConfig['delivery'];
  logger: Logger;
  timers: Timers;
}

/**
 * Every message is written with an outbox entry in the same transaction, and the entry is removed once the
 * message has been routed. A node that dies between its commit and its routing leaves entries behind; any
 * node's sweeper routes those again (a repeated push is harmless: clients de-duplicate by seq).
 */
export class Outbox {
  private timer?: NodeJS.Timeout;
  private sweeping = false;
  /** Messages on their way to every node: their entries are removed once the bus confirms the publishes. */
  private confirming = new Set<string>();
  private readonly config: ImConfig['delivery'];

  constructor(private readonly deps: OutboxDeps) {
    this.config = deps.config;
    deps.delivery.onSentToAllNodes(message => this.routed(message));
  }

  /**
   * After routing: the entry is removed once the publish to the other nodes is known to have reached Redis
   * (`nodes.confirmation()`), or kept for the sweeper otherwise.
   */
  private routed(message: Message): void {
    if (this.confirming.add(message.id).size === 1) void this.confirm();
  }

  private async confirm(): Promise<void> {
    const confirmed = await this.deps.nodes.confirmation();
    const batch = this.confirming;
    this.confirming = new Set();
    if (confirmed) this.remove(batch);
  }

  private remove(ids: Iterable<string>): void {
    for (const id of ids) {
      this.deps.outbox.remove(id)
        .catch(err => this.deps.logger.warn('[egg-im-router] outbox entry of message %s not removed (it will be routed again): %s', id, err.message));
    }
  }

  start(): void {
    if (!(this.config.outboxSweepMs > 0)) {
      this.deps.logger.info('[egg-im-router] outbox sweeper off (im.delivery.outboxSweepMs is 0)');
      return;
    }
    this.timer = setInterval(() => void timedRun(this.deps.timers, 'outboxSweep', () => this.sweep()), this.config.outboxSweepMs);
    this.timer.unref();
  }

  /** Entries awaiting confirmation are removed now if the bus is up (a later sweep routes the others again). */
  stop(): void {
    clearInterval(this.timer);
    if (this.deps.nodes.ready) this.remove(this.confirming);
    this.confirming = new Set();
  }

  /** Routes messages whose entry is older than the grace period; returns how many. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const stale = await this.deps.outbox.olderThan(new Date(Date.now() - this.config.outboxGraceMs), 500);
      let routed = 0;
      for (const message of stale) {
        // Held for the bus, or just sent and about to be removed: already on its way.
        if (this.deps.delivery.holds(message.id) || this.confirming.has(message.id)) continue;
        // Its members are those who were in the conversation when it was written (its status's recipients), not a
        // member added since: the message is from before that one joined.
        const status = await this.deps.receipts.statusOf(message.id);
        this.deps.delivery.route(message, [ message.senderId, ...(status?.recipients ?? []).map(recipient => recipient.userId) ]);
        routed++;
      }
      if (routed > 0) this.deps.logger.info('[egg-im-router] outbox: routed %d message(s) left by a node', routed);
      return routed;
    } catch (err: any) {
      this.deps.logger.warn('[egg-im-router] outbox sweep failed: %s', err.message);
      return 0;
    } finally {
      this.sweeping = false;
    }
  }
}
