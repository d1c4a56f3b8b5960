import type { Application } from 'egg';
import type { Message } from 'egg-im-protocol';

/**
 * Every message is written with an outbox entry in the same transaction, and the entry is removed once the
 * message has been routed. A node that dies between its commit and its routing leaves entries behind; any
 * node's sweeper routes those again (a repeated push is harmless: clients de-duplicate by seq).
 */
export class Outbox {
  private timer?: NodeJS.Timeout;
  private sweeping = false;
  /** Routed messages by id, with the adapter epoch of their routing: removed from the outbox if it holds. */
  private confirming = new Map<string, number>();
  private confirmTimer?: NodeJS.Timeout;

  constructor(private readonly app: Application) {}

  private get config() {
    return this.app.config.im.delivery;
  }

  /**
   * After routing: the entry is removed once the publish to the other nodes is known to have reached Redis
   * (the adapter's clients stayed connected for a moment after it), or kept for the sweeper otherwise.
   */
  routed(message: Message, reachedAllNodes: boolean): void {
    if (!reachedAllNodes) return;
    this.confirming.set(message.id, this.app.imSockets.adapterEpoch);
    this.confirmTimer ??= setTimeout(() => this.confirm(), Math.min(1000, this.config.outboxGraceMs / 2));
  }

  private confirm(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    const batch = this.confirming;
    this.confirming = new Map();
    const { adapterEpoch, adapterReady } = this.app.imSockets;
    for (const [ id, epoch ] of batch) {
      if (!adapterReady || epoch !== adapterEpoch) continue;
      this.app.imStore.outbox.remove(id)
        .catch(err => this.app.coreLogger.warn('[egg-im-router] outbox entry of message %s not removed (it will be routed again): %s', id, err.message));
    }
  }

  start(): void {
    if (!(this.config.outboxSweepMs > 0)) {
      this.app.coreLogger.info('[egg-im-router] outbox sweeper off (im.delivery.outboxSweepMs is 0)');
      return;
    }
    this.timer = setInterval(() => void this.sweep(), this.config.outboxSweepMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.confirm();
  }

  /** Routes messages whose entry is older than the grace period; returns how many. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const stale = await this.app.imStore.outbox.olderThan(new Date(Date.now() - this.config.outboxGraceMs), 500);
      let routed = 0;
      for (const message of stale) {
        // Held for the adapter, or just sent and about to be removed: already on its way.
        if (this.app.im.delivery.holds(message.id) || this.confirming.has(message.id)) continue;
        const members = await this.app.im.membership.members(message.conversationId);
        this.routed(message, this.app.im.delivery.route(message, members));
        routed++;
      }
      if (routed > 0) this.app.coreLogger.info('[egg-im-router] outbox: routed %d message(s) left by a node', routed);
      return routed;
    } catch (err: any) {
      this.app.coreLogger.warn('[egg-im-router] outbox sweep failed: %s', err.message);
      return 0;
    } finally {
      this.sweeping = false;
    }
  }
}
