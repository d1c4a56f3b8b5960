import { randomBytes } from 'node:crypto';
import { ImError } from 'egg-im-protocol';
import type { Cache, ImConfig, Store } from './ports';

/**
 * Who is in a conversation, cached. Each membership change writes a new version for the conversation, and a
 * cached list counts only when it was read under the current version: a read that raced with a change (it
 * queried before the change, and cached after the invalidation) can never serve a removed member.
 */
export class Membership {
  constructor(
    private readonly conversations: Store['conversations'],
    private readonly cache: Cache,
    private readonly config: ImConfig['cache'],
  ) {}

  async members(conversationId: string): Promise<string[]> {
    const [ entryKey, versionKey ] = this.keys(conversationId);
    const [ cached, version = '0' ] = await this.cache.mget([ entryKey, versionKey ]);
    if (cached !== undefined) {
      const entry = parseEntry(cached);
      if (entry && entry.v === version) return entry.ids;
    }
    const members = await this.conversations.memberIds(conversationId);
    if (members.length > 0) await this.cache.setJson(entryKey, { v: version, ids: members }, this.config.membersTtlMs);
    return members;
  }

  /** The members; NOT_FOUND for a conversation the user is not in (403 would tell two users ever talked). */
  async requireMember(conversationId: string, userId: string): Promise<string[]> {
    const members = await this.members(conversationId);
    if (!members.includes(userId)) throw conversationNotFound(conversationId);
    return members;
  }

  /** After a membership change is committed: a new version (outliving any cached list), and the list dropped. */
  async invalidate(conversationId: string): Promise<void> {
    const [ entryKey, versionKey ] = this.keys(conversationId);
    await this.cache.set(versionKey, randomBytes(8).toString('hex'), 2 * this.config.membersTtlMs + 60000);
    await this.cache.del(entryKey);
  }

  private keys(conversationId: string): [ entry: string, version: string ] {
    return [ this.cache.key('members', conversationId), this.cache.key('members-v', conversationId) ];
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

/** A conversation one is not a member of does not exist for them (403 would tell that it does). */
export function conversationNotFound(conversationId: string): ImError {
  return new ImError('NOT_FOUND', `conversation ${conversationId} not found`, { conversationId });
}
