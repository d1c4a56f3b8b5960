import type { PresenceResult, ServerToClientEvents } from 'egg-im-protocol';
import type { ImNodes } from './nodes/NodeBus';
import type { ConnectionHook, EventHandler, ImSocket } from './socket/types';

export type ServerEvent = keyof ServerToClientEvents;
export type ServerEventArgs<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>;

/** `app.imSockets`: the sockets of this node, their events, and the bus to the other nodes (see the README). */
export interface ImSockets {
  /** Routes a client event to `handler`; the ack gets `{ ok: true, ...result }` or the error body. One handler per event. */
  handle(event: string, handler: EventHandler): void;
  /** Runs for every authenticated connection; errors are logged, never thrown at the socket. */
  onConnect(hook: ConnectionHook): void;
  onDisconnect(hook: ConnectionHook): void;
  /** This node's sockets of the user (every device, every tab), in the order they connected. */
  ofUser(userId: string): ImSocket[];
  /** The user has at least one socket on this node. */
  hasUser(userId: string): boolean;
  /** Every user with at least one socket on this node. */
  userIds(): string[];
  /** Emits to each of this node's sockets of the user (one frame per socket; an ack callback is called per socket). */
  emitToUser<E extends ServerEvent>(userId: string, event: E, ...args: ServerEventArgs<E>): void;
  emitToSockets<E extends ServerEvent>(sockets: Iterable<ImSocket>, event: E, ...args: ServerEventArgs<E>): void;
  /** The other nodes: publish and subscribe `NodeMessage`s, and the confirmed-delivery signal. */
  readonly nodes: ImNodes;
  /** Who is online, on any node (`GET <prefix>/users/:userId/presence` answers with it). */
  readonly presence: { query(userId: string): Promise<PresenceResult> };
  /** This node's open sockets. */
  readonly connections: number;
  /**
   * Graceful stop: refuses new connections, tells each client `server:draining` (it reconnects elsewhere once its
   * calls are answered), closes what is still open after `deadlineMs`; resolves once every event is answered.
   */
  drain(deadlineMs: number): Promise<void>;
}
