import assert from 'node:assert';
import mm, { type MockApplication } from 'egg-mock';
import {
  createTestDatabase, dropTestDatabase, listen, registerAndLogin, request, TEST_REDIS_URL, uniqueName, waitFor,
  type Socket, type TestLogin,
} from 'egg-im-testkit';
import { connectDevice, firstSeqs, queryDatabase, recordMessages, type WireMessage } from 'egg-im-testkit/lib/messaging';
import { deleteKeysUnder } from 'egg-im-testkit/lib/redisKeys';

/** What a fixture app reads from the environment (see test/fixtures/apps/<scenario>/config/config.default.ts). */
export const ENV = {
  database: 'ROUTER_TEST_DATABASE_URL',
  redis: 'ROUTER_TEST_REDIS_URL',
  prefix: 'ROUTER_TEST_REDIS_PREFIX',
} as const;

export interface HarnessOptions {
  /** false: no database of its own (the fixture brings its own store, e.g. SQLite or a throwaway mariadbd). */
  database?: boolean;
  /** false: memory cache (no Redis url). */
  redis?: boolean;
  env?: Record<string, string>;
}

/**
 * One fixture app on its own MariaDB database and Redis prefix, listening on a port, with helpers to make
 * users, sockets and authenticated HTTP calls; `close()` ends everything it made and checks nothing is left.
 */
export class Harness {
  app!: MockApplication;
  url = '';
  database?: { name: string; url: string };
  readonly prefix = `${uniqueName('router')}:`;
  private readonly sockets = new Set<Socket>();
  private readonly envNames: string[] = [];
  private counter = 0;

  constructor(readonly scenario: string, private readonly options: HarnessOptions = {}) {}

  async start(): Promise<this> {
    if (this.options.database !== false) {
      this.database = await createTestDatabase('router');
      this.setEnv(ENV.database, this.database.url);
    }
    this.setEnv(ENV.redis, this.options.redis === false ? '' : TEST_REDIS_URL);
    this.setEnv(ENV.prefix, this.prefix);
    for (const [ name, value ] of Object.entries(this.options.env ?? {})) this.setEnv(name, value);
    this.app = mm.app({ baseDir: `apps/${this.scenario}`, cache: false });
    await this.app.ready();
    this.url = await listen(this.app);
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.close();
    this.sockets.clear();
    try {
      await this.app?.close();
    } finally {
      for (const name of this.envNames) delete process.env[name];
      if (this.database) await dropTestDatabase(this.database.name);
      // The app's keys all expire by themselves; a test run removes its own at once.
      if (this.options.redis !== false) await deleteKeysUnder(this.prefix);
    }
  }

  /** A new user, logged in (one session; `login(user)` again for another device). */
  user(label = 'u', deviceId?: string): Promise<TestLogin> {
    return registerAndLogin(this.app, `${label}${++this.counter}`, deviceId);
  }

  /** Another session (device) of the same user. */
  async login(user: TestLogin, deviceId?: string): Promise<TestLogin> {
    const res = await this.app.httpRequest().post('/im/auth/login')
      .send({ username: user.username, password: user.password, deviceId }).expect(200);
    return { ...user, ...res.body };
  }

  async socket(login: { token: string }): Promise<Socket> {
    return (await this.online(login, { record: false })).socket;
  }

  /**
   * Connects a device and records its `message:new` (acknowledging each unless `ack: false`). The listener is
   * in place before the handshake, so the backlog pushed on connect is never missed.
   */
  async online(login: { token: string }, options: { ack?: boolean; record?: boolean; cursors?: boolean } = {}): Promise<{ socket: Socket; inbox: WireMessage[] }> {
    const device = await connectDevice(this.url, login.token, options);
    this.sockets.add(device.socket);
    device.socket.once('disconnect', () => this.sockets.delete(device.socket));
    return device;
  }

  /** `message:send` over the socket; resolves with the ack. */
  send(socket: Socket, body: Record<string, unknown>): Promise<any> {
    return request(socket, 'message:send', body);
  }

  /** A text message to a user or group with a fresh clientMsgId. */
  text(socket: Socket, to: { type: 'user' | 'group'; id: string }, text: string, extra: Record<string, unknown> = {}): Promise<any> {
    return this.send(socket, { to, type: 'text', content: { text }, clientMsgId: this.clientMsgId(), ...extra });
  }

  clientMsgId(): string {
    return `c_${++this.counter}_${Math.random().toString(36).slice(2, 10)}`;
  }

  get(path: string, token?: string) {
    const req = this.app.httpRequest().get(path);
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  }

  post(path: string, body: unknown, token?: string) {
    const req = this.app.httpRequest().post(path).send(body as object);
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  }

  delete(path: string, token?: string) {
    const req = this.app.httpRequest().delete(path);
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  }

  async createGroup(owner: TestLogin, members: TestLogin[], name = 'group'): Promise<{ groupId: string; conversationId: string }> {
    const res = await this.post('/im/groups', { name, memberIds: members.map(m => m.userId) }, owner.token).expect(201);
    return res.body;
  }

  async status(token: string, messageId: string): Promise<any> {
    const res = await this.get(`/im/messages/${encodeURIComponent(messageId)}/status`, token).expect(200);
    return res.body;
  }

  /** Waits until every recipient of the message has `status` (or one of them) in the status API. */
  async waitStatus(token: string, messageId: string, status: string | string[], timeoutMs = 5000): Promise<any> {
    const wanted = new Set(Array.isArray(status) ? status : [ status ]);
    let last: any;
    try {
      await waitFor(async () => {
        last = await this.status(token, messageId);
        return last.recipients.length > 0 && last.recipients.every((r: any) => wanted.has(r.status));
      }, timeoutMs, `message ${messageId} to be ${[ ...wanted ].join(' or ')}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last)}`);
    }
    return last;
  }

  /** Rows straight from the database (not through the code under test). */
  rows<T = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    assert(this.database, 'this harness has no database of its own');
    return queryDatabase<T>(this.database.url, sql, params);
  }

  private setEnv(name: string, value: string): void {
    process.env[name] = value;
    this.envNames.push(name);
  }
}

/** The messages a socket receives as `message:new`, acknowledging each unless told not to, in arrival order. */
export const inbox = recordMessages;

/** The `message:status` events a socket receives. */
export function statuses(socket: Socket): any[] {
  const received: any[] = [];
  socket.on('message:status', (event: unknown) => received.push(event));
  return received;
}

/** The `message:cursors` frames a socket receives (each `{ cursors: [...] }`). */
export function cursorFrames(socket: Socket): any[] {
  const received: any[] = [];
  socket.on('message:cursors', (event: unknown) => received.push(event));
  return received;
}

/** Resolves when `list` holds a message matching `match` (by id when given a string); returns it. */
export function arrival(list: WireMessage[], match: string | ((m: WireMessage) => boolean), timeoutMs = 5000): Promise<WireMessage> {
  const test = typeof match === 'string' ? (m: WireMessage) => m.id === match : match;
  return waitFor(() => list.find(test), timeoutMs, typeof match === 'string' ? `message ${match}` : 'a matching message');
}

/** The JSON of a message without the fields the server adds: what must survive the round trip byte for byte. */
export const payloadOf = (m: WireMessage) => JSON.stringify({ type: m.type, content: m.content, meta: m.meta });

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

export { firstSeqs };
export type { Socket, TestLogin, WireMessage };
