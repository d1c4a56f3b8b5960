import type { Application } from 'egg';
import type { Server } from 'socket.io';
import type { Message, RecipientStatus, StatusEvent } from 'egg-im-protocol';
import type { ImSocket } from 'egg-im-connection';
import { Reorder } from './Reorder';

const userRoom = (userId: string) => `u:${userId}`;

interface InFlight {
  userId: string;
  message: Message;
  attempts: number;
  timer?: NodeJS.Timeout;
  /** A device acknowledged it (a late ack of an earlier push counts: the device has the message). */
  acknowledged?: boolean;
}

interface DeliverEvent {
  message: Message;
  memberIds: string[];
  originSocketId?: string;
}

/** What one node tells the others: messages to deliver, and status events for senders' sockets. */
type NodeEvent =
  | { kind: 'deliver'; event: DeliverEvent }
  | { kind: 'status'; senderId: string; status: StatusEvent };

interface NodeEvents {
  'im:events': (events: NodeEvent[]) => void;
}

/**
 * Pushes messages to the sockets connected to THIS node and owns their retries. Every node receives every
 * routed message (like a socket.io room broadcast) and serves its own sockets, so the retry schedule lives
 * with the sockets: if this node dies, its sockets die too, and the reconnect replays from the durable
 * delivery cursor. A message accepted by a node that died before routing it is routed by the outbox sweeper.
 */
export class Delivery {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly reorder: Reorder;
  /** Users whose backlog is being read on connect: what is routed to them meanwhile waits here. */
  private readonly replaying = new Map<string, { depth: number; buffered: Array<{ message: Message; push: boolean }> }>();
  private pruneTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Events for the other nodes, sent together at the end of the tick: one Redis publish, not one per event. */
  private outgoing: NodeEvent[] = [];
  /**
   * Status events by sender, emitted once per turn of the event loop: the receipts of a group message arrive
   * in many reads of one turn, and emitted together they leave in one write to the sender (coalesceWrites).
   */
  private statuses = new Map<string, StatusEvent[]>();

  constructor(private readonly app: Application) {
    this.reorder = new Reorder(this.config.reorderWaitMs, (userId, message) => this.push(userId, message));
  }

  private get config() {
    return this.app.config.im.delivery;
  }

  private get io() {
    return this.app.imSockets.io as unknown as Server<NodeEvents, NodeEvents>;
  }

