import type { Message } from 'egg-im-protocol';

/** A message as stored: `content` and `meta` are the JSON text exactly as it was accepted. */
export interface StoredMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  type: string;
  contentJson: string;
  metaJson: string;
  createdAt: Date;
}

/**
 * A stored message as clients receive it: the one mapping from rows to the wire. `parsed` gives the objects
 * the text was made from, when the caller has them (a message just written is delivered as it was validated).
 */
export function toMessage(stored: StoredMessage, parsed?: Pick<Message, 'content' | 'meta'>): Message {
  return {
    id: stored.id,
    conversationId: stored.conversationId,
    seq: stored.seq,
    senderId: stored.senderId,
    type: stored.type,
    content: parsed ? parsed.content : JSON.parse(stored.contentJson),
    meta: parsed ? parsed.meta : JSON.parse(stored.metaJson),
    clientMsgId: stored.clientMsgId,
    createdAt: stored.createdAt.toISOString(),
  };
}

/** Orders `conversation\nuser` keys as the primary key of im_members orders its rows (binary collation). */
export function byMemberKey([ a ]: [ string, unknown ], [ b ]: [ string, unknown ]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
