import type { Application } from 'egg';
import { ImError } from 'egg-im-protocol';
import type { SendCommand } from './validateSend';

export interface Target {
  conversationId: string;
  kind: 'direct' | 'group';
  groupId?: string;
  /** Everyone who receives the message, the sender included (its other devices). */
  memberIds: string[];
}

/** One conversation per pair of users, whoever writes first: its id is derived from the two ids. */
export function directConversationId(a: string, b: string): string {
  return a < b ? `d:${a}:${b}` : `d:${b}:${a}`;
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
    if (memberIds.length === 0) throw new ImError('NOT_FOUND', `group ${to.id} does not exist`, { groupId: to.id });
    if (!memberIds.includes(senderId)) throw new ImError('FORBIDDEN', `not a member of group ${to.id}`, { groupId: to.id });
    return { conversationId, kind: 'group', groupId: to.id, memberIds };
  }

  /** Members of a conversation, cached; every membership change invalidates the entry. */
  async members(conversationId: string): Promise<string[]> {
    const { imCache, imStore } = this.app;
    const key = imCache.key('members', conversationId);
    const cached = await imCache.getJson<string[]>(key);
    if (cached) return cached;
    const members = await imStore.conversations.memberIds(conversationId);
    if (members.length > 0) await imCache.setJson(key, members, this.app.config.im.cache.membersTtlMs);
    return members;
  }

  async requireMember(conversationId: string, userId: string): Promise<string[]> {
    const members = await this.members(conversationId);
    if (members.length === 0) throw new ImError('NOT_FOUND', `conversation ${conversationId} does not exist`, { conversationId });
    if (!members.includes(userId)) throw new ImError('FORBIDDEN', `not a member of conversation ${conversationId}`, { conversationId });
    return members;
  }

  async invalidate(conversationId: string): Promise<void> {
    await this.app.imCache.del(this.app.imCache.key('members', conversationId));
  }
}
