import type { Message } from 'egg-im-protocol';
import type { ImStore } from '../ImStore';
import { readInt } from '../sql/dialect';
import { storedFromRow } from './MessageWriter';
import { toMessage } from './rows';

const COLUMNS = 'id, conversation_id, seq, sender_id, client_msg_id, type, content, meta, created_at';

export interface HistoryQuery {
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
}

export interface Page {
  messages: Message[];
  hasMore: boolean;
}

export interface Backlog {
  conversationId: string;
  /** What the user has acknowledged already: the messages follow it. */
  afterSeq: number;
  /** The conversation's last seq when the backlog was read (the user's own messages are not in `messages`). */
  lastSeq: number;
  messages: Message[];
}

/**
 * Reads of messages. Every query is a range of the primary key (conversation_id, seq): keyset pagination,
 * never OFFSET. A member sees a group's messages from the one after it joined (`since_seq`).
 */
export class MessageRepository {
  constructor(private readonly store: ImStore) {}

  private query(sql: string, params: unknown[]): Promise<any[]> {
    return this.store.withRetry(() => this.store.dataSource.query(sql, params), { label: 'read messages' });
  }

  async findById(id: string): Promise<Message | undefined> {
    const [ row ] = await this.query(`SELECT ${COLUMNS} FROM im_messages WHERE id = ?`, [ id ]);
    return row ? toMessage(storedFromRow(row)) : undefined;
  }

  /**
   * The user's view of a conversation in one primary-key lookup: its last seq and, when the user is a member,
   * the seq after which it sees messages. Undefined when the conversation does not exist.
   */
  async readState(conversationId: string, userId: string): Promise<{ lastSeq: number; sinceSeq?: number } | undefined> {
    const [ row ] = await this.query(
      'SELECT c.last_seq, m.since_seq FROM im_conversations c LEFT JOIN im_members m ON m.conversation_id = c.id AND m.user_id = ? WHERE c.id = ?',
      [ userId, conversationId ]);
    if (!row) return undefined;
    return row.since_seq === null || row.since_seq === undefined
      ? { lastSeq: readInt(row.last_seq) }
      : { lastSeq: readInt(row.last_seq), sinceSeq: readInt(row.since_seq) };
  }

  /** The messages `from..to` (inclusive) of a conversation, ascending: a range of the primary key. */
  async range(conversationId: string, from: number, to: number): Promise<Message[]> {
    if (from > to) return [];
    const rows = await this.query(`SELECT ${COLUMNS} FROM im_messages WHERE conversation_id = ? AND seq >= ? AND seq <= ? ORDER BY seq ASC`,
      [ conversationId, from, to ]);
    return rows.map(r => toMessage(storedFromRow(r)));
  }

  /** A page of history, ascending: after `afterSeq`, before `beforeSeq`, or the newest. */
  async history(conversationId: string, userId: string, { afterSeq, beforeSeq, limit }: HistoryQuery): Promise<Page> {
    const since = await this.sinceSeq(conversationId, userId);
    let rows: any[];
    if (afterSeq !== undefined) {
      rows = await this.query(`SELECT ${COLUMNS} FROM im_messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
        [ conversationId, Math.max(afterSeq, since), limit + 1 ]);
      const hasMore = rows.length > limit;
      return { messages: rows.slice(0, limit).map(r => toMessage(storedFromRow(r))), hasMore };
    }
    const upper = beforeSeq === undefined ? '' : ' AND seq < ?';
    rows = await this.query(`SELECT ${COLUMNS} FROM im_messages WHERE conversation_id = ? AND seq > ?${upper} ORDER BY seq DESC LIMIT ?`,
      beforeSeq === undefined ? [ conversationId, since, limit + 1 ] : [ conversationId, since, beforeSeq, limit + 1 ]);
    const hasMore = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(r => toMessage(storedFromRow(r))), hasMore };
  }

  /** Every conversation of the user with its last seq and the user's `since_seq`, by conversation id (for sync). */
  async conversationStates(userId: string): Promise<Array<{ conversationId: string; lastSeq: number; sinceSeq: number }>> {
    const rows = await this.query(
      'SELECT m.conversation_id, m.since_seq, c.last_seq FROM im_members m JOIN im_conversations c ON c.id = m.conversation_id WHERE m.user_id = ? ORDER BY m.conversation_id',
      [ userId ]);
    return rows.map(row => ({ conversationId: row.conversation_id, lastSeq: readInt(row.last_seq), sinceSeq: readInt(row.since_seq) }));
  }

  /**
   * For every conversation of the user: its last seq, and what the user's devices have not acknowledged
   * (pending or failed; others' messages only, oldest first, `limit` in all). Conversations with nothing
   * pending come too (empty `messages`): their last seq is where pushes to a newly connected device continue.
   * At most `limit` conversations are read for their messages, those with something unread first: one in which
   * the user wrote last may hold only its own messages (never pushed back), and a user who wrote last in
   * thousands would otherwise cost thousands of reads per connect. The rest come through `sync`.
   */
  async undelivered(userId: string, limit: number): Promise<Backlog[]> {
    const conversations = await this.query(
      'SELECT m.conversation_id, m.delivered_seq, m.since_seq, c.last_seq FROM im_members m JOIN im_conversations c ON c.id = m.conversation_id ' +
      'WHERE m.user_id = ? ORDER BY CASE WHEN m.read_seq < c.last_seq THEN 0 ELSE 1 END, m.conversation_id', [ userId ]);
    const backlog: Backlog[] = [];
    let room = limit;
    let reads = 0;
    for (const row of conversations) {
      const afterSeq = Math.max(readInt(row.delivered_seq), readInt(row.since_seq));
      const lastSeq = readInt(row.last_seq);
      let rows: any[] = [];
      if (room > 0 && reads < limit && lastSeq > afterSeq) {
        reads++;
        rows = await this.query(
          `SELECT ${COLUMNS} FROM im_messages WHERE conversation_id = ? AND seq > ? AND sender_id <> ? ORDER BY seq ASC LIMIT ?`,
          [ row.conversation_id, afterSeq, userId, room ]);
        room -= rows.length;
      }
      backlog.push({ conversationId: row.conversation_id, afterSeq, lastSeq, messages: rows.map(r => toMessage(storedFromRow(r))) });
    }
    return backlog;
  }

  private async sinceSeq(conversationId: string, userId: string): Promise<number> {
    const [ row ] = await this.query('SELECT since_seq FROM im_members WHERE conversation_id = ? AND user_id = ?', [ conversationId, userId ]);
    return row ? readInt(row.since_seq) : 0;
  }
}
