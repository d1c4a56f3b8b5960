import {
  NODE_PROTOCOL_VERSION, decodeNodePacket, encodeNodePacket,
  type NodeMessage, type NodeMessageOf, type NodeMessageType,
} from 'egg-im-protocol';

/**
 * `app.imSockets.nodes`: what this node tells the other nodes, and hears from them, as `NodeMessage`s of
 * egg-im-protocol. Other nodes exist only with Redis (socket.io's Redis adapter); in memory mode this node is alone.
 */
export interface ImNodes {
  /** Other nodes may exist: the nodes are joined through the Redis adapter. False in memory mode. */
  readonly multi: boolean;
  /** A publish made now reaches the other nodes (the adapter's connections are up), or there are none. */
  readonly ready: boolean;
  /**
   * Changes whenever a connection to the other nodes fails or reconnects (0 without other nodes). Messages the
   * other nodes published while this node's subscription was away are lost: a reader of this node's state that
   * sees a new epoch reads again what it may have missed.
   */
  readonly epoch: number;
  /**
   * Queues `message` for the other nodes. Everything published within `imConnection.nodes.lingerMs` of the first
   * queued message (0: in one turn of the event loop) leaves together as one packet: one socket.io
   * `serverSideEmit`, one Redis publish, one decode on each node. A no-op when not `multi`.
   */
  publish(message: NodeMessage): void;
  /** `handler` receives the messages of `type` that the other nodes publish. */
  subscribe<T extends NodeMessageType>(type: T, handler: (message: NodeMessageOf<T>) => void): void;
  /**
   * The confirmed-delivery signal. Resolves after `imConnection.nodes.confirmAfterMs`: true when every publish
   * made before the call is known to have reached Redis (the adapter was ready at the call, still is, and none of
   * its connections failed or reconnected meanwhile), false otherwise. Calls made while one is waiting share its
   * timer and its answer. True at once when not `multi`; false at once when the adapter is not ready.
   */
  confirmation(): Promise<boolean>;
  /** `listener` runs each time the adapter is ready after it was not (a reconnection; its first connection too). */
  onReady(listener: () => void): void;
}

/** How packets travel: socket.io's `serverSideEmit` through the adapter, and its server-side event. */
export interface NodeChannel {
  send(packet: string): void;
  receive(listener: (packet: unknown) => void): void;
}

/** The state of the adapter's connections (egg-im-cache's `ImSocketAdapter`). */
export interface NodeLink {
  readonly ready: boolean;
  readonly epoch: number;
  onReady(listener: () => void): void;
}

interface Logger {
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
}

type Handler = (message: NodeMessage) => void;

export interface NodeBusOptions {
  /** See `confirmation()`. */
  confirmAfterMs: number;
  /** How long the first queued message waits for others to leave with it (0: the end of the turn). */
  lingerMs: number;
}

const CONFIRMED = Promise.resolve(true);
const MESSAGES_PER_PACKET = 500;
const NOT_CONFIRMED = Promise.resolve(false);

export class NodeBus implements ImNodes {
  readonly #channel: NodeChannel;
  readonly #nodeId: string;
  readonly #confirmAfterMs: number;
  readonly #lingerMs: number;
  readonly #logger: Logger;
  readonly #handlers = new Map<NodeMessageType, Handler[]>();
  readonly #readyListeners: Array<() => void> = [];
  #link?: NodeLink;
  #outgoing: NodeMessage[] = [];
  #confirming?: { answer: Promise<boolean>; settle: (confirmed: boolean) => void; timer: NodeJS.Timeout };
  #warnedUnreadable = false;
  #closed = false;

