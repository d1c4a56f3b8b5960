import { checkId, ImError, isId, jsonOnce, type ConversationSummary, type Message, type MessageStatusResult, type RecipientStatus } from 'egg-im-protocol';
import { groupConversationId } from 'egg-im-store';
import { pageRange, type HotHistory } from './history/HotHistory';
import type { Hooks } from './hooks/Hooks';
import { conversationNotFound, type Membership } from './Membership';
import { isPlainObject } from './pipeline/validateSend';
import type { ImConfig, Logger, Store } from './ports';

/**
 * What a group's name may not hold, since it is shown in other users' lists: control characters, line and paragraph
 * separators, lone surrogates, and the direction overrides and isolates that make text read as something else.
 * Joiners stay allowed (emoji sequences).
 */
const NOT_IN_A_NAME = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;
/** A character that shows: not a space, not a format character (zero-width ones), not a blank filler. */
const VISIBLE = /[^\s\p{Cf}\u115F\u1160\u3164\uFFA0\u2800]/u;

/** Most cursors in one sync: a user with more conversations syncs the rest from 0 (they are all read anyway). */
export const SYNC_MAX_CURSORS = 10_000;
/** Messages a sync reads at once: with messages of 64 KB, what it reads past `limits.responseBytes` stays bounded. */
const SYNC_READ_CHUNK = 100;

/**
 * The messages of a page that fit in `maxBytes` of JSON text (UTF-8), and at least one: the first ones when the page is read
 * forward (`keep: 'first'`), else the last ones (nearest the cursor of a page read backward, or the newest).
 */
export function withinBytes(texts: string[], maxBytes: number, keep: 'first' | 'last'): string[] {
  let bytes = 0;
  let count = 0;
  for (let i = 0; i < texts.length; i++) {
    bytes += Buffer.byteLength(texts[keep === 'first' ? i : texts.length - 1 - i]);
    if (bytes > maxBytes && count > 0) break;
    count++;
  }
  return keep === 'first' ? texts.slice(0, count) : texts.slice(texts.length - count);
}

/** An integer from `min` to `max`; with `clampTo`, any integer above it (however large) is `clampTo`. */
function integer(value: unknown, field: string, { min = 0, max = Number.MAX_SAFE_INTEGER, clampTo }: { min?: number; max?: number; clampTo?: number } = {}): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (clampTo !== undefined && typeof n === 'number' && Number.isInteger(n) && n > clampTo) return clampTo;
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

/** A conversation list's cursor, `<updatedAt in ms>.<conversationId>` (the `next` of a page), checked by the id grammar. */
function parseConversationCursor(value: unknown): { updatedAt: Date; conversationId: string } {
  const match = typeof value === 'string' ? /^(\d{1,13})\.(.+)$/s.exec(value) : null;
  if (!match || !isId(match[2])) throw new ImError('VALIDATION_FAILED', 'cursor must be the next of a conversation page', { field: 'cursor' });
  return { updatedAt: new Date(Number(match[1])), conversationId: match[2] };
}

export interface ConversationsDeps {
  store: Pick<Store, 'conversations' | 'messages' | 'receipts'>;
  /** The ids that are users for egg-im: its own, and those the host app knows (mirrored on first use). */
  ensureUsers(userIds: string[]): Promise<string[]>;
  membership: Membership;
  history: HotHistory;
  hooks: Hooks;
  /** Tells the sender (every device, every node) how a recipient's delivery of a message stands. */
  notifySender(message: Pick<Message, 'id' | 'conversationId' | 'seq' | 'senderId'>, userId: string, status: RecipientStatus): void;
  limits: ImConfig['limits'];
  logger: Logger;
}

/** Everything a user reads or changes about conversations: history, sync, receipts, groups. */
export class Conversations {
  private readonly store: ConversationsDeps['store'];
  private readonly membership: Membership;
  private readonly hot: HotHistory;
  private readonly limits: ImConfig['limits'];

  constructor(private readonly deps: ConversationsDeps) {
    ({ store: this.store, membership: this.membership, history: this.hot, limits: this.limits } = deps);
  }

  /**
   * A page of the user's conversations, most recently active first: `limit` (default 100, clamped to
   * `limits.conversationsMaxLimit`), from `cursor` (the `next` of the page before) on.
   */
  async list(userId: string, query: Record<string, unknown>): Promise<{ conversations: ConversationSummary[]; hasMore: boolean; next?: string }> {
    const limit = integer(query.limit, 'limit', { min: 1, clampTo: this.limits.conversationsMaxLimit }) ?? Math.min(100, this.limits.conversationsMaxLimit);
    const after = query.cursor === undefined ? undefined : parseConversationCursor(query.cursor);
    const { conversations, hasMore, last } = await this.store.conversations.listForUser(userId, { limit, after, maxBytes: this.limits.responseBytes });
    return last ? { conversations, hasMore, next: `${last.updatedAt.getTime()}.${last.conversationId}` } : { conversations, hasMore };
  }

