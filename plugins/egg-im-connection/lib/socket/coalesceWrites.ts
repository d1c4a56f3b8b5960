import type { EventEmitter } from 'node:events';

/** The part of an engine.io socket this needs; `transport.socket._socket` is ws' TCP socket (not typed by ws). */
interface EngineSocket extends EventEmitter {
  transport?: { name?: string; socket?: { _socket?: { cork?: () => void; uncork?: () => void } } };
  writeBuffer?: unknown[];
}

/**
 * Frames flushed together leave in one write. engine.io hands a socket's buffered packets to the websocket one
 * by one, one system call each; corking the TCP socket for the flush makes them one `writev`. The buffer holds
 * more than one packet when several are sent to one socket while its previous write is still in flight: a
 * group's delivery receipts to the sender, the backlog pushed on connect, a burst from a busy conversation.
 *
 * Once flushed, the buffer is emptied. engine.io drops it without, and a socket idle for a few young
 * collections has had that array promoted to the old generation: dead there, it kept the frames it held alive
 * through every young collection until the next full one (measured: 40 % of what the worker promoted at
 * 2,000 msg/s, see docs/performance.md).
 */
export function coalesceWrites(conn: EngineSocket): void {
  let flushed: unknown[] | undefined;
  conn.on('flush', (buffer: unknown[]) => {
    if (conn.transport?.name !== 'websocket') return;
    flushed = buffer;
    const tcp = buffer.length > 1 ? conn.transport.socket?._socket : undefined;
    if (typeof tcp?.cork === 'function' && typeof tcp.uncork === 'function') {
      tcp.cork();
      // A tick, not 'drain': the socket must be uncorked even if the send throws.
      process.nextTick(() => tcp.uncork!());
    }
  });
  // engine.io emits 'drain' right after the send, and only then: a flush that did not happen (a later 'flush'
  // listener threw) leaves the buffer to the next one, which hands it over again.
  conn.on('drain', () => {
    if (flushed) flushed.length = 0;
    flushed = undefined;
  });
}