  constructor(channel: NodeChannel, nodeId: string, { confirmAfterMs, lingerMs }: NodeBusOptions, logger: Logger) {
    this.#channel = channel;
    this.#nodeId = nodeId;
    this.#confirmAfterMs = confirmAfterMs;
    this.#lingerMs = lingerMs;
    this.#logger = logger;
    channel.receive(packet => this.#receive(packet));
  }

  /** The nodes are joined through the Redis adapter whose connections `link` reports on. */
  join(link: NodeLink): void {
    this.#link = link;
    link.onReady(() => this.#notifyReady());
  }

  get multi(): boolean {
    return this.#link !== undefined;
  }

  get ready(): boolean {
    return this.#link === undefined || this.#link.ready;
  }

  get epoch(): number {
    return this.#link?.epoch ?? 0;
  }

  publish(message: NodeMessage): void {
    if (!this.#link || this.#closed) return;
    if (this.#outgoing.push(message) > 1) return;
    if (this.#lingerMs > 0) setTimeout(this.#flush, this.#lingerMs);
    else setImmediate(this.#flush);
  }

  subscribe<T extends NodeMessageType>(type: T, handler: (message: NodeMessageOf<T>) => void): void {
    const handlers = this.#handlers.get(type);
    if (handlers) handlers.push(handler as Handler);
    else this.#handlers.set(type, [ handler as Handler ]);
  }

  confirmation(): Promise<boolean> {
    const link = this.#link;
    if (!link) return CONFIRMED;
    // Not ready now: what was published before may be lost, known at once (and no window starts that would
    // answer false to the calls made after the adapter is back).
    if (this.#closed || !link.ready) return NOT_CONFIRMED;
    if (this.#confirming) return this.#confirming.answer;
    const { epoch } = link;
    let settle!: (confirmed: boolean) => void;
    const answer = new Promise<boolean>(resolve => { settle = resolve; });
    const timer = setTimeout(() => this.#settle(link.ready && link.epoch === epoch), this.#confirmAfterMs);
    this.#confirming = { answer, settle, timer };
    return answer;
  }

  onReady(listener: () => void): void {
    this.#readyListeners.push(listener);
  }

  /** Sends what is queued, and answers a waiting confirmation with false (nothing more is known). */
  close(): void {
    this.#flush();
    this.#closed = true;
    if (this.#confirming) {
      clearTimeout(this.#confirming.timer);
      this.#settle(false);
    }
  }

  readonly #flush = (): void => {
    if (this.#outgoing.length === 0) return;
    const messages = this.#outgoing;
    this.#outgoing = [];
    // What piled up in one turn (work held during an outage) leaves in packets of a bounded size.
    for (let i = 0; i < messages.length; i += MESSAGES_PER_PACKET) {
      this.#channel.send(encodeNodePacket(this.#nodeId, messages.slice(i, i + MESSAGES_PER_PACKET)));
    }
  };

  #settle(confirmed: boolean): void {
    const confirming = this.#confirming;
    this.#confirming = undefined;
    confirming?.settle(confirmed);
  }

  #receive(text: unknown): void {
    const packet = decodeNodePacket(text);
    if (!packet) return this.#unreadable(text);
    if (packet.from === this.#nodeId) return;
    for (const message of packet.messages) {
      const handlers = this.#handlers.get(message.type);
      if (!handlers) continue;
      for (const handler of handlers) {
        try {
          handler(message);
        } catch (err) {
          this.#logger.error(new Error(`[egg-im-connection] a handler of node message type ${message.type} from node ${packet.from} failed`, { cause: err }));
        }
      }
    }
  }

  /** A packet of another protocol version (a node of another release) or not a packet at all: dropped, logged once. */
  #unreadable(text: unknown): void {
    if (this.#warnedUnreadable) return;
    this.#warnedUnreadable = true;
    let version: unknown;
    try {
      version = typeof text === 'string' ? JSON.parse(text)?.v : undefined;
    } catch {
      // not JSON: no version to tell
    }
    // the other node's to choose: only a number goes into the log line
    if (typeof version !== 'number') version = undefined;
    this.#logger.warn('[egg-im-connection] dropped a packet from another node that this node cannot read (version %j; this node reads %d)'
      + ' - a node of another release? Logged once; later ones are dropped silently', version ?? null, NODE_PROTOCOL_VERSION);
  }

  #notifyReady(): void {
    for (const listener of this.#readyListeners) {
      try {
        listener();
      } catch (err) {
        this.#logger.error(new Error('[egg-im-connection] a nodes.onReady listener failed', { cause: err }));
      }
    }
  }
}
