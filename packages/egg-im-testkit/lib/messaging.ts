/**
 * Helpers for tests of the message path: a device whose `message:new` recorder is in place before the
 * handshake (the backlog is pushed on connect, so a listener added after `connect` can miss it), the first
 * arrival of each seq, and rows read straight from the database rather than through the code under test.
 */
import mysql from 'mysql2/promise';
import { io, type Socket } from 'socket.io-client';

/** A message as it reaches a client (`message:new`, an ack, a page of history or a sync). */
export interface WireMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  type: string;
  content: any;
  meta: any;
  clientMsgId: string;
  createdAt: string;
}

/** Records every `message:new` of a socket in arrival order, acknowledging each unless `ack` is false. */
export function recordMessages(socket: Socket, { ack = true } = {}): WireMessage[] {
  const received: WireMessage[] = [];
  socket.on('message:new', (message: WireMessage, callback?: () => void) => {
    received.push(message);
    if (ack && typeof callback === 'function') callback();
  });
  return received;
}

/**
 * Connects a device (websocket, no reconnection) with its recorder attached first; rejects with the
 * `connect_error` (message = code, data = body).
 */
export function connectDevice(url: string, token: string, { ack = true, record = true, cursors }: { ack?: boolean; record?: boolean; cursors?: boolean } = {}): Promise<{ socket: Socket; inbox: WireMessage[] }> {
  const socket = io(url, { transports: [ 'websocket' ], reconnection: false, forceNew: true, auth: cursors === undefined ? { token } : { token, cursors } });
  const inbox = record ? recordMessages(socket, { ack }) : [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.close(); reject(new Error('connect timed out')); }, 5000);
    socket.once('connect', () => { clearTimeout(timer); resolve({ socket, inbox }); });
    socket.once('connect_error', err => { clearTimeout(timer); socket.close(); reject(err); });
  });
}

/** The first arrival of each seq (of one conversation, when given), in arrival order. */
export function firstSeqs(list: WireMessage[], conversationId?: string): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const m of list) {
    if (conversationId !== undefined && m.conversationId !== conversationId) continue;
    if (seen.has(m.seq)) continue;
    seen.add(m.seq);
    out.push(m.seq);
  }
  return out;
}

/** Runs one query on a connection of its own (the url names the database) and returns the rows. */
export async function queryDatabase<T = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z' });
  try {
    const [ rows ] = await conn.query(sql, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}
