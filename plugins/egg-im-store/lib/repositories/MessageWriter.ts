import type { EntityManager } from 'typeorm';
import type { ImStore } from '../ImStore';
import { BatchQueue } from '../batch/BatchQueue';
import { newId } from '../ids';
import { dialectOf, marks, readInt, readTime, sqlTime } from '../sql/dialect';
import type { StoredMessage } from './rows';
import { isDuplicateKeyError } from '../dbErrors';

export interface AppendItem {
  conversationId: string;
  kind: 'direct' | 'group';
  groupId?: string;
  /** Both users of a direct conversation (one for a note to self): their member rows are made on first write. */
  directMemberIds?: string[];
  senderId: string;
  clientMsgId: string;
  type: string;
  contentJson: string;
  metaJson: string;
}

export interface AppendResult {
  message: StoredMessage;
  /** False when `(senderId, clientMsgId)` was already stored: `message` is the first one, nothing was written. */
  created: boolean;
}

export interface MessageWriterOptions {
  /** Most messages in one transaction. */
  maxBatch: number;
  /** Parallel writers; a conversation always goes to the same one, so its messages commit in order. */
  shards: number;
  lingerMs: number;
}

const MESSAGE_COLUMNS = 'id, conversation_id, seq, sender_id, client_msg_id, type, content, meta, created_at';

export function storedFromRow(row: any): StoredMessage {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    seq: readInt(row.seq),
    senderId: row.sender_id,
    clientMsgId: row.client_msg_id,
    type: row.type,
    contentJson: row.content,
    metaJson: row.meta,
    createdAt: readTime(row.created_at),
  };
}

/**
 * Dedupe → sequence → persist, for many messages in one transaction. The ack of a message is sent only
 * after this commit; a conflicting write from another node rolls the transaction back and it is run again
 * (the dedupe step then finds the other node's row), so seqs stay gapless and nothing is stored twice.
 */
export class MessageWriter {
  private readonly shards: Array<BatchQueue<AppendItem, AppendResult>>;

  constructor(private readonly store: ImStore, private readonly options: MessageWriterOptions) {
    this.shards = Array.from({ length: Math.max(1, options.shards) },
      () => new BatchQueue<AppendItem, AppendResult>(items => this.write(items), options));
  }

  append(item: AppendItem): Promise<AppendResult> {
    return this.shards[shardOf(item.conversationId, this.shards.length)].push(item);
  }

