import type { CursorEvent, CursorsEvent, StatusEvent } from 'egg-im-protocol';

/**
 * One sender's queued statuses as a client that asked for cursors gets them: one cursor per conversation and
 * recipient at the highest delivered and read seq, in one `message:cursors` frame. `failed` (and `pending`)
 * concern one message, not the ones before it: they stay `message:status` events.
 */
export function toCursors(events: StatusEvent[]): { cursors?: CursorsEvent; perMessage: StatusEvent[] } {
  const byMember = new Map<string, CursorEvent>();
  const perMessage: StatusEvent[] = [];
  for (const event of events) {
    if (event.status !== 'delivered' && event.status !== 'read') {
      perMessage.push(event);
      continue;
    }
    const key = `${event.conversationId}\n${event.userId}`;
    let cursor = byMember.get(key);
    if (!cursor) byMember.set(key, cursor = { conversationId: event.conversationId, userId: event.userId });
    if (event.status === 'read') cursor.readSeq = Math.max(cursor.readSeq ?? 0, event.seq);
    else cursor.deliveredSeq = Math.max(cursor.deliveredSeq ?? 0, event.seq);
  }
  return { cursors: byMember.size > 0 ? { cursors: [ ...byMember.values() ] } : undefined, perMessage };
}
