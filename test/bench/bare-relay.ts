/**
 * The baseline: a bare socket.io 4 relay with nothing of egg-im (no auth, no store, no cache, no retries).
 * A room per user (`u:<userId>`, from the handshake's `auth.userId`) and per group; `message:send` builds a
 * message like egg-im's, emits it to the recipient's room with an ack timeout (as egg-im pushes), and acks
 * the sender. Runs in its own process, started by the benchmark:
 *   node -r ts-node/register/transpile-only test/bench/bare-relay.ts --port 7100
 * GET /stats[?gc=1] answers its pid and memory.
 */
import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';

const { values } = parseArgs({ options: { port: { type: 'string', default: '7100' } } });
let gc: (() => void) | undefined;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/stats')) {
    if (req.url.includes('gc=1')) {
      if (!gc) {
        v8.setFlagsFromString('--expose_gc');
        gc = vm.runInNewContext('gc') as () => void;
      }
      gc();
      gc();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ pid: process.pid, memory: process.memoryUsage(), sockets: io.engine.clientsCount }));
    return;
  }
  res.statusCode = 404;
  res.end();
});

const io = new Server(server, { transports: [ 'websocket' ], serveClient: false, pingInterval: 25000, pingTimeout: 20000 });
let seq = 0;

io.on('connection', socket => {
  const userId = String(socket.handshake.auth?.userId ?? socket.id);
  socket.join(`u:${userId}`);
  socket.on('group:join', (groupId: string, ack: (reply: unknown) => void) => {
    socket.join(`g:${groupId}`);
    ack({ ok: true });
  });
  socket.on('message:send', (body: any, ack: (reply: unknown) => void) => {
    if (typeof ack !== 'function' || !body?.to) return;
    const group = body.to.type === 'group';
    const message = {
      id: `m${++seq}`, conversationId: group ? `g:${body.to.id}` : `d:${userId}:${body.to.id}`, seq, senderId: userId,
      type: body.type, content: body.content, meta: body.meta ?? {}, clientMsgId: body.clientMsgId, createdAt: new Date().toISOString(),
    };
    // To every socket of the room but the sender's, waiting for their acks as egg-im's delivery does.
    socket.to(group ? `g:${body.to.id}` : `u:${body.to.id}`).timeout(5000).emit('message:new', message, () => undefined);
    ack({ ok: true, message });
  });
});

server.listen(Number(values.port), '127.0.0.1', () => {
  process.send?.({ ready: true, pid: process.pid });
  console.log(`[bare-relay] listening on 127.0.0.1:${values.port} (pid ${process.pid})`);
});

for (const signal of [ 'SIGTERM', 'SIGINT' ] as const) {
  process.once(signal, () => {
    io.close();
    server.close();
    process.exit(0);
  });
}
process.on('disconnect', () => process.exit(0));
