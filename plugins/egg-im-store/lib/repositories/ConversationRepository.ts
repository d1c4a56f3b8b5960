import type { ConversationSummary } from 'egg-im-protocol';
import type { ImStore } from '../ImStore';
import { newId } from '../ids';
import { dialectOf, marks, readInt, readTime, sqlTime, type Dialect } from '../sql/dialect';
import { groupConversationId } from '../conversationIds';
import { storedFromRow } from './MessageWriter';
import { toMessage, type StoredMessage } from './rows';

/** Where a page of a user's conversations starts: after this one (the last of the page before). */
export interface ConversationPageAfter {
  updatedAt: Date;
  conversationId: string;
}

export interface ConversationPageQuery {
  limit: number;
  after?: ConversationPageAfter;
  /**
   * The page ends before the conversation whose last message (content and meta, in bytes) would take the page's
   * past this, and then has more; its first last message is always there. Unbounded when not given.
   */
  maxBytes?: number;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  hasMore: boolean;
  /** The page's last conversation, where the next page starts (only when `hasMore`). */
  last?: ConversationPageAfter;
}

/** A last message's size, in bytes of its content and meta (0 for a conversation without one). */
const messageBytes = ({ octets }: Dialect) => `COALESCE(${octets('l.content')}, 0) + COALESCE(${octets('l.meta')}, 0)`;
/** The sizes of the page's last messages so far, in the page's order. */
const runningBytes = (dialect: Dialect) => `SUM(${messageBytes(dialect)}) OVER (ORDER BY p.updated_at DESC, p.conversation_id ROWS UNBOUNDED PRECEDING)`;

/** Conversations and their members. Direct conversations are made by the first message; groups here. */
export class ConversationRepository {
  constructor(private readonly store: ImStore) {}

  async memberIds(conversationId: string): Promise<string[]> {
    const rows = await this.store.withRetry(() => this.store.dataSource.query(
      'SELECT user_id FROM im_members WHERE conversation_id = ? ORDER BY user_id', [ conversationId ]), { label: 'read members' });
    return rows.map((r: { user_id: string }) => r.user_id);
  }

  /**
   * True when `userId` is a contact of `viewer`: they share a conversation (a direct one or a group) in which
   * `userId` has sent or read a message since joining (sending moves the sender's read cursor). Being put in a
   * conversation by someone else is not enough: anyone can message anyone or add them to a group. A user is their
   * own contact. One query: the viewer's conversations (index `idx_im_members_user`), each probed for the other
   * user's row on the primary key, stopping at the first.
   */
  async isContact(viewer: string, userId: string): Promise<boolean> {
    if (typeof viewer !== 'string' || typeof userId !== 'string') return false;
    if (viewer === userId) return true;
    const rows = await this.store.withRetry(() => this.store.dataSource.query(
      'SELECT 1 AS shared FROM im_members v JOIN im_members u ON u.conversation_id = v.conversation_id AND u.user_id = ? AND u.read_seq > u.since_seq ' +
      'WHERE v.user_id = ? LIMIT 1',
      [ userId, viewer ]), { label: 'check contact' });
    return rows.length > 0;
  }

