import { timedRun, type TimerObserver } from 'egg-im-metrics';
import type { MessageStatus, MessageStatusResult, RecipientState, RecipientStatus } from 'egg-im-protocol';
import type { ImStore } from '../ImStore';
import { BatchQueue } from '../batch/BatchQueue';
import { firstInvalid, invalidCount, invalidText } from '../batch/checkInput';
import { runIsolatingFailures } from '../batch/isolateFailures';
import { byMemberKey } from './rows';
import { dialectOf, readInt, readTimeOrUndefined, sqlTime, type Dialect } from '../sql/dialect';

export interface Receipt {
  conversationId: string;
  userId: string;
  seq: number;
  /** Pushes made for this message while a device of the user was connected. */
  attempts: number;
}

/** What `write` records: a cursor move (delivered, failed) or the pushes of a delivery still pending. */
type ReceiptKind = 'delivered' | 'failed' | 'attempted';

export interface ReadMark {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
}

const ORDER: Record<RecipientStatus, number> = { failed: 0, pending: 1, delivered: 2, read: 3 };
const AS_MESSAGE: Record<RecipientStatus, MessageStatus> = { failed: 'failed', pending: 'sent', delivered: 'delivered', read: 'read' };

/**
 * Delivery state as cursors per member: `delivered_seq` (highest seq a device of the member acknowledged),
 * `read_seq`, `failed_seq` (highest seq whose retries ran out), `attempted_seq` with `attempted_pushes` (the
 * pushes of a delivery still pending). One row per member per conversation, so a message to a group of 1,000
 * writes no per-recipient rows; acknowledgements and push counts are batched.
 */
export class ReceiptRepository {
  private readonly deliveredQueue: BatchQueue<Receipt, void>;
  private readonly failedQueue: BatchQueue<Receipt, void>;
  private readonly attemptedQueue: BatchQueue<Receipt, void>;

  constructor(private readonly store: ImStore, batch: { maxBatch: number; lingerMs: number }, timers: TimerObserver) {
    // A receipt the database refuses fails alone; the others of its batch are recorded. Each flush is reported to `timers`.
    const queue = (kind: ReceiptKind) => new BatchQueue<Receipt, void>(
      items => timedRun(timers, 'receiptFlush', () => runIsolatingFailures(items, some => this.write(kind, some))), batch);
    this.deliveredQueue = queue('delivered');
    this.failedQueue = queue('failed');
    this.attemptedQueue = queue('attempted');
  }

  delivered(receipt: Receipt): Promise<void> {
    const invalid = invalidReceipt(receipt);
    return invalid ? Promise.reject(invalid) : this.deliveredQueue.push(receipt);
  }

  failed(receipt: Receipt): Promise<void> {
    const invalid = invalidReceipt(receipt);
    return invalid ? Promise.reject(invalid) : this.failedQueue.push(receipt);
  }

  /**
   * Records that a delivery still pending has been pushed `attempts` times, so `statusOf` shows the count
   * while the pushes happen. Never lowers a count, and never touches a recipient already delivered, read or
   * failed at `seq`. Batched like the other receipts.
   */
  attempted(receipt: Receipt): Promise<void> {
    const invalid = invalidReceipt(receipt);
    return invalid ? Promise.reject(invalid) : this.attemptedQueue.push(receipt);
  }

  async drain(): Promise<void> {
    await Promise.all([ this.deliveredQueue.drain(), this.failedQueue.drain(), this.attemptedQueue.drain() ]);
  }

