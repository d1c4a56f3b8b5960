import { randomUUID } from 'node:crypto';
import type { JsonObject, Message, MessageStatusResult, SendTarget } from 'egg-im-protocol';
import { noMessageObserver, noTimerObserver } from 'egg-im-metrics';
import type { Cache, ImConfig, Logger, Observer, Sessions, Sockets, Store, Timers } from './ports';
import { Hooks } from './hooks/Hooks';
import { MessageTypeRegistry } from './types/MessageTypeRegistry';
import { MessagePipeline } from './pipeline/MessagePipeline';
import { Authorizer } from './pipeline/Authorizer';
import { SenderLimit } from './pipeline/SenderLimit';
import { Delivery } from './delivery/Delivery';
import { Outbox } from './delivery/Outbox';
import { Conversations } from './Conversations';
import { HotHistory } from './history/HotHistory';
import { Membership } from './Membership';

/** What the message path is built from: the other plugins' API objects, the config and the logger. */
export interface ImCollaborators {
  store: Store;
  cache: Cache;
  sockets: Sockets;
  sessions: Sessions;
  config: ImConfig;
  logger: Logger;
  /** Learns of each send answered or refused and of each delivery (egg-im-metrics); none by default. */
  observer?: Observer;
  /** Learns of each run of the outbox sweeper and of the history window flush (egg-im-metrics); none by default. */
  timers?: Timers;
}

/** What host code sends with `app.im.send`: a client's send body, from a user the host names. */
export interface ServerSend {
  from: string;
  to: SendTarget;
  type: string;
  content: JsonObject;
  meta?: JsonObject;
  /** Makes a repeated call store the message once; a new one is made when absent. */
  clientMsgId?: string;
}

/** The parts of the message path, built together once their collaborators exist. */
interface MessagePath {
  membership: Membership;
  history: HotHistory;
  delivery: Delivery;
  outbox: Outbox;
  senderLimit: SenderLimit;
  pipeline: MessagePipeline;
  conversations: Conversations;
}

/**
 * `app.im`: the IM service. `messageTypes` is there from the first access (the extension point, filled while
 * the app loads); the message path is built by `start()`, once the store, the cache and the sockets are up,
 * each part given its collaborators here, in the order a message meets them.
 */
export class Im {
  readonly messageTypes = new MessageTypeRegistry();
  /** The host app's code on the message path (see docs/hooks.md); registered while the app loads or later. */
  readonly hooks = new Hooks();
  private path?: MessagePath;

  /**
   * The group operations of the HTTP API for host code, acting as the user `by` (who must be a member for
   * `addMembers` and `removeMember`), with the same checks, hooks and errors.
   */
  readonly groups = {
    create: (by: string, group: { name: string; memberIds: string[] }) => this.built().conversations.createGroup(by, group),
    addMembers: (by: string, groupId: string, userIds: string[]) => this.built().conversations.addMembers(by, groupId, { userIds }),
    removeMember: (by: string, groupId: string, userId: string) => this.built().conversations.removeMember(by, groupId, userId),
  };

  /**
   * A message from host code (system notices, bots): the same pipeline as a client's send (validation, hooks,
   * dedupe, seq, persistence, delivery), from the user `from`, without the per-user send limit.
   */
  async send({ from, clientMsgId = randomUUID(), ...body }: ServerSend): Promise<Message> {
    return (await this.built().pipeline.send(from, { ...body, clientMsgId }, { origin: 'server' })).message;
  }

  /** The delivery status of any message (host code sees every conversation). */
  status(messageId: string): Promise<MessageStatusResult> {
    return this.built().conversations.statusForHost(messageId);
  }

  /** A page of any conversation's history, as the HTTP API pages it (host code sees every message). */
  history(conversationId: string, page: { afterSeq?: number; beforeSeq?: number; limit?: number } = {}): Promise<{ messages: Message[]; hasMore: boolean }> {
    return this.built().conversations.historyForHost(conversationId, page);
  }

  start({ store, cache, sockets, sessions, config, logger, observer = noMessageObserver, timers = noTimerObserver }: ImCollaborators): void {
    this.hooks.configure(config.hooks, logger);
    const membership = new Membership(store.conversations, cache, config.cache);
    const history = new HotHistory(cache, store.messages, config.history, logger, timers);
    const delivery = new Delivery({ sockets, receipts: store.receipts, messages: store.messages, history, hooks: this.hooks, config: config.delivery, observer, logger, timers });
    const outbox = new Outbox({ outbox: store.outbox, receipts: store.receipts, delivery, nodes: sockets.nodes, config: config.delivery, logger, timers });
    const senderLimit = new SenderLimit(cache.limiter('sends', config.limits.sendsPerUser), logger);
    const pipeline = new MessagePipeline({
      config,
      messageTypes: this.messageTypes,
      authorizer: new Authorizer(sessions, store.users, membership),
      senderLimit,
      writer: store.writer,
      delivery,
      hooks: this.hooks,
      // a socket on this node settles it without asking presence (a Redis read)
      isOnline: async userId => sockets.hasUser(userId) || (await sockets.presence.query(userId)).online,
      observer,
      logger,
    });
    const conversations = new Conversations({
      store, membership, history, hooks: this.hooks, limits: config.limits, logger,
      ensureUsers: userIds => sessions.ensureUsers(userIds),
      notifySender: (message, userId, status) => delivery.notifySender(message, userId, status),
    });
    this.path = { membership, history, delivery, outbox, senderLimit, pipeline, conversations };
    delivery.start();
    outbox.start();
  }

  /** Stops the timers of the message path, in reverse order of starting (nothing to do if it never started). */
  stop(): void {
    this.path?.outbox.stop();
    this.path?.delivery.stop();
    this.path?.senderLimit.stop();
    this.path?.pipeline.admission.stop();
  }

  get membership(): Membership {
    return this.built().membership;
  }

  get delivery(): Delivery {
    return this.built().delivery;
  }

  get outbox(): Outbox {
    return this.built().outbox;
  }

  get pipeline(): MessagePipeline {
    return this.built().pipeline;
  }

  get conversations(): Conversations {
    return this.built().conversations;
  }

  private built(): MessagePath {
    if (!this.path) throw new Error('[egg-im-router] the message path is built when the app starts (app.im.start() at willReady)');
    return this.path;
  }
}
