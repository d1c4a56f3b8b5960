/**
 * A load-generator process of the benchmark (forked by index.ts, one per ~8,000 clients): opens socket.io
 * clients (websocket transport), sends messages at a given rate, measures end-to-end latency (the send time
 * travels in `content.t`; sender and recipient of every route live in the same process, so one monotonic
 * clock serves both), ack latency and losses, and runs HTTP history requests. Commands come over IPC.
 */
import http from 'node:http';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { Histogram } from './lib/histogram';
import type {
  ClientSpec, ClientStats, ConnectArgs, ConnectResult, HttpArgs, HttpResult, Reply, Request, TrafficArgs, TrafficResult,
} from './lib/protocol';

interface Client {
  spec: ClientSpec;
  socket?: Socket;
}

interface Phase {
  tag: string;
  startedAt: number;
  timeline: Array<[number, number, number]>;
  /** End-to-end latency by the wall-clock second (epoch) the message was sent in: what a stall in that second did. */
  bySendSecond: Map<number, Histogram>;
  /** Per wall-clock second: this process's own longest loop delay and GC pause time (its stalls delay the receipts it
   * times), and the engine.io pings its clients received (the server's heartbeats). */
  ownStalls: Map<number, [number, number, number]>;
  e2e: Histogram;
  received: Set<string>;
  duplicates: number;
  outOfOrder: number;
  lastSeq: Map<string, number>;
}

const clients = new Map<number, Client>();
let disconnects = 0;
let reconnects = 0;
let reasons: Record<string, number> = {};
let phase: Phase | undefined;
let counter = 0;
const procTag = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
/** This process's longest garbage-collection pause since the phase began: a pause here delays receipts too. */
let gcMaxMs = 0;
const secondLoopDelay = monitorEventLoopDelay({ resolution: 10 });
secondLoopDelay.enable();
const ownStall = (second: number) => {
  let slot = phase?.ownStalls.get(second);
  if (!slot && phase) phase.ownStalls.set(second, slot = [ 0, 0, 0 ]);
  return slot;
};
/** While a phase runs: the loop delay of each wall-clock second, read on the second's boundary. */
let secondTimer: NodeJS.Timeout | undefined;
function sampleSeconds(): void {
  secondTimer = setTimeout(() => {
    const slot = ownStall(Math.floor(Date.now() / 1000) - 1);
    if (slot) slot[0] = Math.max(slot[0], Math.round(secondLoopDelay.max / 1e5) / 10);
    secondLoopDelay.reset();
    if (phase) sampleSeconds();
  }, 1000 - (Date.now() % 1000) + 2);
}
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) {
    gcMaxMs = Math.max(gcMaxMs, entry.duration);
    const slot = ownStall(Math.floor((performance.timeOrigin + entry.startTime) / 1000));
    if (slot) slot[1] = Math.round((slot[1] + entry.duration) * 10) / 10;
  }
}).observe({ entryTypes: [ 'gc' ] });

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));
const progress = (kind: string, done: number, total: number, failed?: number) => process.send?.({ progress: { kind, done, total, failed } });

function onMessage(client: Client, message: any): void {
  const current = phase;
  const content = message?.content;
  if (!current || !content || content.p !== current.tag) return;
  const key = `${client.spec.index}:${message.clientMsgId}`;
  if (current.received.has(key)) {
    current.duplicates++;
    return;
  }
  current.received.add(key);
  const now = performance.now();
  const ms = now - content.t;
  current.e2e.record(ms);
  const sentIn = Math.floor((performance.timeOrigin + content.t) / 1000);
  let ofSecond = current.bySendSecond.get(sentIn);
  if (!ofSecond) current.bySendSecond.set(sentIn, ofSecond = new Histogram());
  ofSecond.record(ms);
  const second = Math.max(0, Math.floor((now - current.startedAt) / 1000));
  const slot = current.timeline[second] ??= [ 0, 0, 0 ];
  slot[0]++;
  if (ms > slot[1]) slot[1] = ms;
  if (ms > 1000) slot[2]++;
  const lane = `${client.spec.index}:${message.conversationId}`;
  const last = current.lastSeq.get(lane) ?? 0;
  if (typeof message.seq === 'number') {
    if (message.seq < last) current.outOfOrder++;
    else current.lastSeq.set(lane, message.seq);
  }
}

