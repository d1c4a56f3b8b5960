/**
 * What one node tells the others (through the Redis adapter of socket.io), as data: a numbered type per
 * message, like socket.io-adapter's `MessageType`, sent in versioned packets through one encoder.
 */
import type { StatusEvent } from './wire';

/** Raised only with a release that still reads the version before it, so nodes can be upgraded one at a time. */
export const NODE_PROTOCOL_VERSION = 2;
/** Version 1 is still read: its `Deliver` carried the message as an object (`message`), not as text. */
const PREVIOUS_VERSION = 1;

export enum NodeMessageType {
  /** A session was revoked: its sockets on every node are told and closed. */
  SessionEnded = 1,
  /** A committed message: every node that holds sockets of the members pushes it to them. */
  Deliver = 2,
  /** A recipient's delivery status, for the sender's sockets on every node. */
  Status = 3,
}

export interface SessionEndedMessage {
  type: NodeMessageType.SessionEnded;
  sessionId: string;
}

export interface DeliverMessage {
  type: NodeMessageType.Deliver;
  /**
   * The message as the JSON text it was encoded as once (`jsonOnce`): a node with none of the members online
   * reads `memberIds` and never parses it; one that has them pushes this same text (`parseOnce`).
   */
  messageJson: string;
  memberIds: string[];
  /** The sender's socket that sent it: it got the ack, not a copy. */
  originSocketId?: string;
}

export interface StatusMessage {
  type: NodeMessageType.Status;
  senderId: string;
  status: StatusEvent;
}

export type NodeMessage = SessionEndedMessage | DeliverMessage | StatusMessage;

/** The message of one type: `NodeMessageOf<NodeMessageType.Deliver>` is `DeliverMessage`. */
export type NodeMessageOf<T extends NodeMessageType> = Extract<NodeMessage, { type: T }>;

export interface NodePacket {
  v: number;
  /** The node that sent it. */
  from: string;
  messages: NodeMessage[];
}

export function encodeNodePacket(from: string, messages: NodeMessage[]): string {
  return JSON.stringify({ v: NODE_PROTOCOL_VERSION, from, messages } satisfies NodePacket);
}

/** The packet, or undefined when it is not one of this version (a node of another release, or garbage). */
export function decodeNodePacket(text: unknown): NodePacket | undefined {
  if (typeof text !== 'string') return undefined;
  let packet: unknown;
  try {
    packet = JSON.parse(text);
  } catch {
    return undefined;
  }
  const { v, from, messages } = (packet ?? {}) as Partial<NodePacket>;
  if ((v !== NODE_PROTOCOL_VERSION && v !== PREVIOUS_VERSION) || typeof from !== 'string' || !Array.isArray(messages)) return undefined;
  const known = messages.filter(m => typeof m?.type === 'number' && NodeMessageType[m.type] !== undefined);
  return { v, from, messages: v === PREVIOUS_VERSION ? known.flatMap(fromVersion1) : known };
}

/** A version 1 message as this version's (a `Deliver` without its message object is dropped). */
function fromVersion1(message: NodeMessage): NodeMessage[] {
  if (message.type !== NodeMessageType.Deliver) return [ message ];
  const { message: object, ...rest } = message as Omit<DeliverMessage, 'messageJson'> & { message?: unknown };
  return typeof object === 'object' && object !== null ? [ { ...rest, messageJson: JSON.stringify(object) } ] : [];
}
