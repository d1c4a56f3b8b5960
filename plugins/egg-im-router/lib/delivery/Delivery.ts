import { performance } from 'node:perf_hooks';
import { backoffDelay, jsonOnce, NodeMessageType, parseOnce, type CursorEvent, type Message, type RecipientStatus, type StatusEvent } from 'egg-im-protocol';
import type { ImSocket } from 'egg-im-connection';
import type { HotHistory } from '../history/HotHistory';
import type { Hooks } from '../hooks/Hooks';
import type { ImConfig, Logger, Observer, Sockets, Store, Timers } from '../ports';
import { Reorder } from './Reorder';
import { Unanswered } from './Unanswered';
import { notAnswered, toCursors } from './cursors';

/**
 * Memory for deliveries held for the other nodes while the adapter is down (their JSON size, roughly); beyond
 * it, later ones are left to the outbox sweeper. Measured only while holding, never on the normal path.
 */
const HELD_MAX_BYTES = 32 * 1024 * 1024;
/** Backlogs read at once when this node reads every local user's backlog after a reconnect. */
const RESYNC_CONCURRENCY = 8;

interface InFlight {
  userId: string;
  message: Message;
  attempts: number;
  /** performance.now() at the first push. */
  firstPushAt: number;
  timer?: NodeJS.Timeout;
  /** A device acknowledged it (a late ack of an earlier push counts: the device has the message). */
  acknowledged?: boolean;
}

/** The ack of a one-to-one send, waiting for the recipient's acknowledgement to carry its delivered cursor. */
interface AckWait {
  /** The sender's socket that waits: the cursor reaches it in the ack, not in a `message:cursors` frame. */
  socketId: string;
  /** performance.now() after which the ack leaves without it. */
  deadline: number;
  resolve: (cursor: CursorEvent | undefined) => void;
}

interface Replay {
  depth: number;
  buffered: Array<{ message: Message; push: boolean }>;
}

interface DeliverEvent {
  message: Message;
  memberIds: string[];
  /** The sender's socket that sent it: it got the ack, not a copy. */
  originSocketId?: string;
}

export interface DeliveryDeps {
  sockets: Sockets;
  receipts: Store['receipts'];
  messages: Store['messages'];
  history: HotHistory;
  hooks: Hooks;
  config: ImConfig['delivery'];
  observer: Observer;
  logger: Logger;
  timers: Timers;
}

/**
 * Pushes messages to the sockets connected to THIS node and owns their retries. Every node receives every
 * routed message (like a socket.io room broadcast) and serves its own sockets, so the retry schedule lives
 * with the sockets: if this node dies, its sockets die too, and the reconnect replays from the durable
 * delivery cursor. A message accepted by a node that died before routing it is routed by the outbox sweeper.
 *
 * A routed message is encoded once (`jsonOnce`): its ack, its pushes, the hot window and the other nodes all
 * carry that text. A node that holds none of its members never parses it.
 */
export class Delivery {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly reorder: Reorder;
  private readonly unanswered: Unanswered;
  /** Users whose backlog is being read on connect: what is routed to them meanwhile waits here. */
  private readonly replaying = new Map<string, Replay>();
  /**
   * Deliveries not sent to the other nodes yet (the adapter was down), in routing order; their outbox entries
   * stay until they are sent. Once the adapter is back they leave first, before anything routed after them.
   */
  private readonly held = new Map<string, DeliverEvent>();
  private heldBytes = 0;
  private heldOverflowLogged = false;
  /** The adapter epoch after which the local users' backlogs were last read. */
  private resyncedEpoch = 0;
  /** Users whose backlog is to be read again after a reconnect (their routes wait meanwhile), in order. */
  private readonly resyncQueue = new Map<string, Replay>();
  private resyncWorkers = 0;
  private pruneTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly sentListeners: Array<(message: Message) => void> = [];
  /**
   * Status events by sender, emitted once per turn of the event loop: the receipts of a group message arrive
   * in many reads of one turn; emitted together they leave in one write to the sender (coalesceWrites), and to
   * a client that asked for cursors as one `message:cursors` frame.
   */
  private statuses = new Map<string, StatusEvent[]>();
  /** Queued statuses an ack already carried, by the socket it answered (that socket gets no frame for them). */
  private answered = new Map<StatusEvent, string>();
  /** Acks waiting for a delivery, by delivery key; in deadline order, since every wait is as long. */
  private readonly ackWaits = new Map<string, AckWait>();
  private ackWaitTimer?: NodeJS.Timeout;