  /** Waits for every queued message to be written (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.shards.map(shard => shard.drain()));
  }

  private async write(items: AppendItem[]): Promise<AppendResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.withRetry(manager => this.transaction(manager, items), { label: 'append messages', transaction: true });
      } catch (err) {
        // Another node stored one of these sends between our dedupe read and our insert: run again, and the
        // dedupe step answers with its row.
        if (attempt < 3 && isDuplicateKeyError(err)) continue;
        throw err;
      }
    }
  }

  private async transaction(manager: EntityManager, items: AppendItem[]): Promise<AppendResult[]> {
    const dialect = dialectOf(this.store.driver);
    const now = new Date();
    const results: Array<AppendResult | undefined> = new Array(items.length);

    // 1. Dedupe: sends already stored, and repeats within this batch.
    const existing = await this.findExisting(manager, items);
    const firstInBatch = new Map<string, number>();
    const fresh: number[] = [];
    items.forEach((item, i) => {
      const key = `${item.senderId}\n${item.clientMsgId}`;
      const stored = existing.get(key);
      if (stored) results[i] = { message: stored, created: false };
      else if (firstInBatch.has(key)) return;
      else {
        firstInBatch.set(key, i);
        fresh.push(i);
      }
    });
    if (fresh.length > 0) {
      // 2. Sequence: bump each conversation's last_seq by its count (creating direct ones), in id order so
      //    concurrent writers lock rows in the same order; the row lock is held until commit.
      const counts = new Map<string, { item: AppendItem; count: number }>();
      for (const i of fresh) {
        const entry = counts.get(items[i].conversationId);
        if (entry) entry.count++;
        else counts.set(items[i].conversationId, { item: items[i], count: 1 });
      }
      const conversations = [ ...counts.entries() ].sort(([ a ], [ b ]) => (a < b ? -1 : a > b ? 1 : 0));
      const at = sqlTime(now);
      await manager.query(
        `INSERT INTO im_conversations (id, type, group_id, last_seq, created_at, updated_at) VALUES ${conversations.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')} ` +
        dialect.onConflict([ 'id' ], v => `last_seq = last_seq + ${v('last_seq')}, updated_at = ${v('updated_at')}`),
        conversations.flatMap(([ id, { item, count } ]) => [ id, item.kind, item.groupId ?? null, count, at, at ]));
      const rows: Array<{ id: string; last_seq: unknown }> = await manager.query(
        `SELECT id, last_seq FROM im_conversations WHERE id IN (${marks(conversations.length)})`, conversations.map(([ id ]) => id));
      const next = new Map<string, number>();
      const created = new Set<string>();
      for (const row of rows) {
        const { count } = counts.get(row.id)!;
        const last = readInt(row.last_seq);
        next.set(row.id, last - count + 1);
        if (last === count) created.add(row.id);
      }

      // 3. Persist the messages and their outbox entries.
      const messages = fresh.map(i => {
        const item = items[i];
        const seq = next.get(item.conversationId)!;
        next.set(item.conversationId, seq + 1);
        const message: StoredMessage = {
          id: newId('m_'), conversationId: item.conversationId, seq, senderId: item.senderId,
          clientMsgId: item.clientMsgId, type: item.type, contentJson: item.contentJson, metaJson: item.metaJson, createdAt: now,
        };
        results[i] = { message, created: true };
        return message;
      });
      await manager.query(`INSERT INTO im_messages (${MESSAGE_COLUMNS}) VALUES ${messages.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        messages.flatMap(m => [ m.id, m.conversationId, m.seq, m.senderId, m.clientMsgId, m.type, m.contentJson, m.metaJson, at ]));
      await manager.query(`INSERT INTO im_outbox (message_id, created_at) VALUES ${messages.map(() => '(?, ?)').join(', ')}`,
        messages.flatMap(m => [ m.id, at ]));

      // 4. The sender has read what it sent (readSeq moves to it); a new direct conversation gets its two members.
      await this.moveSenderCursors(manager, messages, items, fresh, created, at);
    }
    // Repeats within the batch answer with the first one.
    items.forEach((item, i) => {
      if (!results[i]) results[i] = { message: results[firstInBatch.get(`${item.senderId}\n${item.clientMsgId}`)!]!.message, created: false };
    });
    return results as AppendResult[];
  }

  private async findExisting(manager: EntityManager, items: AppendItem[]): Promise<Map<string, StoredMessage>> {
    const bySender = new Map<string, Set<string>>();
    for (const { senderId, clientMsgId } of items) {
      if (!bySender.has(senderId)) bySender.set(senderId, new Set());
      bySender.get(senderId)!.add(clientMsgId);
    }
    const where: string[] = [];
    const params: string[] = [];
    for (const [ senderId, ids ] of bySender) {
      where.push(`(sender_id = ? AND client_msg_id IN (${marks(ids.size)}))`);
      params.push(senderId, ...ids);
    }
    const rows = await manager.query(`SELECT ${MESSAGE_COLUMNS} FROM im_messages WHERE ${where.join(' OR ')}`, params);
    return new Map(rows.map((row: any) => [ `${row.sender_id}\n${row.client_msg_id}`, storedFromRow(row) ]));
  }

  private async moveSenderCursors(manager: EntityManager, messages: StoredMessage[], items: AppendItem[], fresh: number[],
    created: Set<string>, at: string): Promise<void> {
    const dialect = dialectOf(this.store.driver);
    const direct = new Map<string, number>(); // conversation\nuser → read_seq
    const group = new Map<string, number>();
    messages.forEach((message, n) => {
      const item = items[fresh[n]];
      const key = `${message.conversationId}\n${message.senderId}`;
      const target = item.kind === 'direct' ? direct : group;
      target.set(key, Math.max(target.get(key) ?? 0, message.seq));
      if (item.kind === 'direct' && created.has(message.conversationId)) {
        for (const memberId of item.directMemberIds ?? []) {
          const memberKey = `${message.conversationId}\n${memberId}`;
          if (!direct.has(memberKey)) direct.set(memberKey, 0);
        }
      }
    });
    if (direct.size > 0) {
      // Direct conversations: an upsert makes the member rows the first time.
      const rows = [ ...direct.entries() ].map(([ key, seq ]) => [ ...key.split('\n'), seq ] as const);
      await manager.query(
        `INSERT INTO im_members (conversation_id, user_id, read_seq, joined_at) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')} ` +
        dialect.onConflict([ 'conversation_id', 'user_id' ], v => `read_seq = ${dialect.greatest('read_seq', v('read_seq'))}`),
        rows.flatMap(([ c, u, seq ]) => [ c, u, seq, at ]));
    }
    if (group.size > 0) {
      // Groups: update only; a member removed a moment ago must not come back through its own message.
      const rows = [ ...group.entries() ].map(([ key, seq ]) => [ ...key.split('\n'), seq, at ]);
      await manager.query(
        dialect.updateFrom('im_members', 'm', [ 'c', 'u', 's', 't' ], rows.length,
          'm.conversation_id = v.c AND m.user_id = v.u', 'm.read_seq = v.s, m.read_at = v.t', 'm.read_seq < v.s'),
        rows.flat());
    }
  }
}

function shardOf(key: string, shards: number): number {
  if (shards === 1) return 0;
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(hash) % shards;
}
