import type { Message } from 'egg-im-protocol';

interface Lane {
  /** Highest seq handed on in order. */
  last: number;
  held: Map<number, Message>;
  timer?: NodeJS.Timeout;
  touched: number;
}

/**
 * Keeps first pushes of a conversation in seq order for one user on this node. Messages can arrive out of
 * order when several nodes accept messages for the same conversation; a message beyond the next expected
 * seq is held up to `waitMs` for the ones before it, then released anyway (the client's sync fills any gap).
 */
export class Reorder {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly waitMs: number, private readonly release: (userId: string, message: Message) => void) {}

  /** Starts (or restarts) a lane after `seq`: what the user already has, e.g. before a replay on connect. */
  reset(userId: string, conversationId: string, seq: number): void {
    const key = `${userId}\n${conversationId}`;
    const lane = this.lanes.get(key);
    if (lane) {
      clearTimeout(lane.timer);
      this.lanes.delete(key);
    }
    this.lanes.set(key, { last: seq, held: new Map(), touched: Date.now() });
  }

  push(userId: string, message: Message): void {
    const key = `${userId}\n${message.conversationId}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      // Nothing known for this lane: take the message as the next one.
      lane = { last: message.seq - 1, held: new Map(), touched: 0 };
      this.lanes.set(key, lane);
    }
    lane.touched = Date.now();
    if (message.seq <= lane.last + 1) {
      // The next one, or a late or repeated one: hand it on now.
      lane.last = Math.max(lane.last, message.seq);
      this.release(userId, message);
      this.drain(userId, lane);
      return;
    }
    lane.held.set(message.seq, message);
    lane.timer ??= setTimeout(() => this.flush(userId, key), this.waitMs);
  }

  /** Drops idle lanes; call now and then. */
  prune(idleMs: number): void {
    const before = Date.now() - idleMs;
    for (const [ key, lane ] of this.lanes) {
      if (lane.held.size === 0 && lane.touched < before) this.lanes.delete(key);
    }
  }

  clear(): void {
    for (const lane of this.lanes.values()) clearTimeout(lane.timer);
    this.lanes.clear();
  }

  get size(): number {
    return this.lanes.size;
  }

  private drain(userId: string, lane: Lane): void {
    for (let next = lane.held.get(lane.last + 1); next; next = lane.held.get(lane.last + 1)) {
      lane.held.delete(next.seq);
      lane.last = next.seq;
      this.release(userId, next);
    }
    if (lane.held.size === 0) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
  }

  private flush(userId: string, key: string): void {
    const lane = this.lanes.get(key);
    if (!lane) return;
    lane.timer = undefined;
    for (const seq of [ ...lane.held.keys() ].sort((a, b) => a - b)) {
      const message = lane.held.get(seq)!;
      lane.held.delete(seq);
      lane.last = Math.max(lane.last, seq);
      this.release(userId, message);
    }
  }
}
