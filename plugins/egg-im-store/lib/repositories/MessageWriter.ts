import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { StoreObserver } from 'egg-im-metrics';
import type { ImStore } from '../ImStore';
import { BatchQueue } from '../batch/BatchQueue';
import { newId } from '../ids';
import { derivedRows, dialectOf, marks, readInt, readTime, sqlTime, type Dialect } from '../sql/dialect';
import { runScript, ScriptText } from '../sql/runScript';
import { KnownIds } from './KnownIds';
import { byMemberKey, type StoredMessage } from './rows';
import { isDuplicateKeyError } from '../dbErrors';
import { firstInvalid, invalidText } from '../batch/checkInput';
import { runIsolatingFailures } from '../batch/isolateFailures';

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
 * Dedupe → sequence → persist, for many messages in one transaction (one round trip on MySQL). The ack of a
 * message is sent only after this commit; a repeated send, or a conflicting write from another node, is
 * refused by the unique key, rolls the transaction back, and the batch runs again after reading which sends
 * are stored, so seqs stay gapless and nothing is stored twice. A send the database refuses fails alone: the
 * batch runs again without it (see `runIsolatingFailures`).
 */
export class MessageWriter {
  private readonly shards: Array<BatchQueue<AppendItem, AppendResult>>;
  /**
   * Conversations this process has written to: they exist, and so do their member rows (a direct
   * conversation's rows are made in the transaction that creates it), so a batch needs no statement for them.
   */
  private readonly knownConversations = new KnownIds(100_000);
  /** The statements' text of the batches written so far, by shape (see `BatchPlan`): a few megabytes at most. */
  private readonly scriptTexts = new LRUCache<string, ScriptText>({ maxSize: 2_000_000, sizeCalculation: text => text.packet.length });

  constructor(private readonly store: ImStore, private readonly options: MessageWriterOptions, private readonly observer: StoreObserver) {
    this.shards = Array.from({ length: Math.max(1, options.shards) },
      () => new BatchQueue<AppendItem, AppendResult>(items => runIsolatingFailures(items, batch => this.write(batch)), options));
  }

  append(item: AppendItem): Promise<AppendResult> {
    const invalid = invalidAppend(item);
    if (invalid) return Promise.reject(invalid);
    return this.shards[shardOf(item.conversationId, this.shards.length)].push(item);
  }

