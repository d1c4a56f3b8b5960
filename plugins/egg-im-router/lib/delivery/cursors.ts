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
    const key = memberKey(event);
    let cursor = byMember.get(key);
    if (!cursor) byMember.set(key, cursor = { conversationId: event.conversationId, userId: event.userId });
    if (event.status === 'read') cursor.readSeq = Math.max(cursor.readSeq ?? 0, event.seq);
    else cursor.deliveredSeq = Math.max(cursor.deliveredSeq ?? 0, event.seq);
  }
  return { cursors: byMember.size > 0 ? { cursors: [ ...byMember.values() ] } : undefined, perMessage };
}

/**
 * The statuses a socket still needs when its acks carried some: not those, nor a delivery they cover (a lower
 * seq of the same conversation and member), which would follow the ack as a lower cursor.
 */
export function notAnswered(events: StatusEvent[], carried: (event: StatusEvent) => boolean): StatusEvent[] {
  const covered = new Map<string, number>();
  for (const event of events) {
    if (!carried(event)) continue;
    const key = memberKey(event);
    covered.set(key, Math.max(covered.get(key) ?? 0, event.seq));
  }
  return events.filter(event => !carried(event) && !(event.status === 'delivered' && event.seq <= (covered.get(memberKey(event)) ?? 0)));
}

/** One member of one conversation. */
function memberKey(event: Pick<StatusEvent, 'conversationId' | 'userId'>): string {
  return `${event.conversationId}\n${event.userId}`;
}
