import type { Application } from 'egg';
import { ImError, type ConversationSummary, type Message, type MessageStatusResult } from 'egg-im-protocol';
import { pageRange } from './history/HotHistory';
import { groupConversationId } from './pipeline/Authorizer';
import { isId } from './pipeline/validateSend';

function integer(value: unknown, field: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ImError('VALIDATION_FAILED', `${field} must be an integer from ${min} to ${max}`, { field });
  }
  return n;
}

function userIds(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value) || value.length > max || value.some(id => !isId(id))) {
    throw new ImError('VALIDATION_FAILED', `${field} must be an array of at most ${max} user ids`, { field });
  }
  return [ ...new Set(value as string[]) ];
}

/** Everything a user reads or changes about conversations: history, sync, receipts, groups. */
export class Conversations {
  constructor(private readonly app: Application) {}

  private get authorizer() {
    return this.app.im.pipeline.authorizer;
  }

  async list(userId: string): Promise<ConversationSummary[]> {
    return this.app.imStore.conversations.listForUser(userId);
  }

  async history(userId: string, conversationId: string, query: Record<string, unknown>): Promise<{ messages: Message[]; hasMore: boolean }> {
    const { historyMaxLimit } = this.app.config.im.limits;
    const afterSeq = integer(query.afterSeq, 'afterSeq');
    const beforeSeq = integer(query.beforeSeq, 'beforeSeq', { min: 1 });
    const limit = integer(query.limit, 'limit', { min: 1, max: historyMaxLimit }) ?? 50;
    if (afterSeq !== undefined && beforeSeq !== undefined) {
      throw new ImError('VALIDATION_FAILED', 'give afterSeq or beforeSeq, not both', { field: 'afterSeq' });
    }
    const { history } = this.app.im;
    const page = pageRange(await history.readState(conversationId, userId), { afterSeq, beforeSeq, limit });
    return { messages: await history.range(conversationId, page), hasMore: page.hasMore };
  }

  async sync(userId: string, body: unknown): Promise<{ messages: Message[]; hasMore: boolean }> {
    const { cursors = {}, limit } = (body ?? {}) as { cursors?: unknown; limit?: unknown };
    if (cursors === null || typeof cursors !== 'object' || Array.isArray(cursors)) {
      throw new ImError('VALIDATION_FAILED', 'cursors must be an object of conversationId → lastSeq', { field: 'cursors' });
    }
    const checked: Record<string, number> = {};
    for (const [ id, seq ] of Object.entries(cursors)) checked[id] = integer(seq, `cursors.${id}`)!;
    // Larger limits are clamped to the server's maximum, never refused.
    const asked = integer(limit, 'limit', { min: 1 }) ?? 100;
    const limitClamped = Math.min(asked, this.app.config.im.limits.syncMaxLimit);
    const messages: Message[] = [];
    for (const state of await this.app.imStore.messages.conversationStates(userId)) {
      const from = Math.max(checked[state.conversationId] ?? 0, state.sinceSeq) + 1;
      if (from > state.lastSeq) continue;
      const room = limitClamped - messages.length;
      if (room <= 0) return { messages, hasMore: true };
      const to = Math.min(state.lastSeq, from + room - 1);
      messages.push(...await this.app.im.history.range(state.conversationId, { from, to }));
      if (to < state.lastSeq) return { messages, hasMore: true };
    }
    return { messages, hasMore: false };
  }

  async markRead(userId: string, body: unknown): Promise<void> {
    const { conversationId, seq } = (body ?? {}) as { conversationId?: unknown; seq?: unknown };
    if (typeof conversationId !== 'string' || conversationId.length === 0) {
      throw new ImError('VALIDATION_FAILED', 'conversationId must be a string', { field: 'conversationId' });
    }
    const upTo = integer(seq, 'seq', { min: 1 })!;
    if (upTo === undefined) throw new ImError('VALIDATION_FAILED', 'seq is required', { field: 'seq' });
    await this.authorizer.requireMember(conversationId, userId);
    const latest = await this.app.imStore.receipts.read({ conversationId, userId, seq: upTo });
    // Each sender whose messages were just read hears of its latest one (statuses are cumulative by seq).
    for (const message of latest) this.app.im.delivery.notifySender(message, userId, 'read');
  }

  async status(userId: string, messageId: string): Promise<MessageStatusResult> {
    const result = await this.app.imStore.receipts.statusOf(messageId);
    if (!result) throw new ImError('NOT_FOUND', `message ${messageId} does not exist`, { messageId });
    if (result.senderId !== userId) await this.authorizer.requireMember(result.conversationId, userId);
    const { senderId: _sender, ...status } = result;
    return status;
  }

  async createGroup(creatorId: string, body: unknown): Promise<{ groupId: string; conversationId: string }> {
    const { name, memberIds } = (body ?? {}) as { name?: unknown; memberIds?: unknown };
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 128) {
      throw new ImError('VALIDATION_FAILED', 'name must be a string of 1 to 128 characters', { field: 'name' });
    }
    const members = userIds(memberIds ?? [], 'memberIds', this.app.config.im.limits.groupMaxMembers - 1);
    await this.requireUsers(members);
    const group = await this.app.imStore.conversations.createGroup(name, creatorId, members);
    this.app.coreLogger.info('[egg-im-router] group %s created by user %s with %d member(s)', group.groupId, creatorId, members.length + 1);
    return group;
  }

  async addMembers(userId: string, groupId: string, body: unknown): Promise<{ groupId: string; memberIds: string[] }> {
    const conversationId = groupConversationId(groupId);
    const current = await this.authorizer.requireMember(conversationId, userId);
    const added = userIds((body as { userIds?: unknown } | undefined)?.userIds, 'userIds', this.app.config.im.limits.groupMaxMembers);
    if (added.length === 0) throw new ImError('VALIDATION_FAILED', 'userIds must name at least one user', { field: 'userIds' });
    if (new Set([ ...current, ...added ]).size > this.app.config.im.limits.groupMaxMembers) {
      throw new ImError('VALIDATION_FAILED', `a group has at most ${this.app.config.im.limits.groupMaxMembers} members`, { field: 'userIds' });
    }
    await this.requireUsers(added);
    await this.app.imStore.conversations.addMembers(conversationId, added);
    await this.authorizer.invalidate(conversationId);
    return { groupId, memberIds: await this.app.imStore.conversations.memberIds(conversationId) };
  }

  async removeMember(userId: string, groupId: string, removedId: string): Promise<void> {
    const conversationId = groupConversationId(groupId);
    const current = await this.authorizer.requireMember(conversationId, userId);
    if (!current.includes(removedId)) throw new ImError('NOT_FOUND', `user ${removedId} is not a member of group ${groupId}`, { userId: removedId });
    await this.app.imStore.conversations.removeMember(conversationId, removedId);
    await this.authorizer.invalidate(conversationId);
  }

  private async requireUsers(ids: string[]): Promise<void> {
    for (const id of ids) {
      if (!await this.app.imStore.users.exists(id)) throw new ImError('NOT_FOUND', `user ${id} does not exist`, { userId: id });
    }
  }
}