  /**
   * Marks everything up to `seq` read (and delivered). Returns, for each other sender whose messages were
   * just read, its latest such message: what the senders are told; undefined when the user is not a member.
   */
  async read({ conversationId, userId, seq }: Omit<Receipt, 'attempts'>): Promise<ReadMark[] | undefined> {
    const invalid = firstInvalid(invalidText(conversationId, 'conversationId'), invalidText(userId, 'userId'), invalidCount(seq, 'seq', 1));
    if (invalid) throw invalid;
    return this.store.withRetry(async manager => {
      const [ member ] = await manager.query(
        'SELECT m.read_seq, c.last_seq FROM im_members m JOIN im_conversations c ON c.id = m.conversation_id WHERE m.conversation_id = ? AND m.user_id = ?',
        [ conversationId, userId ]);
      if (!member) return undefined;
      const from = readInt(member.read_seq);
      const to = Math.min(seq, readInt(member.last_seq));
      if (to <= from) return [];
      const at = sqlTime(new Date());
      const { greatest } = dialectOf(this.store.driver);
      // Single-table UPDATE: assignments run left to right, so delivered_at sees the old delivered_seq.
      await manager.query(
        `UPDATE im_members SET ${RESET_PUSHES('?')}, delivered_at = CASE WHEN delivered_seq < ? THEN ? ELSE delivered_at END, ` +
        `delivered_seq = ${greatest('delivered_seq', '?')}, read_seq = ?, read_at = ? WHERE conversation_id = ? AND user_id = ? AND read_seq < ?`,
        [ to, to, at, to, to, at, conversationId, userId, to ]);
      const latest = await manager.query(
        'SELECT sender_id, MAX(seq) AS seq FROM im_messages WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id <> ? GROUP BY sender_id',
        [ conversationId, from, to, userId ]);
      if (latest.length === 0) return [];
      const rows = await manager.query(
        `SELECT id, seq, sender_id FROM im_messages WHERE conversation_id = ? AND seq IN (${latest.map(() => '?').join(', ')})`,
        [ conversationId, ...latest.map((r: any) => readInt(r.seq)) ]);
      return rows.map((r: any) => ({ id: r.id, conversationId, seq: readInt(r.seq), senderId: r.sender_id }));
    }, { label: 'mark read', transaction: true });
  }

  /** The delivery state of one message for each recipient (members who had joined before it, but the sender). */
  async statusOf(messageId: string): Promise<(MessageStatusResult & { senderId: string }) | undefined> {
    const [ message ] = await this.store.withRetry(() => this.store.dataSource.query(
      'SELECT conversation_id, seq, sender_id FROM im_messages WHERE id = ?', [ messageId ]), { label: 'read status' });
    if (!message) return undefined;
    const seq = readInt(message.seq);
    const members = await this.store.withRetry(() => this.store.dataSource.query(
      'SELECT user_id, since_seq, delivered_seq, read_seq, failed_seq, attempts, attempted_seq, attempted_pushes, delivered_at, read_at, failed_at FROM im_members ' +
      'WHERE conversation_id = ? AND user_id <> ? ORDER BY user_id', [ message.conversation_id, message.sender_id ]), { label: 'read status' });
    const recipients: RecipientState[] = [];
    for (const m of members) {
      if (readInt(m.since_seq) >= seq) continue;
      const status: RecipientStatus = readInt(m.read_seq) >= seq ? 'read'
        : readInt(m.delivered_seq) >= seq ? 'delivered'
          : readInt(m.failed_seq) >= seq ? 'failed' : 'pending';
      const state: RecipientState = { userId: m.user_id, status, attempts: readInt(m.attempts) };
      // pending: the pushes made so far, once a push of it (or of a later message) was recorded
      if (status === 'pending') state.attempts = readInt(m.attempted_seq) >= seq ? readInt(m.attempted_pushes) : 0;
      const deliveredAt = readTimeOrUndefined(m.delivered_at);
      const readAt = readTimeOrUndefined(m.read_at);
      const failedAt = readTimeOrUndefined(m.failed_at);
      if ((status === 'delivered' || status === 'read') && deliveredAt) state.deliveredAt = deliveredAt.toISOString();
      if (status === 'read' && readAt) state.readAt = readAt.toISOString();
      if (status === 'failed' && failedAt) state.failedAt = failedAt.toISOString();
      recipients.push(state);
    }
    const least = recipients.reduce<RecipientStatus | undefined>((min, r) => (min === undefined || ORDER[r.status] < ORDER[min] ? r.status : min), undefined);
    return {
      messageId, conversationId: message.conversation_id, seq, senderId: message.sender_id,
      status: least === undefined ? 'sent' : AS_MESSAGE[least], recipients,
    };
  }