function open(spec: ClientSpec, timeoutMs: number): Promise<number> {
  const client: Client = { spec };
  clients.set(spec.index, client);
  const started = performance.now();
  const socket = io(spec.url, {
    transports: [ 'websocket' ],
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 2000,
    reconnectionDelayMax: 10000,
    timeout: timeoutMs,
    // egg-im's clients ask for statuses as cursors, as its typed client does.
    auth: spec.token ? { token: spec.token, cursors: true } : { userId: spec.userId },
  });
  client.socket = socket;
  socket.io.on('ping', () => {
    const slot = ownStall(Math.floor(Date.now() / 1000));
    if (slot) slot[2]++;
  });
  socket.on('message:new', (message: unknown, ack?: () => void) => {
    if (typeof ack === 'function') ack();
    onMessage(client, message);
  });
  return new Promise((resolve, reject) => {
    let first = true;
    socket.on('connect', () => {
      if (first) {
        first = false;
        resolve(performance.now() - started);
      } else {
        reconnects++;
      }
    });
    socket.on('disconnect', reason => {
      if (clients.get(spec.index) !== client) return; // closed on purpose
      disconnects++;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    });
    socket.on('connect_error', err => {
      if (!first) return;
      first = false;
      socket.close();
      clients.delete(spec.index);
      reject(err);
    });
  });
}

async function connect({ targets, concurrency, timeoutMs }: ConnectArgs): Promise<ConnectResult> {
  const latency = new Histogram();
  const errors: Record<string, number> = {};
  let connected = 0;
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const timer = setInterval(() => progress('connect', connected, targets.length, failed), 1000);
  const worker = async () => {
    for (let i = next++; i < targets.length; i = next++) {
      try {
        latency.record(await open(targets[i], timeoutMs));
        connected++;
      } catch (err: any) {
        failed++;
        const message = String(err?.message ?? err);
        errors[message] = (errors[message] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, targets.length)) }, worker));
  clearInterval(timer);
  progress('connect', connected, targets.length, failed);
  return { attempted: targets.length, connected, failed, errors, durationMs: performance.now() - started, latency: latency.toJSON() };
}

async function disconnect({ indexes }: { indexes: number[] }): Promise<{ closed: number }> {
  let closed = 0;
  for (const index of indexes) {
    const client = clients.get(index);
    if (!client) continue;
    clients.delete(index);
    client.socket?.removeAllListeners();
    client.socket?.disconnect();
    closed++;
  }
  return { closed };
}

async function join({ indexes, groupId }: { indexes: number[]; groupId: string }): Promise<{ joined: number }> {
  const replies = await Promise.all(indexes.map(i => clients.get(i)?.socket?.timeout(10000).emitWithAck('group:join', groupId).catch(() => undefined)));
  return { joined: replies.filter(r => r?.ok).length };
}