  /** Waits for every queued message to be written (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.shards.map(shard => shard.drain()));
  }

  private async write(items: AppendItem[]): Promise<AppendResult[]> {
    const startedAt = performance.now();
    const results = await this.writeAll(items);
    this.observer.batchCommitted(items.length, (performance.now() - startedAt) / 1000);
    return results;
  }

  private async writeAll(items: AppendItem[]): Promise<AppendResult[]> {
    // Most sends are new, so the first try inserts without looking for stored copies: the unique key on
    // (sender_id, client_msg_id) refuses a repeat, the whole transaction rolls back, and the next try looks first.
    for (let attempt = 1; ; attempt++) {
      const lookFirst = attempt > 1;
      try {
        // A retry inside withRetry (e.g. after a COMMIT whose answer was lost) looks first as well.
        return await this.store.withRetry((_manager, retry) => this.writeOnce(items, lookFirst || retry > 1), { label: 'append messages' });
      } catch (err) {
        // A repeat of a stored send (or another node stored one between our look and our insert): run again.
        if (attempt < 4 && isDuplicateKeyError(err)) continue;
        throw err;
      }
    }
  }

  private async writeOnce(items: AppendItem[], lookFirst: boolean): Promise<AppendResult[]> {
    const now = new Date();
    const results: Array<AppendResult | undefined> = new Array(items.length);

    // 1. Dedupe: sends already stored (when asked to look), and repeats within this batch.
    const existing = lookFirst ? await this.findExisting(items) : new Map<string, StoredMessage>();
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
      // 2. Sequence and persist, in one transaction (one round trip on MySQL). A message's seq is its
      //    conversation's new last_seq minus how many of the batch's messages follow it there (`back`).
      const plan = new BatchPlan(fresh.map(i => items[i]), newIdsFor(fresh.length), sqlTime(now), this.knownConversations, dialectOf(this.store.driver));
      const { text, params } = plan.script(this.scriptTexts);
      const out = await runScript(this.store.dataSource, this.store.driver, text, params);
      const lastSeq = new Map((out.at(-1) as Array<{ id: string; last_seq: unknown }>).map(row => [ row.id, readInt(row.last_seq) ]));
      for (const conversationId of lastSeq.keys()) this.knownConversations.add(conversationId);
      fresh.forEach((i, n) => {
        const item = items[i];
        results[i] = {
          created: true,
          message: {
            id: plan.ids[n], conversationId: item.conversationId, seq: lastSeq.get(item.conversationId)! - plan.back[n], senderId: item.senderId,
            clientMsgId: item.clientMsgId, type: item.type, contentJson: item.contentJson, metaJson: item.metaJson, createdAt: now,
          },
        };
      });
    }
    // Repeats within the batch answer with the first one.
    items.forEach((item, i) => {
      if (!results[i]) results[i] = { message: results[firstInBatch.get(`${item.senderId}\n${item.clientMsgId}`)!]!.message, created: false };
    });
    return results as AppendResult[];
  }


  private async findExisting(items: AppendItem[]): Promise<Map<string, StoredMessage>> {
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
    const rows = await this.store.dataSource.query(`SELECT ${MESSAGE_COLUMNS} FROM im_messages WHERE ${where.join(' OR ')}`, params);
    return new Map(rows.map((row: any) => [ `${row.sender_id}\n${row.client_msg_id}`, storedFromRow(row) ]));
  }
}

/** A conversation's last_seq inside the transaction, after the batch's bump, read by a subquery. */
const LAST_SEQ = (conversation: string) => `(SELECT k.last_seq FROM im_conversations k WHERE k.id = ${conversation})`;

/** A member row whose read cursor a batch moves: the sender's, to its latest message of the batch there. */
interface CursorRow {
  conversationId: string;
  userId: string;
  /** The row's seq is the conversation's new last_seq minus this (as `BatchPlan.back`). */
  back: number;
}

/**
 * The statements of one write batch (new messages only). Seqs are computed by the database from the
 * conversation rows the first statement locks and bumps, so the batch needs no read before its writes. On
 * MySQL the new last_seqs are read once into session variables (`@im_seq0`…); on SQLite each seq is a subquery.
 * The statements' text depends only on the batch's shape (how many conversations, and which of them each row
 * belongs to): it is built once per shape and kept by the writer; a batch builds only its parameters.
 */
class BatchPlan {
  /** For each message: how many later messages of the batch share its conversation (seq = last_seq - back). */
  readonly back: number[];
  private readonly counts = new Map<string, { item: AppendItem; count: number }>();
  /** Conversations in id order, so concurrent writers lock rows in the same order; locks are held to commit. */
  private readonly conversations: string[];
  /** A conversation's place in `conversations`; on MySQL its new last_seq is in `@im_seq<place>`. */
  private readonly place = new Map<string, number>();
  /** Each item's conversation's place. */
  private readonly itemPlaces: number[];
  /** The messages' rows, as item indices: by conversation, then in the order they came (their seqs ascending). */
  private readonly rows: number[];
  private readonly directCursors: CursorRow[] = [];
  private readonly groupCursors: CursorRow[] = [];
  /** The other member of each direct conversation the batch creates: conversation, user, its count, time. */
  private readonly otherMembers: unknown[][] = [];

