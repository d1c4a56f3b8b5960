import { createHash, randomBytes } from 'node:crypto';
import type { Application } from 'egg';
import { ID_MAX_LENGTH, ImError } from 'egg-im-protocol';
import type { SendCommand } from './validateSend';

export interface Target {
  conversationId: string;
  kind: 'direct' | 'group';
  groupId?: string;
  /** Everyone who receives the message, the sender included (its other devices). */
  memberIds: string[];
}

const PLAIN_ID = /^[A-Za-z0-9_.-]+$/;

/**
 * One conversation per pair of users, whoever writes first: its id is derived from the two ids, and no two
 * pairs may share it. `d:<a>:<b>` is unambiguous only while ids hold no `:`; host-app user ids may (e.g.
 * `tenant:42`), so such a pair gets `dh:` and a hash of the pair instead (`d:a:b:c` would be both (a, b:c) and (a:b, c)),
 * and so does a pair whose plain form would be longer than an id may be.
 */
export function directConversationId(a: string, b: string): string {
  const [ x, y ] = a < b ? [ a, b ] : [ b, a ];
  if (PLAIN_ID.test(x) && PLAIN_ID.test(y) && x.length + y.length + 3 <= ID_MAX_LENGTH) return `d:${x}:${y}`;
  return `dh:${createHash('sha256').update(JSON.stringify([ x, y ])).digest('hex').slice(0, 40)}`;
}

export const groupConversationId = (groupId: string) => `g:${groupId}`;

/** The sender comes from the session, never the payload; it may write to any user, and to groups it belongs to. */
export class Authorizer {
  constructor(private readonly app: Application) {}

  async target(command: SendCommand): Promise<Target> {
    const { senderId, to } = command;
    if (to.type === 'user') {
      if (!await this.app.imStore.users.exists(to.id)) throw new ImError('NOT_FOUND', `user ${to.id} does not exist`, { userId: to.id });
      const memberIds = senderId === to.id ? [ senderId ] : [ senderId, to.id ];
      return { conversationId: directConversationId(senderId, to.id), kind: 'direct', memberIds };
    }
    const conversationId = groupConversationId(to.id);
    const memberIds = await this.members(conversationId);
    // A group one is not in does not exist for them: the same answer as for no group at all.
    if (!memberIds.includes(senderId)) throw new ImError('NOT_FOUND', `group ${to.id} not found`, { groupId: to.id });
    return { conversationId, kind: 'group', groupId: to.id, memberIds };
  }

  /**
   * Members of a conversation, cached. Each membership change writes a new version for the conversation, and
   * a cached list counts only when it was read under the current version: a read that raced with a change
   * (it queried before the change, and cached after the invalidation) can never serve a removed member.
   */
  async members(conversationId: string): Promise<string[]> {
    const { imCache, imStore } = this.app;
    const [ entryKey, versionKey ] = this.keys(conversationId);
    const [ cached, version = '0' ] = await imCache.mget([ entryKey, versionKey ]);
    if (cached !== undefined) {
      const entry = parseEntry(cached);
      if (entry && entry.v === version) return entry.ids;
    }
    const members = await imStore.conversations.memberIds(conversationId);
    if (members.length > 0) await imCache.setJson(entryKey, { v: version, ids: members }, this.app.config.im.cache.membersTtlMs);
    return members;
  }

  async requireMember(conversationId: string, userId: string): Promise<string[]> {
    const members = await this.members(conversationId);
    // A conversation one is not in does not exist for them: 403 would tell two users ever talked.
    if (!members.includes(userId)) throw new ImError('NOT_FOUND', `conversation ${conversationId} not found`, { conversationId });
    return members;
  }

  /** After a membership change is committed: a new version (outliving any cached list), and the list dropped. */
  async invalidate(conversationId: string): Promise<void> {
    const { imCache } = this.app;
    const [ entryKey, versionKey ] = this.keys(conversationId);
    await imCache.set(versionKey, randomBytes(8).toString('hex'), 2 * this.app.config.im.cache.membersTtlMs + 60000);
    await imCache.del(entryKey);
  }

  private keys(conversationId: string): [ entry: string, version: string ] {
    return [ this.app.imCache.key('members', conversationId), this.app.imCache.key('members-v', conversationId) ];
  }
}

function parseEntry(text: string): { v: string; ids: string[] } | undefined {
  try {
    const entry = JSON.parse(text);
    return typeof entry?.v === 'string' && Array.isArray(entry.ids) ? entry : undefined;
  } catch {
    return undefined;
  }
}