  private readonly sockets: Sockets;
  private readonly nodes: Sockets['nodes'];
  private readonly config: ImConfig['delivery'];
  private readonly logger: Logger;

  constructor(private readonly deps: DeliveryDeps) {
    ({ sockets: this.sockets, config: this.config, logger: this.logger } = deps);
    this.nodes = deps.sockets.nodes;
    this.reorder = new Reorder(this.config.reorderWaitMs, (userId, message) => this.push(userId, message), deps.timers);
    this.unanswered = new Unanswered(this.config.unansweredMaxMs, (socket, ageMs) => this.logger.warn(
      '[egg-im-router] socket %s of user %s left a push unanswered for %d ms: its connection is closed', socket.id, socket.data.userId, Math.round(ageMs)));
  }

  /** `listener` learns of each routed message once it is on its way to every node (at once, or after an outage). */
  onSentToAllNodes(listener: (message: Message) => void): void {
    this.sentListeners.push(listener);
  }

  start(): void {
    // A message from another node means the subscription is up: what it missed before must be read first.
    this.nodes.subscribe(NodeMessageType.Deliver, ({ messageJson, memberIds, originSocketId }) => {
      this.resyncAfterReconnect();
      if (!memberIds.some(userId => this.sockets.hasUser(userId))) return;
      this.deliverLocal({ message: parseOnce<Message>(messageJson), memberIds, originSocketId });
    });
    this.nodes.subscribe(NodeMessageType.Status, message => {
      this.resyncAfterReconnect();
      this.queueStatus(message.senderId, message.status);
    });
    this.nodes.onReady(() => this.adapterBack());
    this.sockets.onConnect(socket => this.replay(socket));
    this.pruneTimer = setInterval(() => this.reorder.prune(userId => this.sockets.hasUser(userId)), 30000);
    this.pruneTimer.unref();
    this.resyncedEpoch = this.nodes.epoch;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pruneTimer);
    this.held.clear();
    this.resyncQueue.clear();
    this.replaying.clear();
    for (const flight of this.inFlight.values()) clearTimeout(flight.timer);
    this.inFlight.clear();
    clearTimeout(this.ackWaitTimer);
    for (const wait of this.ackWaits.values()) wait.resolve(undefined);
    this.ackWaits.clear();
    this.reorder.clear();
    this.unanswered.stop();
  }

  /**
   * Routes a committed message to every member's sockets on every node; `onSentToAllNodes` listeners hear of
   * it once it is on its way to all of them (at once, or when the bus is back after an outage).
   */
  route(message: Message, memberIds: string[], originSocketId?: string): void {
    jsonOnce(message);
    const event: DeliverEvent = { message, memberIds, originSocketId };
    this.deliverLocal(event);
    this.deps.history.note(message);
    // The other nodes are reached through the bus: while it is down, the message is held (its outbox entry
    // stays) and sent once it is back (local delivery has happened).
    if (this.nodes.multi) {
      this.sendHeld();
      if (!this.nodes.ready) {
        this.hold(event);
        return;
      }
      this.publish(event);
    }
    this.sent(message);
  }

  private sent(message: Message): void {
    for (const listener of this.sentListeners) listener(message);
  }

  /**
   * For the ack of a one-to-one send from `socketId` (a device that asked for cursors): resolves with the
   * recipient's delivered cursor when a device of the recipient on this node acknowledges the push within
   * `deliveredInAckMs`, and that device's socket then gets no `message:cursors` frame for it; else with nothing.
   * Nothing to wait for (undefined at once): a group, a recipient with no device here, a push not sent yet (held
   * for its predecessor, or behind a replay).
   */
  deliveredCursor(message: Message, memberIds: readonly string[], socketId: string): Promise<CursorEvent | undefined> | undefined {
    const waitMs = this.config.deliveredInAckMs;
    if (!(waitMs > 0) || memberIds.length !== 2 || this.stopped) return undefined;
    const userId = memberIds[0] === message.senderId ? memberIds[1] : memberIds[0];
    if (userId === message.senderId) return undefined;
    const key = deliveryKey(userId, message);
    if (this.inFlight.get(key)?.message.id !== message.id || this.ackWaits.has(key)) return undefined;
    return new Promise(resolve => {
      this.ackWaits.set(key, { socketId, deadline: performance.now() + waitMs, resolve });
      this.ackWaitTimer ??= setTimeout(() => this.expireAckWaits(), waitMs);
    });
  }

  /** The recipient's delivered cursor as recorded, for the ack of a resent one-to-one message (no wait). */
  async recordedCursor(message: Message, memberIds: readonly string[]): Promise<CursorEvent | undefined> {
    const userId = memberIds.find(id => id !== message.senderId);
    if (!userId) return undefined;
    let status: Awaited<ReturnType<Store['receipts']['statusOf']>>;
    try {
      status = await this.deps.receipts.statusOf(message.id);
    } catch (err) {
      // The message is stored: its ack goes out without the cursor (the status API has it).
      this.logger.warn('[egg-im-router] delivered cursor of message %s not read for its resend: %s', message.id, (err as Error).message);
      return undefined;
    }
    const recipient = status?.recipients.find(r => r.userId === userId);
    if (recipient?.status !== 'delivered' && recipient?.status !== 'read') return undefined;
    return { conversationId: message.conversationId, userId, deliveredSeq: message.seq };
  }

  /** The acks whose wait is over leave without the cursor; one timer for all of them. */
  private expireAckWaits(): void {
    this.ackWaitTimer = undefined;
    const now = performance.now();
    for (const [ key, wait ] of this.ackWaits) {
      if (wait.deadline > now) {
        this.ackWaitTimer = setTimeout(() => this.expireAckWaits(), wait.deadline - now);
        return;
      }
      this.ackWaits.delete(key);
      wait.resolve(undefined);
    }
  }

  /** The in-flight count, for health and tests. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** True when the message waits here for the adapter (the sweeper need not route it again). */
  holds(messageId: string): boolean {
    return this.held.has(messageId);
  }

  private hold(event: DeliverEvent): void {
    if (this.held.has(event.message.id)) return;
    const bytes = jsonOnce(event.message).length;
    if (this.heldBytes + bytes > HELD_MAX_BYTES) {
      if (!this.heldOverflowLogged) {
        this.heldOverflowLogged = true;
        this.logger.warn('[egg-im-router] %d messages held for the other nodes (%d bytes); later ones wait for the outbox sweeper',
          this.held.size, this.heldBytes);
      }
      return;
    }
    this.heldBytes += bytes;
    this.held.set(event.message.id, event);
  }

  /** The bus is back: what was held leaves, and what this node may have missed is read. */
  private adapterBack(): void {
    this.sendHeld();
    this.resyncAfterReconnect();
  }

  /** What was held while the adapter was down leaves now, in routing order, ahead of anything routed later. */
  private sendHeld(): void {
    if (this.held.size === 0 || !this.nodes.ready) return;
    const events = [ ...this.held.values() ];
    this.held.clear();
    this.heldBytes = 0;
    this.heldOverflowLogged = false;
    this.logger.info('[egg-im-router] adapter ready: sending %d held message(s) to the other nodes', events.length);
    for (const event of events) {
      this.publish(event);
      this.sent(event.message);
    }
  }

  private publish({ message, memberIds, originSocketId }: DeliverEvent): void {
    this.nodes.publish({ type: NodeMessageType.Deliver, messageJson: jsonOnce(message), memberIds, originSocketId });
  }

  /**
   * After the adapter reconnected, publishes of the other nodes made while its subscriber was away are lost
   * (Redis pub/sub keeps nothing), and their senders cannot tell. Every local user's backlog is read again,
   * as on connect; what is routed to a user meanwhile waits until its backlog is pushed.
   */
  private resyncAfterReconnect(): void {
    const epoch = this.nodes.epoch;
    if (epoch === this.resyncedEpoch) return;
    this.resyncedEpoch = epoch;
    let queued = 0;
    for (const userId of this.sockets.userIds()) {
      // Already waiting for its read (an earlier reconnect): that read comes after this reconnect too.
      if (this.resyncQueue.has(userId)) continue;
      this.resyncQueue.set(userId, this.beginReplay(userId));
      queued++;
    }
    if (queued === 0) return;
    this.logger.info('[egg-im-router] adapter reconnected: reading the backlog of %d local user(s)', queued);
    while (this.resyncWorkers < Math.min(RESYNC_CONCURRENCY, this.resyncQueue.size)) {
      this.resyncWorkers++;
      void this.resyncWorker();
    }
  }

  private async resyncWorker(): Promise<void> {
    try {
      for (let next = this.nextResync(); next; next = this.nextResync()) {
        const [ userId, replay ] = next;
        try {
          await this.pushBacklog(userId);
        } catch (err) {
          this.logger.error(new Error(`[egg-im-router] backlog of user ${userId} not read after a reconnect (its next connect or sync reads it)`, { cause: err }));
        } finally {
          this.endReplay(userId, replay);
        }
      }
    } finally {
      this.resyncWorkers--;
    }
  }

  private nextResync(): [ string, Replay ] | undefined {
    const next = this.resyncQueue.entries().next();
    if (next.done) return undefined;
    this.resyncQueue.delete(next.value[0]);
    return next.value;
  }

  private deliverLocal({ message, memberIds, originSocketId }: DeliverEvent): void {
    if (this.stopped) return;
    for (const userId of memberIds) {
      if (!this.sockets.hasUser(userId)) continue;
      if (userId === message.senderId) {
        // The sender's other devices see what it sent; there is no receipt for one's own message.
        for (const socket of this.sockets.ofUser(userId)) {
          if (socket.id !== originSocketId) this.unanswered.push(socket, message, ignoreAck);
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

  /** One delivery: pushes to every local device of the user until one acknowledges, with backoff. */
  private push(userId: string, message: Message): void {
    const key = deliveryKey(userId, message);
    if (this.inFlight.has(key)) return;
    const flight: InFlight = { userId, message, attempts: 0, firstPushAt: performance.now() };
    this.inFlight.set(key, flight);
    this.attempt(key, flight);
  }

  private attempt(key: string, flight: InFlight): void {
    if (this.stopped) return;
    const sockets = this.sockets.ofUser(flight.userId);
    if (sockets.length === 0) {
      // Offline now: the message is pushed again when a device connects (the cursor has not moved).
      this.inFlight.delete(key);
      return;
    }
    flight.attempts += 1;
    const { ackTimeoutMs, maxBackoffMs, backoffFactor } = this.config;
    const waitMs = backoffDelay(flight.attempts, { baseMs: ackTimeoutMs, maxMs: maxBackoffMs, factor: backoffFactor });
    // One timer per delivery (below), not one per push: an ack that comes late still counts.
    const onAck = (): void => this.acknowledged(key, flight);
    for (const socket of sockets) this.unanswered.push(socket, flight.message, onAck);
    // The status API counts pushes while they happen. From the first retry on: a first push acknowledged in
    // time costs no write, since the delivered write carries the count.
    if (flight.attempts > 1) {
      this.recordAttempts(flight);
      this.deps.observer.retried();
    }
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
    this.deps.observer.delivered((performance.now() - flight.firstPushAt) / 1000);
    const { message, userId, attempts } = flight;
    this.deps.receipts.delivered({ conversationId: message.conversationId, userId, seq: message.seq, attempts })
      .then(() => this.recorded(flight, 'delivered'), err => this.logReceiptError('delivered', flight, err));
    const wait = this.ackWaits.get(key);
    if (wait) {
      this.ackWaits.delete(key);
      wait.resolve({ conversationId: message.conversationId, userId, deliveredSeq: message.seq });
    }
    this.notifySender(message, userId, 'delivered', wait?.socketId);
  }

  private recordAttempts(flight: InFlight): void {
    const { message, userId, attempts } = flight;
    this.deps.receipts.attempted({ conversationId: message.conversationId, userId, seq: message.seq, attempts })
      .catch(err => this.logReceiptError('attempts', flight, err));
  }

  private failed(key: string, flight: InFlight): void {
    this.inFlight.delete(key);
    this.deps.observer.failed();
    const { message, userId, attempts } = flight;
    this.logger.warn('[egg-im-router] message %s (conversation %s seq %d) to user %s failed after %d attempts',
      message.id, message.conversationId, message.seq, userId, attempts);
    this.deps.receipts.failed({ conversationId: message.conversationId, userId, seq: message.seq, attempts })
      .then(() => this.recorded(flight, 'failed'), err => this.logReceiptError('failed', flight, err));
    this.notifySender(message, userId, 'failed');
  }

  /** Tells every device of the sender, on every node, how a recipient's delivery stands (but the one whose ack told it). */
  notifySender(message: Pick<Message, 'id' | 'conversationId' | 'seq' | 'senderId'>, userId: string, status: RecipientStatus, answeredSocketId?: string): void {
    const event: StatusEvent = { messageId: message.id, conversationId: message.conversationId, seq: message.seq, userId, status };
    this.queueStatus(message.senderId, event);
    if (answeredSocketId) this.answered.set(event, answeredSocketId);
    // Best effort across nodes (the status API is the record): sent when the adapter is connected.
    if (this.nodes.ready) this.nodes.publish({ type: NodeMessageType.Status, senderId: message.senderId, status: event });
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
    const answered = this.answered;
    this.statuses = new Map();
    if (answered.size > 0) this.answered = new Map();
    if (this.stopped) return;
    for (const [ senderId, events ] of bySender) {
      // A room broadcast would cost more than the frames it sends.
      const sockets = this.sockets.ofUser(senderId);
      let coalesced: ReturnType<typeof toCursors> | undefined;
      for (const socket of sockets) {
        if (!socket.data.cursors) {
          for (const event of events) socket.emit('message:status', event);
          continue;
        }
        if (answered.size > 0 && events.some(event => answered.get(event) === socket.id)) {
          const rest = notAnswered(events, event => answered.get(event) === socket.id);
          if (rest.length > 0) this.emitCursors(socket, toCursors(rest));
          continue;
        }
        coalesced ??= toCursors(events);
        this.emitCursors(socket, coalesced);
      }
    }
  }

  private emitCursors(socket: ImSocket, { perMessage, cursors }: ReturnType<typeof toCursors>): void {
    // A failure first: a delivery reported in the same turn came after it (a late acknowledgement).
    for (const event of perMessage) socket.emit('message:status', event);
    if (cursors) socket.emit('message:cursors', cursors);
  }

  /**
   * On connect: push what this user has not acknowledged yet (pending or failed), oldest first. Messages
   * routed to the user meanwhile wait until the backlog is pushed, so first pushes stay in seq order.
   */
  private async replay(socket: ImSocket): Promise<void> {
    const { userId } = socket.data;
    // The user's first socket here: lanes left from an earlier connection are stale (messages went elsewhere).
    if (!this.replaying.has(userId) && this.sockets.ofUser(userId).every(s => s.id === socket.id)) this.reorder.forget(userId);
    const replay = this.beginReplay(userId);
    try {
      await this.pushBacklog(userId);
    } finally {
      this.endReplay(userId, replay);
    }
  }

  private beginReplay(userId: string): Replay {
    let replay = this.replaying.get(userId);
    if (!replay) this.replaying.set(userId, replay = { depth: 0, buffered: [] });
    replay.depth++;
    return replay;
  }

  private endReplay(userId: string, replay: Replay): void {
    if (--replay.depth === 0 && this.replaying.get(userId) === replay) {
      this.replaying.delete(userId);
      for (const { message, push } of replay.buffered) this.enqueue(userId, message, push);
    }
  }

  /** Pushes what the user has not acknowledged yet (pending or failed), oldest first. */
  private async pushBacklog(userId: string): Promise<void> {
    const backlog = await this.deps.messages.undelivered(userId, this.config.replayLimit);
    if (this.stopped) return;
    for (const { conversationId, lastSeq, messages } of backlog) {
      // Every conversation of the user: its lane continues after the last seq as read now. The backlog is
      // read in seq order without the user's own messages: pushed as it is (beyond the replay limit: sync).
      this.reorder.reset(userId, conversationId, Math.max(lastSeq, messages.at(-1)?.seq ?? 0));
      for (const message of messages) {
        // Pushed to each device, and again on each retry: encoded once.
        jsonOnce(message);
        this.push(userId, message);
      }
    }
  }

  /** The host app hears of a status once it is recorded. */
  private recorded({ message, userId }: InFlight, status: 'delivered' | 'failed'): void {
    this.deps.hooks.emitStatus({ messageId: message.id, conversationId: message.conversationId, seq: message.seq, senderId: message.senderId, userId, status });
  }

  private logReceiptError(kind: string, flight: InFlight, err: Error): void {
    this.logger.error(new Error(`[egg-im-router] could not record ${kind} for message ${flight.message.id} user ${flight.userId}`, { cause: err }));
  }
}

function ignoreAck(): void {}

/** One delivery: a message to one recipient. */
function deliveryKey(userId: string, message: Pick<Message, 'conversationId' | 'seq'>): string {
  return `${userId}\n${message.conversationId}\n${message.seq}`;
}