  private async write(kind: ReceiptKind, receipts: Receipt[]): Promise<void[]> {
    // One row per member: the highest seq of the batch wins (and for it, the most pushes).
    const latest = new Map<string, Receipt>();
    for (const r of receipts) {
      const key = `${r.conversationId}\n${r.userId}`;
      const seen = latest.get(key);
      if (!seen || r.seq > seen.seq || (r.seq === seen.seq && r.attempts > seen.attempts)) latest.set(key, r);
    }
    const at = sqlTime(new Date());
    // In key order, as the message writer locks member rows: two writers never wait on each other in a circle.
    const rows = [ ...latest ].sort(byMemberKey).map(([ , r ]) => [ r.conversationId, r.userId, r.seq, r.attempts, at ]);
    const sql = receiptUpdate(kind, dialectOf(this.store.driver), rows.length);
    await this.store.withRetry(() => this.store.dataSource.query(sql, rows.flat()), { label: `record ${kind}` });
    return receipts.map(() => undefined);
  }
}

function invalidReceipt(receipt: Receipt): Error | undefined {
  if (receipt === null || typeof receipt !== 'object') return new TypeError('[egg-im-store] a receipt must be an object');
  return firstInvalid(invalidText(receipt.conversationId, 'conversationId'), invalidText(receipt.userId, 'userId'),
    invalidCount(receipt.seq, 'seq', 1), invalidCount(receipt.attempts, 'attempts'));
}

/**
 * A delivered or failed cursor that passes `attempted_seq` ends the pushes counted there: the next message
 * pushed starts from 0. (Refers to no column its statement updates: the order of assignments does not matter.)
 */
const RESET_PUSHES = (seq: string, row = '') =>
  `${row}attempted_pushes = CASE WHEN ${row}attempted_seq <= ${seq} THEN 0 ELSE ${row}attempted_pushes END`;

/** The batched UPDATE … JOIN of one kind of receipt, for `rowCount` rows of (conversation, user, seq, attempts, time). */
function receiptUpdate(kind: ReceiptKind, { updateFrom, greatest }: Dialect, rowCount: number): string {
  const join = 'm.conversation_id = v.c AND m.user_id = v.u';
  const columns = [ 'c', 'u', 's', 'a', 't' ];
  if (kind === 'delivered') {
    return updateFrom('im_members', 'm', columns, rowCount, join,
      // A message that had failed and is delivered now: its attempts add up (the earlier pushes counted too).
      `m.delivered_seq = v.s, m.delivered_at = v.t, m.attempts = CASE WHEN m.failed_seq >= v.s THEN m.attempts + v.a ELSE v.a END, ${RESET_PUSHES('v.s', 'm.')}`,
      'm.delivered_seq < v.s');
  }
  if (kind === 'failed') {
    // A later delivery wins over a failure: a failure is recorded only above the delivered cursor.
    return updateFrom('im_members', 'm', columns, rowCount, join,
      `m.failed_seq = v.s, m.failed_at = v.t, m.attempts = v.a, ${RESET_PUSHES('v.s', 'm.')}`, 'm.failed_seq < v.s AND m.delivered_seq < v.s');
  }
  // Pending only: a recipient delivered, read or failed at this seq keeps its state; a count never goes down.
  return updateFrom('im_members', 'm', columns, rowCount, join,
    `m.attempted_seq = ${greatest('m.attempted_seq', 'v.s')}, m.attempted_pushes = ${greatest('m.attempted_pushes', 'v.a')}`,
    'm.delivered_seq < v.s AND m.failed_seq < v.s AND m.read_seq < v.s');
}
