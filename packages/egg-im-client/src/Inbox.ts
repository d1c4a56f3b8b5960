import type { Message } from 'egg-im-protocol';

/**
 * Ordering and de-duplication of incoming messages, per conversation.
 * The cursor is the last contiguous seq handed to the app; a message at or below it, or already held,
 * is a duplicate; a message above cursor + 1 is held until the gap below it is filled.
 */
export class Inbox<T extends Pick<Message, 'conversationId' | 'seq'> = Message> {
  readonly #cursors = new Map<string, number>();
  readonly #held = new Map<string, Map<number, T>>();
  /** When each held message arrived (a counter), so a sync can tell which it has answered for. */
  readonly #arrivals = new WeakMap<T, number>();
  #clock = 0;

  constructor(cursors: Record<string, number> = {}) {
    for (const [ conversationId, seq ] of Object.entries(cursors)) {
      if (Number.isInteger(seq) && seq > 0) this.#cursors.set(conversationId, seq);
    }
  }

  /** Takes one message; returns the messages now deliverable, in seq order (empty when it was a duplicate or is held). */
  accept(message: T): T[] {
    const { conversationId, seq } = message;
    if (!Number.isInteger(seq) || seq < 1) return [];
    let cursor = this.cursor(conversationId);
    if (seq <= cursor) return [];
    const held = this.#held.get(conversationId);
    if (seq > cursor + 1) {
      if (held?.has(seq)) return [];
      this.#arrivals.set(message, ++this.#clock);
      if (held) held.set(seq, message);
      else this.#held.set(conversationId, new Map([[ seq, message ]]));
      return [];
    }
    const ready = [ message ];
    cursor = seq;
    if (held) {
      held.delete(seq);
      for (let next = held.get(cursor + 1); next !== undefined; next = held.get(cursor + 1)) {
        held.delete(cursor + 1);
        ready.push(next);
        cursor++;
      }
      if (held.size === 0) this.#held.delete(conversationId);
    }
    this.#cursors.set(conversationId, cursor);
    return ready;
  }

  /** A point in the arrivals: held messages from before it are the ones a sync started now answers for. */
  mark(): number {
    return this.#clock + 1;
  }

  /**
   * After a sync that started at `mark` has returned everything (`hasMore: false`): a gap it did not fill
   * below a message held since before the mark can never be filled (those seqs are not this user's to see,
   * e.g. messages from before it joined a group), so the held messages are released in order.
   */
  releaseHeldBefore(mark: number): T[] {
    const ready: T[] = [];
    for (const [ conversationId, held ] of [ ...this.#held ]) {
      const seqs = [ ...held.keys() ].sort((a, b) => a - b);
      if (!seqs.some(seq => (this.#arrivals.get(held.get(seq)!) ?? mark) < mark)) continue;
      let cursor = this.cursor(conversationId);
      for (const seq of seqs) {
        const message = held.get(seq)!;
        if (seq !== cursor + 1 && (this.#arrivals.get(message) ?? mark) >= mark) break;
        held.delete(seq);
        ready.push(message);
        cursor = seq;
      }
      this.#cursors.set(conversationId, cursor);
      if (held.size === 0) this.#held.delete(conversationId);
    }
    return ready;
  }

  cursor(conversationId: string): number {
    return this.#cursors.get(conversationId) ?? 0;
  }

  /** A copy of the cursors, as the `sync` body wants them. */
  cursors(): Record<string, number> {
    return Object.fromEntries(this.#cursors);
  }

  /** Conversations with messages held above a gap. */
  gaps(): string[] {
    return [ ...this.#held.keys() ];
  }

  hasGaps(): boolean {
    return this.#held.size > 0;
  }
}