  /** A member's page, each message as its JSON text (see `HotHistory.rangeJson`): for the HTTP response as is. */
  async historyJson(userId: string, conversationId: string, query: Record<string, unknown>): Promise<{ messages: string[]; hasMore: boolean }> {
    checkId(conversationId, 'conversationId');
    const page = this.pageQuery(query);
    const range = pageRange(await this.hot.readState(conversationId, userId), page);
    const texts = await this.hot.rangeJson(conversationId, range);
    const messages = withinBytes(texts, this.limits.responseBytes, page.afterSeq === undefined ? 'last' : 'first');
    return { messages, hasMore: range.hasMore || messages.length < texts.length };
  }

  /** For host code: any conversation, from its first message, with the same page rules and errors. */
  async historyForHost(conversationId: string, query: Record<string, unknown>): Promise<{ messages: Message[]; hasMore: boolean }> {
    checkId(conversationId, 'conversationId');
    const page = this.pageQuery(query);
    const range = pageRange(await this.hot.conversationState(conversationId), page);
    return { messages: await this.hot.range(conversationId, range), hasMore: range.hasMore };
  }

  private pageQuery(query: Record<string, unknown>): { afterSeq?: number; beforeSeq?: number; limit: number } {
    const afterSeq = integer(query.afterSeq, 'afterSeq');
    const beforeSeq = integer(query.beforeSeq, 'beforeSeq', { min: 1 });
    const limit = integer(query.limit, 'limit', { min: 1, max: this.limits.historyMaxLimit }) ?? 50;
    if (afterSeq !== undefined && beforeSeq !== undefined) {
      throw new ImError('VALIDATION_FAILED', 'give afterSeq or beforeSeq, not both', { field: 'afterSeq' });
    }
    return { afterSeq, beforeSeq, limit };
  }

  async sync(userId: string, body: unknown): Promise<{ messages: Message[]; hasMore: boolean }> {
    const { cursors = {}, limit } = (body ?? {}) as { cursors?: unknown; limit?: unknown };
    if (!isPlainObject(cursors)) {
      throw new ImError('VALIDATION_FAILED', 'cursors must be an object of conversationId → lastSeq', { field: 'cursors' });
    }
    const entries = Object.entries(cursors);
    if (entries.length > SYNC_MAX_CURSORS) {
      throw new ImError('VALIDATION_FAILED', `cursors may name at most ${SYNC_MAX_CURSORS} conversations`, { field: 'cursors' });
    }
    const checked = new Map<string, number>();
    for (const [ id, seq ] of entries) checked.set(checkId(id, 'cursors'), integer(seq, 'cursors')!);
    // Larger limits are clamped to the server's maximum, never refused.
    const limitClamped = integer(limit, 'limit', { min: 1, clampTo: this.limits.syncMaxLimit }) ?? Math.min(100, this.limits.syncMaxLimit);
    const messages: Message[] = [];
    // At most `limits.responseBytes` of messages (and at least one), read a chunk at a time.
    let bytes = 0;
    for (const state of await this.store.messages.conversationStates(userId)) {
      for (let from = Math.max(checked.get(state.conversationId) ?? 0, state.sinceSeq) + 1; from <= state.lastSeq;) {
        const room = limitClamped - messages.length;
        if (room <= 0) return { messages, hasMore: true };
        const to = Math.min(state.lastSeq, from + Math.min(room, SYNC_READ_CHUNK) - 1);
        for (const message of await this.hot.range(state.conversationId, { from, to })) {
          bytes += Buffer.byteLength(jsonOnce(message));
          if (bytes > this.limits.responseBytes && messages.length > 0) return { messages, hasMore: true };
          messages.push(message);
        }
        from = to + 1;
      }
    }
    return { messages, hasMore: false };
  }

  async markRead(userId: string, body: unknown): Promise<void> {
    if (!isPlainObject(body)) throw new ImError('VALIDATION_FAILED', 'the read receipt must be { conversationId, seq }', { field: 'body' });
    const conversationId = checkId(body.conversationId, 'conversationId');
    const { seq } = body;
    const upTo = integer(seq, 'seq', { min: 1 })!;
    if (upTo === undefined) throw new ImError('VALIDATION_FAILED', 'seq is required', { field: 'seq' });
    // The member row is read in the receipt's own transaction: no member list (up to 5,000 ids) per read receipt.
    const latest = await this.store.receipts.read({ conversationId, userId, seq: upTo });
    if (!latest) throw conversationNotFound(conversationId);
    // Each sender whose messages were just read hears of its latest one (statuses are cumulative by seq).
    for (const message of latest) {
      this.deps.notifySender(message, userId, 'read');
      this.deps.hooks.emitStatus({ messageId: message.id, conversationId, seq: message.seq, senderId: message.senderId, userId, status: 'read' });
    }
  }