  start(): void {
    this.io.on('im:events', events => {
      for (const item of events) {
        if (item.kind === 'deliver') this.deliverLocal(item.event);
        else this.queueStatus(item.senderId, item.status);
      }
    });
    this.app.imSockets.onConnect(socket => this.replay(socket));
    this.pruneTimer = setInterval(() => this.reorder.prune(userId => this.io.of('/').adapter.rooms.has(userRoom(userId))), 30000);
    this.pruneTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pruneTimer);
    this.replaying.clear();
    for (const flight of this.inFlight.values()) clearTimeout(flight.timer);
    this.inFlight.clear();
    this.reorder.clear();
  }

  /**
   * Routes a committed message to every member's sockets on every node. Resolves true when it reached
   * the other nodes (or there are none), false when it must be routed again later (Redis down).
   */
  route(message: Message, memberIds: string[], originSocketId?: string): boolean {
    const event: DeliverEvent = { message, memberIds, originSocketId };
    this.deliverLocal(event);
    this.app.im.history.note(message);
    // The other nodes are reached through the socket.io Redis adapter: when its clients are not connected, the
    // message stays in the outbox and the sweeper routes it once they are (local delivery has happened).
    if (this.app.imCache.mode !== 'redis') return true;
    if (!this.app.imSockets.adapterReady) return false;
    this.toOtherNodes({ kind: 'deliver', event });
    return true;
  }

  /** The in-flight count, for health and tests. */
  get pending(): number {
    return this.inFlight.size;
  }

  private deliverLocal({ message, memberIds, originSocketId }: DeliverEvent): void {
    const rooms = this.io.of('/').adapter.rooms;
    for (const userId of memberIds) {
      if (!rooms.has(userRoom(userId))) continue;
      if (userId === message.senderId) {
        // The sender's other devices see what it sent; there is no receipt for one's own message.
        for (const socket of this.localSockets(userId)) {
          if (socket.id !== originSocketId) socket.emit('message:new', message, () => undefined);
        }
        // Its seq is taken all the same: the user's lane moves past it.
        this.enqueue(userId, message, false);
        continue;
      }
      this.enqueue(userId, message, true);
    }
  }

  /** Into the user's reorder lane, or, while its backlog is being read on connect, into a buffer for after it. */
  private enqueue(userId: string, message: Message, push: boolean): void {
    const replay = this.replaying.get(userId);
    if (replay) replay.buffered.push({ message, push });
    else if (push) this.reorder.push(userId, message);
    else this.reorder.skip(userId, message.conversationId, message.seq);
  }

  private localSockets(userId: string): ImSocket[] {
    const nsp = this.io.of('/');
    const ids = nsp.adapter.rooms.get(userRoom(userId));
    if (!ids) return [];
    const sockets: ImSocket[] = [];
    for (const id of ids) {
      const socket = nsp.sockets.get(id);
      if (socket) sockets.push(socket as unknown as ImSocket);
    }
    return sockets;
  }

  /** One delivery: pushes to every local device of the user until one acknowledges, with backoff. */
  private push(userId: string, message: Message): void {
    const key = `${userId}\n${message.conversationId}\n${message.seq}`;
    if (this.inFlight.has(key)) return;
    const flight: InFlight = { userId, message, attempts: 0 };
    this.inFlight.set(key, flight);
    this.attempt(key, flight);
  }

  private attempt(key: string, flight: InFlight): void {
    if (this.stopped) return;
    const sockets = this.localSockets(flight.userId);
    if (sockets.length === 0) {
      // Offline now: the message is pushed again when a device connects (the cursor has not moved).
      this.inFlight.delete(key);
      return;
    }
    flight.attempts += 1;
    const waitMs = Math.min(this.config.ackTimeoutMs * this.config.backoffFactor ** (flight.attempts - 1), this.config.maxBackoffMs);
    // One timer per delivery (below), not one per push: an ack that comes late still counts.
    for (const socket of sockets) socket.emit('message:new', flight.message, () => this.acknowledged(key, flight));
    flight.timer = setTimeout(() => {
      if (this.inFlight.get(key) !== flight) return;
      if (flight.attempts >= this.config.maxAttempts) return this.failed(key, flight);
      this.attempt(key, flight);
    }, waitMs);
  }

  private acknowledged(key: string, flight: InFlight): void {
    if (flight.acknowledged) return;
    flight.acknowledged = true;
    clearTimeout(flight.timer);
    // Also after the retries ran out: the recipient moves from failed to delivered.
    if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    const { message, userId, attempts } = flight;
    this.app.imStore.receipts.delivered({ conversationId: message.conversationId, userId, seq: message.seq, attempts })
      .catch(err => this.logReceiptError('delivered', flight, err));
    this.notifySender(message, userId, 'delivered');
  }

  private failed(key: string, flight: InFlight): void {
    this.inFlight.delete(key);
    const { message, userId, attempts } = flight;
    this.app.coreLogger.warn('[egg-im-router] message %s (conversation %s seq %d) to user %s failed after %d attempts',
      message.id, message.conversationId, message.seq, userId, attempts);
    this.app.imStore.receipts.failed({ conversationId: message.conversationId, userId, seq: message.seq, attempts })
      .catch(err => this.logReceiptError('failed', flight, err));
    this.notifySender(message, userId, 'failed');
  }

  /** Tells every device of the sender, on every node, how a recipient's delivery stands. */
  notifySender(message: Pick<Message, 'id' | 'conversationId' | 'seq' | 'senderId'>, userId: string, status: RecipientStatus): void {
    const event: StatusEvent = { messageId: message.id, conversationId: message.conversationId, seq: message.seq, userId, status };
    this.queueStatus(message.senderId, event);
    // Best effort across nodes (the status API is the record): sent when the adapter is connected.
    if (this.app.imCache.mode === 'redis' && this.app.imSockets.adapterReady) this.toOtherNodes({ kind: 'status', senderId: message.senderId, status: event });
  }

  /** Straight to the sockets (usually one), at the end of this turn of the event loop (see `statuses`). */
  private queueStatus(senderId: string, event: StatusEvent): void {
    if (this.statuses.size === 0) setImmediate(() => this.flushStatuses());
    const queued = this.statuses.get(senderId);
    if (queued) queued.push(event);
    else this.statuses.set(senderId, [ event ]);
  }

  private flushStatuses(): void {
    const bySender = this.statuses;
    this.statuses = new Map();
    if (this.stopped) return;
    for (const [ senderId, events ] of bySender) {
      // A room broadcast would cost more than the frames it sends.
      for (const socket of this.localSockets(senderId)) {
        for (const event of events) socket.emit('message:status', event);
      }
    }
  }

  private toOtherNodes(item: NodeEvent): void {
    if (this.outgoing.push(item) === 1) setImmediate(() => this.flushOutgoing());
  }

  private flushOutgoing(): void {
    const events = this.outgoing;
    this.outgoing = [];
    if (events.length > 0) this.io.serverSideEmit('im:events', events);
  }

  /**
   * On connect: push what this user has not acknowledged yet (pending or failed), oldest first. Messages
   * routed to the user meanwhile wait until the backlog is pushed, so first pushes stay in seq order.
   */
  private async replay(socket: ImSocket): Promise<void> {
    const { userId } = socket.data;
    let replay = this.replaying.get(userId);
    // The user's first socket here: lanes left from an earlier connection are stale (messages went elsewhere).
    if (!replay && this.localSockets(userId).every(s => s.id === socket.id)) this.reorder.forget(userId);
    if (!replay) this.replaying.set(userId, replay = { depth: 0, buffered: [] });
    replay.depth++;
    try {
      const backlog = await this.app.imStore.messages.undelivered(userId, this.config.replayLimit);
      if (this.stopped) return;
      for (const { conversationId, lastSeq, messages } of backlog) {
        // Every conversation of the user: its lane continues after the last seq as read now. The backlog is
        // read in seq order without the user's own messages: pushed as it is (beyond the replay limit: sync).
        this.reorder.reset(userId, conversationId, Math.max(lastSeq, messages.at(-1)?.seq ?? 0));
        for (const message of messages) this.push(userId, message);
      }
    } finally {
      if (--replay.depth === 0 && this.replaying.get(userId) === replay) {
        this.replaying.delete(userId);
        for (const { message, push } of replay.buffered) this.enqueue(userId, message, push);
      }
    }
  }

  private logReceiptError(kind: string, flight: InFlight, err: Error): void {
    this.app.coreLogger.error(new Error(`[egg-im-router] could not record ${kind} for message ${flight.message.id} user ${flight.userId}`, { cause: err }));
  }
}
