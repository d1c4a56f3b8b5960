import type { Message } from 'egg-im-protocol';
import type { ImStore } from '../ImStore';
import { BatchQueue } from '../batch/BatchQueue';
import { invalidText } from '../batch/checkInput';
import { runIsolatingFailures } from '../batch/isolateFailures';
import { marks, sqlTime } from '../sql/dialect';
import { storedFromRow } from './MessageWriter';
import { toMessage } from './rows';

/** Messages committed but not yet routed to the other nodes (written with the message, removed after routing). */
export class OutboxRepository {
  private readonly removals: BatchQueue<string, void>;

  constructor(private readonly store: ImStore, batch: { maxBatch: number; lingerMs: number }) {
    this.removals = new BatchQueue<string, void>(all => runIsolatingFailures(all, async ids => {
      await this.store.withRetry(() => this.store.dataSource.query(`DELETE FROM im_outbox WHERE message_id IN (${marks(ids.length)})`, ids),
        { label: 'clear outbox' });
      return ids.map((): void => undefined);
    }), batch);
  }

  remove(messageId: string): Promise<void> {
    const invalid = invalidText(messageId, 'messageId');
    return invalid ? Promise.reject(invalid) : this.removals.push(messageId);
  }

  drain(): Promise<void> {
    return this.removals.drain();
  }

  /** Entries in the table (every node's), counted up to `cap`. */
  async count(cap = 100_000): Promise<number> {
    const rows = await this.store.dataSource.query('SELECT COUNT(*) AS n FROM (SELECT 1 FROM im_outbox LIMIT ?) o', [ cap ]);
    return Number(rows[0].n);
  }

  async olderThan(before: Date, limit: number): Promise<Message[]> {
    const rows = await this.store.withRetry(() => this.store.dataSource.query(
      'SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.client_msg_id, m.type, m.content, m.meta, m.created_at ' +
      'FROM im_outbox o JOIN im_messages m ON m.id = o.message_id WHERE o.created_at < ? ORDER BY o.created_at LIMIT ?',
      [ sqlTime(before), limit ]), { label: 'read outbox' });
    return rows.map((row: any) => toMessage(storedFromRow(row)));
  }
}
