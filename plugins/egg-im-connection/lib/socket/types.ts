import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from 'egg-im-protocol';

/** What a socket carries once its handshake is authenticated. */
export interface ImSocketData {
  userId: string;
  sessionId: string;
  deviceId: string;
  /** Epoch ms when the session expires. */
  expiresAt: number;
  /** The client asked for statuses as `message:cursors` (handshake `auth.cursors`). */
  cursors: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type ImIo = Server<ClientToServerEvents, ServerToClientEvents, {}, ImSocketData>;
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type ImSocket = Socket<ClientToServerEvents, ServerToClientEvents, {}, ImSocketData>;

/** Handles one client event; what it returns is merged into `{ ok: true, ... }` for the ack. */
export type EventHandler = (socket: ImSocket, payload: unknown) => Promise<object | void>;

/** Runs for every authenticated connection (and disconnection); errors are logged, never thrown at the socket. */
export type ConnectionHook = (socket: ImSocket) => void | Promise<void>;

/** The Socket.IO room of a session: every socket of one login, on every node (a logout ends them all). */
export const sessionRoom = (sessionId: string) => `s:${sessionId}`;
