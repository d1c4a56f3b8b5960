import type { Cache, ImConfig, Logger, Sockets, Store } from './ports';
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
  config: ImConfig;
  logger: Logger;
}

/** The parts of the message path, built together once their collaborators exist. */
interface MessagePath {
  membership: Membership;
  history: HotHistory;
  delivery: Delivery;
  outbox: Outbox;
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
  private path?: MessagePath;

  start({ store, cache, sockets, config, logger }: ImCollaborators): void {
    const membership = new Membership(store.conversations, cache, config.cache);
    const history = new HotHistory(cache, store.messages, config.history, logger);
    const delivery = new Delivery({ sockets, receipts: store.receipts, messages: store.messages, history, config: config.delivery, logger });
    const outbox = new Outbox({ outbox: store.outbox, membership, delivery, nodes: sockets.nodes, config: config.delivery, logger });
    const pipeline = new MessagePipeline({
      config,
      messageTypes: this.messageTypes,
      authorizer: new Authorizer(store.users, membership),
      senderLimit: new SenderLimit(cache.limiter('sends', config.limits.sendsPerUser), logger),
      writer: store.writer,
      delivery,
      logger,
    });
    const conversations = new Conversations({
      store, membership, history, limits: config.limits, logger,
      notifySender: (message, userId, status) => delivery.notifySender(message, userId, status),
    });
    this.path = { membership, history, delivery, outbox, pipeline, conversations };
    delivery.start();
    outbox.start();
  }

  /** Stops the timers of the message path, in reverse order of starting (nothing to do if it never started). */
  stop(): void {
    this.path?.outbox.stop();
    this.path?.delivery.stop();
  }

  get membership(): Membership {
    return this.built().membership;
  }

  get history(): HotHistory {
    return this.built().history;
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