  /**
   * A page of the user's conversations, most recently active first (ties by id), each with its last message when
   * the user may see it (a member added to a group sees the messages after it joined) and a group's name: at most
   * `limit`, after `after` (the last one of the page before). One query: the member index, then primary-key
   * lookups per conversation (its row, its group, its last message).
   */
  async listForUser(userId: string, { limit, after, maxBytes = Number.MAX_SAFE_INTEGER }: ConversationPageQuery): Promise<ConversationPage> {
    const keyset = after ? 'AND (c.updated_at < ? OR (c.updated_at = ? AND c.id > ?)) ' : '';
    const dialect = dialectOf(this.store.driver);
    const params: unknown[] = [ maxBytes, userId ];
    if (after) params.push(sqlTime(after.updatedAt), sqlTime(after.updatedAt), after.conversationId);
    params.push(limit + 1);
    const rows = await this.store.withRetry(() => this.store.dataSource.query(
      // The page's rows are chosen first (member and conversation rows only: what the sort reads is small); the
      // group, the peer and the last message (up to 64 KB) are joined for those rows alone. The peer of a direct
      // conversation is its other member (none: a note to self), not parsed from the id, which is a hash when a
      // user id holds a ':'. A last message past the page's `maxBytes` (the running sum of their sizes, in page
      // order) is not sent: its row only ends the page.
      'SELECT q.*, CASE WHEN q.fits = 1 THEN l.content END AS l_content, CASE WHEN q.fits = 1 THEN l.meta END AS l_meta ' +
      'FROM (SELECT p.conversation_id, p.read_seq, p.type, p.group_id, p.last_seq, p.updated_at, g.name AS group_name, CASE WHEN p.type = \'direct\' THEN ' +
      '(SELECT o.user_id FROM im_members o WHERE o.conversation_id = p.conversation_id AND o.user_id <> ? LIMIT 1) END AS peer_id, ' +
      'l.id AS l_id, l.seq AS l_seq, l.sender_id AS l_sender_id, l.client_msg_id AS l_client_msg_id, l.type AS l_type, l.created_at AS l_created_at, ' +
      `CASE WHEN ${runningBytes(dialect)} <= ? OR ${runningBytes(dialect)} = ${messageBytes(dialect)} THEN 1 ELSE 0 END AS fits ` +
      'FROM (SELECT m.conversation_id, m.read_seq, m.since_seq, c.type, c.group_id, c.last_seq, c.updated_at ' +
      'FROM im_members m JOIN im_conversations c ON c.id = m.conversation_id ' +
      `WHERE m.user_id = ? ${keyset}ORDER BY c.updated_at DESC, c.id LIMIT ?) p ` +
      'LEFT JOIN im_groups g ON g.id = p.group_id ' +
      'LEFT JOIN im_messages l ON l.conversation_id = p.conversation_id AND l.seq = p.last_seq AND p.last_seq > p.since_seq) q ' +
      'LEFT JOIN im_messages l ON q.fits = 1 AND l.conversation_id = q.conversation_id AND l.seq = q.l_seq ' +
      'ORDER BY q.updated_at DESC, q.conversation_id', [ userId, ...params ]),
    { label: 'list conversations' });
    // The rows up to the first whose last message does not fit, and at most `limit` of them.
    const fitting = rows.findIndex((row: any) => Number(row.fits) !== 1);
    const end = Math.min(limit, fitting < 0 ? rows.length : fitting);
    const hasMore = rows.length > end;
    const page = rows.slice(0, end);
    const conversations = page.map((row: any) => {
      const lastSeq = readInt(row.last_seq);
      const readSeq = Math.min(readInt(row.read_seq), lastSeq);
      const summary: ConversationSummary = { conversationId: row.conversation_id, type: row.type, lastSeq, readSeq, unread: lastSeq - readSeq };
      if (row.type === 'group') {
        summary.groupId = row.group_id;
        summary.name = row.group_name;
      } else {
        summary.peerId = row.peer_id ?? userId;
      }
      if (row.l_id != null) summary.lastMessage = toMessage(lastMessageOf(row));
      return summary;
    });
    const last = page.at(-1);
    return hasMore ? { conversations, hasMore, last: { updatedAt: readTime(last.updated_at), conversationId: last.conversation_id } } : { conversations, hasMore };
  }

  async createGroup(name: string, creatorId: string, memberIds: string[]): Promise<{ groupId: string; conversationId: string }> {
    const groupId = newId('g_');
    const conversationId = groupConversationId(groupId);
    const at = sqlTime(new Date());
    const members = [ creatorId, ...memberIds.filter(id => id !== creatorId) ];
    await this.store.withRetry(async manager => {
      await manager.query('INSERT INTO im_groups (id, name, created_by, created_at) VALUES (?, ?, ?, ?)', [ groupId, name, creatorId, at ]);
      await manager.query('INSERT INTO im_conversations (id, type, group_id, last_seq, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)',
        [ conversationId, 'group', groupId, at, at ]);
      await this.insertMembers(manager, conversationId, members, 0, at);
    }, { label: 'create group', transaction: true });
    return { groupId, conversationId };
  }

  /** New members see the messages written after they joined. Existing members are left as they are. */
  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.store.withRetry(async manager => {
      const [ row ] = await manager.query('SELECT last_seq FROM im_conversations WHERE id = ?', [ conversationId ]);
      await this.insertMembers(manager, conversationId, userIds, readInt(row?.last_seq ?? 0), sqlTime(new Date()));
    }, { label: 'add members', transaction: true });
  }

  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.store.withRetry(() => this.store.dataSource.query(
      'DELETE FROM im_members WHERE conversation_id = ? AND user_id = ?', [ conversationId, userId ]), { label: 'remove member' });
  }

  private async insertMembers(manager: { query: (sql: string, params: unknown[]) => Promise<unknown> }, conversationId: string,
    userIds: string[], sinceSeq: number, at: string): Promise<void> {
    const { insertIgnore } = dialectOf(this.store.driver);
    // A member starts with everything before it joined counted as delivered and read.
    await manager.query(`${insertIgnore} INTO im_members (conversation_id, user_id, since_seq, read_seq, delivered_seq, joined_at) VALUES ` +
      userIds.map(() => `(${marks(6)})`).join(', '), userIds.flatMap(id => [ conversationId, id, sinceSeq, sinceSeq, sinceSeq, at ]));
  }
}

/** The last message's columns of a conversation list row (prefixed `l_`). */
function lastMessageOf(row: any): StoredMessage {
  return storedFromRow({
    id: row.l_id, conversation_id: row.conversation_id, seq: row.l_seq, sender_id: row.l_sender_id, client_msg_id: row.l_client_msg_id,
    type: row.l_type, content: row.l_content, meta: row.l_meta, created_at: row.l_created_at,
  });
}
