import { performance } from 'node:perf_hooks';
import type { Message } from 'egg-im-protocol';
import type { ImSocket } from 'egg-im-connection';

/** setInterval's longest delay (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Pushes each socket has not acknowledged yet, oldest first. socket.io keeps a push's ack callback (and with it
 * the message) until the client answers or the socket closes: a client that never answers would make the worker
 * hold every message sent to it. A socket that leaves a push unanswered for longer than `maxAgeMs` is closed,
 * as a dropped connection (its client reconnects and is pushed its backlog again), which bounds that memory by
 * time. One sweep for all sockets, every third of `maxAgeMs`: no timer per push.
 */
export class Unanswered {
  /** By socket: when each unanswered push left (performance.now()), in the order they left. */
  private readonly bySocket = new Map<ImSocket, Map<number, number>>();
  private lastId = 0;
  private sweepTimer?: NodeJS.Timeout;

  constructor(private readonly maxAgeMs: number, private readonly closed: (socket: ImSocket, ageMs: number) => void) {}

  /** `message:new` to `socket`; `onAck` runs when it answers. */
  push(socket: ImSocket, message: Message, onAck: () => void): void {
    const id = ++this.lastId;
    let pending = this.bySocket.get(socket);
    if (!pending) this.bySocket.set(socket, pending = new Map());
    pending.set(id, performance.now());
    const unanswered = pending;
    socket.emit('message:new', message, () => {
      unanswered.delete(id);
      onAck();
    });
    this.sweepTimer ??= this.startSweeps();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.bySocket.clear();
  }

  private startSweeps(): NodeJS.Timeout {
    const timer = setInterval(() => this.sweep(), Math.min(this.maxAgeMs / 3, MAX_TIMER_MS));
    timer.unref();
    return timer;
  }

  private sweep(): void {
    const now = performance.now();
    for (const [ socket, pending ] of this.bySocket) {
      const oldest = pending.values().next();
      if (oldest.done || !socket.connected) {
        this.bySocket.delete(socket);
        continue;
      }
      const ageMs = now - oldest.value;
      if (ageMs <= this.maxAgeMs) continue;
      this.bySocket.delete(socket);
      // The engine.io connection, not the socket.io socket: the client sees a dropped transport and reconnects.
      // What is still buffered for it is discarded: a client that stopped reading would hold the close up.
      socket.conn.close(true);
      this.closed(socket, ageMs);
    }
    if (this.bySocket.size === 0) this.stop();
  }
}
