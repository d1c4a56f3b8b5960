import { timedRun } from 'egg-im-metrics';
import { ImError, jsonOnce, type Message } from 'egg-im-protocol';
import type { Cache, ImConfig, Logger, Store, Timers } from '../ports';

export interface SeqRange {
  /** First seq of the page (inclusive). */
  from: number;
  /** Last seq of the page (inclusive); from > to means an empty page. */
  to: number;
}

/** The member's view of a conversation: the consistency anchor of every read. */
export interface ReadState {
  lastSeq: number;
  /** The member sees messages after this seq (it joined then). */
  sinceSeq: number;
}

/**
 * The newest messages of each active conversation, in a window in the cache (a sorted set scored by seq,
 * capped by count, expiring when idle), written after each commit. Reads are cache-first: seqs have no
 * gaps, so a page is exactly the seqs `from..to` (computed from the conversation's last seq, read with the
 * membership in one primary-key lookup); the window supplies what it holds and the database the rest, so
 * a page is identical to what the database alone returns even when the window lags or has lost entries.
 * Only committed messages are ever written to the window.
 */
export class HotHistory {
  private noted: Message[] = [];

  constructor(
    private readonly cache: Cache,
    private readonly messages: Store['messages'],
    private readonly config: ImConfig['history'],
    private readonly logger: Logger,
    private readonly timers: Timers,
  ) {}

  /**
   * Queues a committed message for its conversation's window: when it is routed, and when a read had to take it
   * from the database. What is noted within `writeLingerMs` is written together: one Redis command for all the windows.
   */
  note(message: Message): void {
    if (this.config.windowSize === 0) return;
    if (this.noted.push(message) === 1) setTimeout(() => this.flushNoted(), this.config.writeLingerMs);
  }

  private flushNoted(): void {
    const batch = this.noted;
    this.noted = [];
    timedRun(this.timers, 'historyFlush', () => this.remember(batch)).catch(err => this.logger.warn('[egg-im-router] hot history not written (reads fall back to the database): %s', err.message));
  }

  private key(conversationId: string): string {
    return this.cache.key('hist', conversationId);
  }

  /** The noted messages join their conversations' windows, in one command. */
  private async remember(messages: Message[]): Promise<void> {
    if (this.config.windowSize === 0 || messages.length === 0) return;
    const byConversation = new Map<string, Message[]>();
    for (const message of messages) {
      const list = byConversation.get(message.conversationId);
      if (list) list.push(message);
      else byConversation.set(message.conversationId, [ message ]);
    }
    // The text the message was encoded as once (when it was routed, or read below): written, never made again.
    const windows = [ ...byConversation ].map(([ conversationId, list ]) => ({
      key: this.key(conversationId), items: list.map(message => ({ score: message.seq, value: jsonOnce(message) })),
    }));
    await this.cache.windowAddMany(windows, this.config.windowSize, this.config.idleTtlMs);
  }

  /** The member's read state; NOT_FOUND for a conversation the user is not in, as for one that does not exist. */
  async readState(conversationId: string, userId: string): Promise<ReadState> {
    const state = await this.messages.readState(conversationId, userId);
    if (state?.sinceSeq === undefined) throw new ImError('NOT_FOUND', `conversation ${conversationId} not found`, { conversationId });
    return { lastSeq: state.lastSeq, sinceSeq: state.sinceSeq };
  }

  /** For host code: the conversation as a member from its start sees it; NOT_FOUND when it does not exist. */
  async conversationState(conversationId: string): Promise<ReadState> {
    // '' is no user id (ids have 1 to 128 characters): the lookup finds the conversation and no member row.
    const state = await this.messages.readState(conversationId, '');
    if (!state) throw new ImError('NOT_FOUND', `conversation ${conversationId} not found`, { conversationId });
    return { lastSeq: state.lastSeq, sinceSeq: 0 };
  }

  /** The messages `from..to` (all committed, ascending): from the window first, the database for the rest. */
  async range(conversationId: string, range: SeqRange): Promise<Message[]> {
    return (await this.collect(conversationId, range)).map(m => (typeof m === 'string' ? JSON.parse(m) : m));
  }

  /**
   * The same messages as their JSON text, for a response: what the window holds is the text it was written as
   * (encoded once, at the commit), so a page from the window is never parsed and encoded again.
   */
  async rangeJson(conversationId: string, range: SeqRange): Promise<string[]> {
    return (await this.collect(conversationId, range)).map(m => (typeof m === 'string' ? m : jsonOnce(m)));
  }

  /** `from..to` in order: the window's entries as stored (JSON text), the database's rows as messages. */
  private async collect(conversationId: string, { from, to }: SeqRange): Promise<Array<string | Message>> {
    if (from > to) return [];
    const found = new Map<number, string | Message>();
    if (this.config.windowSize > 0) {
      for (const item of await this.cache.windowRange(this.key(conversationId), from, to)) found.set(item.score, item.value);
    }
    const missing = gaps(found, from, to);
    if (missing.length > 0) {
      const rows = await Promise.all(missing.map(gap => this.messages.range(conversationId, gap.from, gap.to)));
      const fetched = rows.flat();
      for (const message of fetched) found.set(message.seq, message);
      // What the database had to supply goes back into the window, so the next read of it is a hit: with the next
      // linger's write, one command for all the pages of that interval. Its JSON text is made once, for both.
      for (const message of fetched) if (to - message.seq < this.config.windowSize) this.note(message);
    }
    const messages: Array<string | Message> = [];
    for (let seq = from; seq <= to; seq++) {
      const message = found.get(seq);
      if (message) messages.push(message);
    }
    return messages;
  }
}

/** The runs of seqs in `from..to` that `found` lacks. */
export function gaps(found: Map<number, unknown>, from: number, to: number): SeqRange[] {
  const result: SeqRange[] = [];
  let start: number | undefined;
  for (let seq = from; seq <= to; seq++) {
    if (!found.has(seq)) start ??= seq;
    else if (start !== undefined) {
      result.push({ from: start, to: seq - 1 });
      start = undefined;
    }
  }
  if (start !== undefined) result.push({ from: start, to });
  return result;
}

/** The seq range of a history page (see the contract: always ascending; `hasMore` in the direction read). */
export function pageRange(state: ReadState, query: { afterSeq?: number; beforeSeq?: number; limit: number }): SeqRange & { hasMore: boolean } {
  const floor = state.sinceSeq + 1;
  if (query.afterSeq !== undefined) {
    const from = Math.max(query.afterSeq + 1, floor);
    const to = Math.min(state.lastSeq, from + query.limit - 1);
    return { from, to, hasMore: to < state.lastSeq };
  }
  const to = query.beforeSeq === undefined ? state.lastSeq : Math.min(query.beforeSeq - 1, state.lastSeq);
  const from = Math.max(floor, to - query.limit + 1);
  return { from, to, hasMore: from > floor };
}
