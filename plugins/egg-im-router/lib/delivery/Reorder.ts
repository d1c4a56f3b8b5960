import { noTimerObserver, timedRun, type TimerObserver } from 'egg-im-metrics';
import type { Message } from 'egg-im-protocol';

interface Lane {
  /**
   * Highest seq handed on in order (or skipped: the user's own messages are not pushed to it). Undefined
   * while the lane has no baseline yet: it collects what arrives for `waitMs`, then hands it on in order.
   */
  last?: number;
  /** Messages waiting for the ones before them; `null` marks a seq to skip (one of the user's own). */
  held?: Map<number, Message | null>;
  timer?: NodeJS.Timeout;
}

/**
 * Keeps first pushes of a conversation in seq order for one user on this node. Messages can arrive out of
 * order when several nodes accept messages for the same conversation; a message beyond the next expected
 * seq is held up to `waitMs` for the ones before it, then released anyway (the client's sync fills any gap).
 * The user's own messages are never pushed to it, but they take a seq: `skip` moves the lane past them, or a
 * reply after one's own message would wait `waitMs` for a message that never comes.
 *
 * A lane needs a baseline: `reset` gives it one when a device connects (the conversation's last seq). A lane
 * without one (a membership that began after the device connected) hands on seq 1 at once, and otherwise
 * collects for `waitMs` before handing on in order, since a predecessor may still be on its way from a node.
 * Lanes live while the user has a socket on this node: a small object per conversation of a connected user.
 */
export class Reorder {
  /** userId → conversationId → lane. */
  private readonly lanes = new Map<string, Map<string, Lane>>();

  constructor(private readonly waitMs: number, private readonly release: (userId: string, message: Message) => void,
    /** Learns of each wait that ran out (`reorderWait`): messages held the full `waitMs`. */
    private readonly timers: TimerObserver = noTimerObserver) {}

  /** Starts (or restarts) a lane after `seq`: what the user already has, e.g. before a replay on connect. */
  reset(userId: string, conversationId: string, seq: number): void {
    const lanes = this.lanesOf(userId);
    const lane = lanes.get(conversationId);
    if (lane) clearTimeout(lane.timer);
    lanes.set(conversationId, { last: seq });
  }

  push(userId: string, message: Message): void {
    this.accept(userId, message.conversationId, message.seq, message);
  }

  /** A message of the user itself: nothing to push, but the lane moves past its seq. */
  skip(userId: string, conversationId: string, seq: number): void {
    this.accept(userId, conversationId, seq, null);
  }

  /** Drops every lane of the user (it had no socket here, so they are stale; held messages go to nobody). */
  forget(userId: string): void {
    const lanes = this.lanes.get(userId);
    if (!lanes) return;
    for (const lane of lanes.values()) clearTimeout(lane.timer);
    this.lanes.delete(userId);
  }

  /** Drops the lanes of users with no socket here any more (`connected` tells); call now and then. */
  prune(connected: (userId: string) => boolean): void {
    for (const userId of [ ...this.lanes.keys() ]) if (!connected(userId)) this.forget(userId);
  }

  clear(): void {
    for (const lanes of this.lanes.values()) for (const lane of lanes.values()) clearTimeout(lane.timer);
    this.lanes.clear();
  }

  /** Lanes in all (for tests and health). */
  get size(): number {
    let size = 0;
    for (const lanes of this.lanes.values()) size += lanes.size;
    return size;
  }

  private lanesOf(userId: string): Map<string, Lane> {
    let lanes = this.lanes.get(userId);
    if (!lanes) this.lanes.set(userId, lanes = new Map());
    return lanes;
  }

  private accept(userId: string, conversationId: string, seq: number, message: Message | null): void {
    const lanes = this.lanesOf(userId);
    let lane = lanes.get(conversationId);
    if (!lane) {
      // No baseline: seq 1 has no predecessor; anything else waits a moment for the ones before it.
      lane = { last: seq === 1 ? 0 : undefined };
      lanes.set(conversationId, lane);
    }
    if (lane.last !== undefined && seq <= lane.last + 1) {
      // The next one, or a late or repeated one: hand it on now.
      lane.last = Math.max(lane.last, seq);
      if (message) this.release(userId, message);
      this.drain(userId, lane);
      return;
    }
    // A message wins over a skip mark of the same seq (they cannot both be real; keep what can be pushed).
    lane.held ??= new Map();
    if (message || !lane.held.has(seq)) lane.held.set(seq, message);
    lane.timer ??= setTimeout(() => void timedRun(this.timers, 'reorderWait', async () => this.flush(userId, conversationId)), this.waitMs);
  }

  private drain(userId: string, lane: Lane): void {
    while (lane.held && lane.last !== undefined && lane.held.has(lane.last + 1)) {
      const next = lane.held.get(lane.last + 1)!;
      lane.held.delete(lane.last + 1);
      lane.last += 1;
      if (next) this.release(userId, next);
    }
    if (lane.held?.size === 0) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.held = undefined;
    }
  }

  private flush(userId: string, conversationId: string): void {
    const lane = this.lanes.get(userId)?.get(conversationId);
    if (!lane?.held) return;
    const { held } = lane;
    lane.timer = undefined;
    lane.held = undefined;
    for (const seq of [ ...held.keys() ].sort((a, b) => a - b)) {
      const message = held.get(seq)!;
      lane.last = Math.max(lane.last ?? seq, seq);
      if (message) this.release(userId, message);
    }
  }
}