  async status(userId: string, messageId: string): Promise<MessageStatusResult> {
    checkId(messageId, 'messageId');
    const result = await this.store.receipts.statusOf(messageId);
    // A message of a conversation one is not in, or from before one joined it, does not exist for them (403 would
    // tell that it does). Its recipients are the members who joined before it.
    const notFound = () => new ImError('NOT_FOUND', `message ${messageId} not found`, { messageId });
    if (!result) throw notFound();
    if (result.senderId !== userId && !result.recipients.some(recipient => recipient.userId === userId)) throw notFound();
    const { senderId: _sender, ...status } = result;
    return status;
  }

  /** For host code: the status of any message. */
  async statusForHost(messageId: string): Promise<MessageStatusResult> {
    checkId(messageId, 'messageId');
    const result = await this.store.receipts.statusOf(messageId);
    if (!result) throw new ImError('NOT_FOUND', `message ${messageId} not found`, { messageId });
    const { senderId: _sender, ...status } = result;
    return status;
  }

  async createGroup(creatorId: string, body: unknown): Promise<{ groupId: string; conversationId: string }> {
    const { name, memberIds } = (body ?? {}) as { name?: unknown; memberIds?: unknown };
    if (typeof name !== 'string' || name.length > 128 || !VISIBLE.test(name) || NOT_IN_A_NAME.test(name)) {
      throw new ImError('VALIDATION_FAILED', 'name must be 1 to 128 characters, some visible, without control characters or direction overrides', { field: 'name' });
    }
    const members = userIds(memberIds ?? [], 'memberIds', this.limits.groupMaxMembers - 1);
    await this.requireUsers(members);
    await this.deps.hooks.runAuthorizeGroupChange({ kind: 'create', actorId: creatorId, name, memberIds: members });
    const group = await this.store.conversations.createGroup(name, creatorId, members);
    this.deps.logger.info('[egg-im-router] group %s created by user %s with %d member(s)', group.groupId, creatorId, members.length + 1);
    this.deps.hooks.emitGroupEvent({ kind: 'created', ...group, actorId: creatorId, memberIds: [ creatorId, ...members.filter(id => id !== creatorId) ] });
    return group;
  }

  async addMembers(userId: string, groupId: string, body: unknown): Promise<{ groupId: string; memberIds: string[] }> {
    checkId(groupId, 'groupId');
    const conversationId = groupConversationId(groupId);
    const current = await this.membership.requireMember(conversationId, userId);
    const added = userIds((body as { userIds?: unknown } | undefined)?.userIds, 'userIds', this.limits.groupMaxMembers);
    if (added.length === 0) throw new ImError('VALIDATION_FAILED', 'userIds must name at least one user', { field: 'userIds' });
    if (new Set([ ...current, ...added ]).size > this.limits.groupMaxMembers) {
      throw new ImError('VALIDATION_FAILED', `a group has at most ${this.limits.groupMaxMembers} members`, { field: 'userIds' });
    }
    await this.requireUsers(added);
    await this.deps.hooks.runAuthorizeGroupChange({ kind: 'addMembers', actorId: userId, groupId, userIds: added });
    await this.store.conversations.addMembers(conversationId, added);
    await this.membership.invalidate(conversationId);
    const before = new Set(current);
    this.deps.hooks.emitGroupEvent({ kind: 'membersAdded', groupId, conversationId, actorId: userId, userIds: added.filter(id => !before.has(id)) });
    return { groupId, memberIds: await this.store.conversations.memberIds(conversationId) };
  }

  async removeMember(userId: string, groupId: string, removedId: string): Promise<void> {
    checkId(groupId, 'groupId');
    checkId(removedId, 'userId');
    const conversationId = groupConversationId(groupId);
    const current = await this.membership.requireMember(conversationId, userId);
    if (!current.includes(removedId)) throw new ImError('NOT_FOUND', `user ${removedId} is not a member of group ${groupId}`, { userId: removedId });
    await this.deps.hooks.runAuthorizeGroupChange({ kind: 'removeMember', actorId: userId, groupId, userId: removedId });
    await this.store.conversations.removeMember(conversationId, removedId);
    await this.membership.invalidate(conversationId);
    this.deps.hooks.emitGroupEvent({ kind: 'memberRemoved', groupId, conversationId, actorId: userId, userId: removedId });
  }

  private async requireUsers(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const known = new Set(await this.deps.ensureUsers(ids));
    const missing = ids.find(id => !known.has(id));
    if (missing !== undefined) throw new ImError('NOT_FOUND', `user ${missing} does not exist`, { userId: missing });
  }
}
