import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';

/** What tests need of an Egg app (egg-mock's MockApplication fits). */
export interface TestApp {
  server: import('node:http').Server | null;
  httpRequest(): any;
}

/** Makes egg-mock's (unlistened) server listen on a free port; returns its base URL. */
export async function listen(app: TestApp): Promise<string> {
  const server = app.server;
  if (!server) throw new Error('the app has no server yet: await app.ready() first');
  if (!server.listening) await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface TestUser {
  userId: string;
  username: string;
  password: string;
}

export interface TestLogin extends TestUser {
  token: string;
  sessionId: string;
  deviceId: string;
  expiresAt: string;
}

let counter = 0;

/** Registers a user with a unique name over HTTP. */
export async function register(app: TestApp, label = 'user'): Promise<TestUser> {
  const username = `${label}_${process.pid}_${++counter}`.slice(0, 32);
  const password = `pw-${username}-secret`;
  const res = await app.httpRequest().post('/im/auth/register').send({ username, password }).expect(201);
  return { userId: res.body.userId, username, password };
}

export async function login(app: TestApp, user: TestUser, deviceId?: string): Promise<TestLogin> {
  const res = await app.httpRequest().post('/im/auth/login').send({ username: user.username, password: user.password, deviceId }).expect(200);
  return { ...user, ...res.body };
}

export async function registerAndLogin(app: TestApp, label = 'user', deviceId?: string): Promise<TestLogin> {
  return login(app, await register(app, label), deviceId);
}

/** Connects a socket.io client (websocket); rejects with the `connect_error` (message = code, data = body). */
export function connect(url: string, token: string | undefined, options: Record<string, unknown> = {}): Promise<Socket> {
  const socket = io(url, { transports: [ 'websocket' ], reconnection: false, forceNew: true, auth: token === undefined ? {} : { token }, ...options });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.close(); reject(new Error('connect timed out')); }, 5000);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', err => { clearTimeout(timer); socket.close(); reject(err); });
  });
}

/** Emits with an ack and resolves with the ack's argument. */
export function request<T = any>(socket: Socket, event: string, payload: unknown, timeoutMs = 5000): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/** Resolves with the next `event` on the socket (its arguments as an array). */
export function nextEvent<T extends unknown[] = any[]>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off(event, listener); reject(new Error(`no "${event}" within ${timeoutMs} ms`)); }, timeoutMs);
    const listener = (...args: unknown[]) => { clearTimeout(timer); socket.off(event, listener); resolve(args as T); };
    socket.on(event, listener);
  });
}

/** Collects every `message:new` a socket receives, acknowledging each unless told not to. */
export function collectMessages(socket: Socket, { ack = true } = {}): any[] {
  const received: any[] = [];
  socket.on('message:new', (message: unknown, callback?: () => void) => {
    received.push(message);
    if (ack && typeof callback === 'function') callback();
  });
  return received;
}

export type { Socket };
