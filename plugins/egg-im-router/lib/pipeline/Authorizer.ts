import { directConversationId, groupConversationId } from 'egg-im-store';
import { ImError } from 'egg-im-protocol';
import type { Membership } from '../Membership';
import type { Sessions, Store } from '../ports';
import type { SendCommand } from './validateSend';

export interface Target {
  conversationId: string;
  kind: 'direct' | 'group';
  groupId?: string;
  /** Everyone who receives the message, the sender included (its other devices). */
  memberIds: string[];
}

/** The sender comes from the session, never the payload; it may write to any user, and to groups it belongs to. */
export class Authorizer {
  constructor(
    private readonly sessions: Pick<Sessions, 'ensureUsers'>,
    private readonly users: Pick<Store['users'], 'isKnown'>,
    private readonly membership: Membership,
  ) {}

  /** The target of a message to a user already known to exist, at once (most sends); undefined for the others. */
  knownTarget({ senderId, to }: SendCommand): Target | undefined {
    return to.type === 'user' && this.users.isKnown(to.id) ? direct(senderId, to.id) : undefined;
  }

  async target(command: SendCommand): Promise<Target> {
    const { senderId, to } = command;
    if (to.type === 'user') {
      // A user of egg-im, or one the host app knows (mirrored on first use).
      if ((await this.sessions.ensureUsers([ to.id ])).length === 0) throw new ImError('NOT_FOUND', `user ${to.id} does not exist`, { userId: to.id });
      return direct(senderId, to.id);
    }
    const conversationId = groupConversationId(to.id);
    const memberIds = await this.membership.members(conversationId);
    // A group one is not in does not exist for them: the same answer as for no group at all.
    if (!memberIds.includes(senderId)) throw new ImError('NOT_FOUND', `group ${to.id} not found`, { groupId: to.id });
    return { conversationId, kind: 'group', groupId: to.id, memberIds };
  }
}

function direct(senderId: string, userId: string): Target {
  return { conversationId: directConversationId(senderId, userId), kind: 'direct', memberIds: senderId === userId ? [ senderId ] : [ senderId, userId ] };
}
