/**
 * What one node tells the others (through the Redis adapter of socket.io), as data: a numbered type per
 * message, like socket.io-adapter's `MessageType`, sent in versioned packets through one encoder.
 */
import type { Message, StatusEvent } from './wire';

/** Raised only with a release that still reads the version before it, so nodes can be upgraded one at a time. */
export const NODE_PROTOCOL_VERSION = 1;

export enum NodeMessageType {
  /** A session was revoked: its sockets on every node are told and closed. */
  SessionEnded = 1,
  /** A committed message: every node pushes it to its own sockets of the members. */
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
  message: Message;
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
  if (v !== NODE_PROTOCOL_VERSION || typeof from !== 'string' || !Array.isArray(messages)) return undefined;
  return { v, from, messages: messages.filter(m => typeof m?.type === 'number' && NodeMessageType[m.type] !== undefined) };
}