async function traffic(args: TrafficArgs): Promise<TrafficResult> {
  const { tag, routes, rate, durationMs, drainMs, ackTimeoutMs } = args;
  const current: Phase = {
    tag, startedAt: performance.now(), timeline: [], bySendSecond: new Map(), ownStalls: new Map(), e2e: new Histogram(), received: new Set(), duplicates: 0, outOfOrder: 0, lastSeq: new Map(),
  };
  phase = current;
  secondLoopDelay.reset();
  clearTimeout(secondTimer);
  sampleSeconds();
  loopDelay.reset();
  gcMaxMs = 0;
  const ack = new Histogram();
  const expected = new Map<string, number>(); // recipient:clientMsgId → route
  const errors: Record<string, number> = {};
  const unacked = new Set<string>();
  let sent = 0;
  let acked = 0;
  let ackTimeouts = 0;
  let answered = 0;
  let skipped = 0;
  let cursor = 0;

  const sendOne = () => {
    const routeIndex = cursor++ % routes.length;
    const route = routes[routeIndex];
    const socket = clients.get(route.from)?.socket;
    if (!socket?.connected) {
      skipped++;
      return;
    }
    const clientMsgId = `${procTag}-${++counter}`;
    const t = performance.now();
    sent++;
    unacked.add(clientMsgId);
    socket.timeout(ackTimeoutMs).emit('message:send',
      { to: route.to, type: 'text', content: { text: 'bench message', p: tag, t }, clientMsgId },
      (err: Error | null, reply: any) => {
        answered++;
        if (err) {
          ackTimeouts++;
          return;
        }
        if (!reply?.ok) {
          const code = reply?.error?.code ?? 'NO_REPLY';
          errors[code] = (errors[code] ?? 0) + 1;
          return;
        }
        unacked.delete(clientMsgId);
        acked++;
        ack.record(performance.now() - t);
        for (const r of route.recipients) expected.set(`${r}:${clientMsgId}`, routeIndex);
      });
  };

  const started = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  await new Promise<void>(resolve => {
    let lastProgress = started;
    const tick = () => {
      const now = performance.now();
      const elapsed = now - started;
      const due = Math.min(total, Math.floor((rate * Math.min(elapsed, durationMs)) / 1000)) - (sent + skipped);
      // Catch up after a stall, but never more than 200 ms worth at once.
      for (let i = 0; i < Math.min(due, Math.max(1, rate / 5)); i++) sendOne();
      if (now - lastProgress >= 1000) {
        lastProgress = now;
        progress('traffic', sent, total);
      }
      if (sent + skipped >= total || elapsed >= durationMs + 2000) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const sendSeconds = (performance.now() - started) / 1000;

  // Drain: every send answered and every expected delivery in (or the drain time is over).
  const drainStarted = performance.now();
  const complete = () => {
    if (answered < sent) return false;
    for (const key of expected.keys()) if (!current.received.has(key)) return false;
    return true;
  };
  while (performance.now() - drainStarted < drainMs && !complete()) await sleep(100);
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  phase = undefined;
  clearTimeout(secondTimer);

  let lost = 0;
  const lostRoutes = new Map<number, number>();
  const undelivered = new Map<string, string>(); // clientMsgId → sender userId
  for (const [ key, routeIndex ] of expected) {
    if (!current.received.has(key)) {
      lost++;
      lostRoutes.set(routeIndex, (lostRoutes.get(routeIndex) ?? 0) + 1);
      if (undelivered.size < 20000) undelivered.set(key.slice(key.indexOf(':') + 1), clients.get(routes[routeIndex].from)?.spec.userId ?? '');
    }
  }
  let deliveredUnacked = 0;
  for (const key of current.received) if (unacked.has(key.slice(key.indexOf(':') + 1))) deliveredUnacked++;
  progress('traffic', sent, total);
  return {
    tag, sent, acked, ackTimeouts, errors, skipped, expected: expected.size, received: current.received.size, lost,
    lostRoutes: lostRoutes.size, duplicates: current.duplicates, outOfOrder: current.outOfOrder, deliveredUnacked,
    undelivered: [ ...undelivered ].map(([ clientMsgId, sender ]) => [ sender, clientMsgId ]),
    lostByRoute: [ ...lostRoutes ],
    timeline: Array.from({ length: current.timeline.length }, (_, i) => current.timeline[i] ?? [ 0, 0, 0 ]),
    bySendSecond: [ ...current.bySendSecond ].map(([ second, h ]) => [ second, h.toJSON() ]),
    ownStalls: [ ...current.ownStalls ].map(([ second, stalls ]) => [ second, ...stalls ]),
    sendSeconds, drainSeconds, e2e: current.e2e.toJSON(), ack: ack.toJSON(), loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6, gcMaxMs,
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function get(url: string, token: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` }, timeout: 30000 }, res => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function httpLoad({ tag, requests, rate, count, maxInFlight }: HttpArgs): Promise<HttpResult> {
  loopDelay.reset();
  gcMaxMs = 0;
  const latency = new Histogram();
  const statuses: Record<string, number> = {};
  let issued = 0;
  let done = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  let bytes = 0;
  let inFlight = 0;
  const started = performance.now();
  if (count > 0) await new Promise<void>(resolve => {
    let lastProgress = started;
    const finishIfDone = () => {
      if (done + failed >= count) resolve();
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(count, Math.floor((rate * (now - started)) / 1000)) - issued;
      for (let i = 0; i < due && inFlight < maxInFlight; i++) {
        const { url, token } = requests[issued++ % requests.length];
        inFlight++;
        const t = performance.now();
        get(url, token).then(res => {
          latency.record(performance.now() - t);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          bytes += res.bytes;
          done++;
        }, (err: NodeJS.ErrnoException) => {
          failed++;
          const cause = err.code ?? err.message;
          errors[cause] = (errors[cause] ?? 0) + 1;
        }).finally(() => {
          inFlight--;
          finishIfDone();
        });
      }
      if (now - lastProgress >= 1000) {
        lastProgress = now;
        progress('http', done, count);
      }
      if (issued < count) setTimeout(tick, 1);
    };
    tick();
  });
  return {
    tag, done, statuses, errors, bytes, latency: latency.toJSON(), seconds: (performance.now() - started) / 1000,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6, gcMaxMs,
  };
}

function stats({ reset }: { reset?: boolean }): ClientStats {
  let connected = 0;
  for (const client of clients.values()) if (client.socket?.connected) connected++;
  const result = { connected, disconnects, reconnects, reasons, rssBytes: process.memoryUsage().rss };
  if (reset) {
    disconnects = 0;
    reconnects = 0;
    reasons = {};
  }
  return result;
}

async function handle(request: Request): Promise<unknown> {
  switch (request.cmd) {
    case 'connect': return connect(request.args);
    case 'disconnect': return disconnect(request.args);
    case 'join': return join(request.args);
    case 'traffic': return traffic(request.args);
    case 'http': return httpLoad(request.args);
    case 'stats': return stats(request.args);
    default: throw new Error(`unknown command ${(request as { cmd: string }).cmd}`);
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    result => process.send?.({ id: request.id, ok: true, result } satisfies Reply),
    err => process.send?.({ id: request.id, ok: false, error: String(err?.stack ?? err) } satisfies Reply),
  );
});
// The parent went away: close everything and leave.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