  constructor(private readonly items: AppendItem[], readonly ids: string[], private readonly at: string,
    knownConversations: KnownIds, private readonly dialect: Dialect) {
    for (const item of items) {
      const entry = this.counts.get(item.conversationId);
      if (entry) entry.count++;
      else this.counts.set(item.conversationId, { item, count: 1 });
    }
    const seen = new Map<string, number>();
    this.back = items.map(item => {
      const n = (seen.get(item.conversationId) ?? 0) + 1;
      seen.set(item.conversationId, n);
      return this.counts.get(item.conversationId)!.count - n;
    });
    this.conversations = [ ...this.counts.keys() ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.conversations.forEach((id, i) => this.place.set(id, i));
    this.itemPlaces = items.map(item => this.placeOf(item));
    this.rows = items.map((_, n) => n).sort((a, b) => this.itemPlaces[a] - this.itemPlaces[b] || a - b);
    this.planCursors(knownConversations);
  }

  /** The statements' text (from `texts` when a batch of this shape ran before) and each statement's parameters. */
  script(texts: LRUCache<string, ScriptText>): { text: ScriptText; params: unknown[] } {
    const shape = this.shape();
    let text = texts.get(shape);
    if (!text) texts.set(shape, text = new ScriptText(this.texts()));
    return { text, params: this.params() };
  }

  private placeOf(item: { conversationId: string }): number {
    return this.place.get(item.conversationId)!;
  }

  /** The sender has read what it sent (its read cursor moves to it); a new direct conversation gets its member rows. */
  private planCursors(knownConversations: KnownIds): void {
    // conversation\nsender → the smallest `back` of the sender's messages there (its latest message).
    const direct = new Map<string, number>();
    const group = new Map<string, number>();
    this.items.forEach((item, n) => {
      const target = item.kind === 'direct' ? direct : group;
      const key = `${item.conversationId}\n${item.senderId}`;
      target.set(key, Math.min(target.get(key) ?? Infinity, this.back[n]));
    });
    const cursorRows = (cursors: Map<string, number>, into: CursorRow[]) => {
      for (const [ key, back ] of [ ...cursors ].sort(byMemberKey)) {
        const [ conversationId, userId ] = key.split('\n');
        into.push({ conversationId, userId, back });
      }
    };
    cursorRows(direct, this.directCursors);
    cursorRows(group, this.groupCursors);
    // A conversation known to exist already has both member rows; one this batch creates (its last_seq is the
    // batch's count) needs the other member's.
    for (const [ conversationId, { item, count } ] of this.counts) {
      if (item.kind !== 'direct' || knownConversations.has(conversationId)) continue;
      for (const memberId of item.directMemberIds ?? []) {
        if (!direct.has(`${conversationId}\n${memberId}`)) this.otherMembers.push([ conversationId, memberId, count, this.at ]);
      }
    }
  }

  /** What the statements' text depends on: the conversations' count, and the conversation of each row. */
  private shape(): string {
    const places = (rows: Array<{ conversationId: string }>) => rows.map(row => this.placeOf(row)).join(',');
    return `${this.conversations.length}|${this.rows.map(n => this.itemPlaces[n]).join(',')}|${places(this.directCursors)}|` +
      `${this.otherMembers.length}|${places(this.groupCursors)}`;
  }

  /** The seq of a row of `conversationId`, with one `?` for its `back` (and one before it for the id, on SQLite). */
  private seqSql(conversationId: string): string {
    return this.dialect.sessionVariables ? `@im_seq${this.place.get(conversationId)} - ?` : `${LAST_SEQ('?')} - ?`;
  }

  private pushSeq(params: unknown[], conversationId: string, back: number): void {
    if (this.dialect.sessionVariables) params.push(back);
    else params.push(conversationId, back);
  }

  private texts(): string[] {
    const { dialect, conversations, directCursors, groupCursors } = this;
    const cursorRow = (row: CursorRow) => `(?, ?, ${this.seqSql(row.conversationId)}, ?)`;
    // Bump each conversation's last_seq by its count (creating direct ones on their first message).
    const texts = [ `INSERT INTO im_conversations (id, type, group_id, last_seq, created_at, updated_at) VALUES ${rowsOf(conversations.length, 6)} ` +
      dialect.onConflict([ 'id' ], v => `last_seq = last_seq + ${v('last_seq')}, updated_at = ${v('updated_at')}`) ];
    if (dialect.sessionVariables) {
      texts.push(`SELECT ${conversations.map(() => 'MAX(CASE WHEN id = ? THEN last_seq END)').join(', ')} ` +
        `INTO ${conversations.map((_, i) => `@im_seq${i}`).join(', ')} FROM im_conversations WHERE id IN (${marks(conversations.length)})`);
    }
    texts.push(
      `INSERT INTO im_messages (${MESSAGE_COLUMNS}) VALUES ${this.rows.map(n => `(?, ?, ${this.seqSql(this.items[n].conversationId)}, ?, ?, ?, ?, ?, ?)`).join(', ')}`,
      `INSERT INTO im_outbox (message_id, created_at) VALUES ${rowsOf(this.ids.length, 2)}`,
    );
    if (directCursors.length > 0) {
      // Direct conversations: an upsert makes the sender's row the first time.
      texts.push(`INSERT INTO im_members (conversation_id, user_id, read_seq, joined_at) VALUES ${directCursors.map(cursorRow).join(', ')} ` +
        dialect.onConflict([ 'conversation_id', 'user_id' ], v => `read_seq = ${dialect.greatest('read_seq', v('read_seq'))}`));
    }
    if (this.otherMembers.length > 0) {
      texts.push(`${dialect.insertIgnore} INTO im_members (conversation_id, user_id, read_seq, joined_at) ` +
        `SELECT v.c, v.u, 0, v.t FROM (${derivedRows([ 'c', 'u', 'n', 't' ], this.otherMembers.length)}) v WHERE ${LAST_SEQ('v.c')} = v.n`);
    }
    if (groupCursors.length > 0) {
      // Groups: update only; a member removed a moment ago must not come back through its own message.
      texts.push(dialect.updateFrom('im_members', 'm', [ 'c', 'u', 's', 't' ], groupCursors.length, 'm.conversation_id = v.c AND m.user_id = v.u',
        'm.read_seq = v.s, m.read_at = v.t', 'm.read_seq < v.s', (row, column) => (column === 2 ? this.seqSql(groupCursors[row].conversationId) : '?')));
    }
    texts.push(`SELECT id, last_seq FROM im_conversations WHERE id IN (${marks(conversations.length)})`);
    return texts;
  }

  /** The statements' parameters, one after the other in the order of `texts()`. */
  private params(): unknown[] {
    const { items, ids, at, conversations } = this;
    const params: unknown[] = [];
    for (const id of conversations) {
      const { item, count } = this.counts.get(id)!;
      params.push(id, item.kind, item.groupId ?? null, count, at, at);
    }
    if (this.dialect.sessionVariables) params.push(...conversations, ...conversations);
    for (const n of this.rows) {
      const m = items[n];
      params.push(ids[n], m.conversationId);
      this.pushSeq(params, m.conversationId, this.back[n]);
      params.push(m.senderId, m.clientMsgId, m.type, m.contentJson, m.metaJson, at);
    }
    for (const id of ids) params.push(id, at);
    this.pushCursors(params, this.directCursors);
    for (const row of this.otherMembers) params.push(...row);
    this.pushCursors(params, this.groupCursors);
    params.push(...conversations);
    return params;
  }

  private pushCursors(params: unknown[], rows: CursorRow[]): void {
    for (const row of rows) {
      params.push(row.conversationId, row.userId);
      this.pushSeq(params, row.conversationId, row.back);
      params.push(this.at);
    }
  }
}

function invalidAppend(item: AppendItem): Error | undefined {
  if (item === null || typeof item !== 'object') return new TypeError('[egg-im-store] a message to append must be an object');
  const { kind, directMemberIds } = item;
  return firstInvalid(
    kind === 'direct' || kind === 'group' ? undefined : new TypeError('[egg-im-store] kind must be "direct" or "group"'),
    invalidText(item.conversationId, 'conversationId'), invalidText(item.senderId, 'senderId'), invalidText(item.clientMsgId, 'clientMsgId'),
    invalidText(item.type, 'type'), invalidText(item.contentJson, 'contentJson'), invalidText(item.metaJson, 'metaJson'),
    item.groupId === undefined ? undefined : invalidText(item.groupId, 'groupId'),
    directMemberIds === undefined ? undefined : Array.isArray(directMemberIds)
      ? firstInvalid(...directMemberIds.map(id => invalidText(id, 'directMemberIds[]')))
      : new TypeError('[egg-im-store] directMemberIds must be an array of strings'),
  );
}

/** `(?, ?), (?, ?)` for `rows` rows of `columns` values. */
function rowsOf(rows: number, columns: number): string {
  const row = `(${marks(columns)})`;
  return Array.from({ length: rows }, () => row).join(', ');
}

function newIdsFor(count: number): string[] {
  return Array.from({ length: count }, () => newId('m_'));
}

/** The writer a conversation's messages go to, of `shards`: always the same one, so they commit in order. */
export function shardOf(key: string, shards: number): number {
  if (shards === 1) return 0;
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(hash) % shards;
}
