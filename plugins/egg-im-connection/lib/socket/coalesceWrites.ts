import type { EventEmitter } from 'node:events';

/** The part of an engine.io socket this needs; `transport.socket._socket` is ws' TCP socket (not typed by ws). */
interface EngineSocket extends EventEmitter {
  transport?: { name?: string; socket?: { _socket?: { cork?: () => void; uncork?: () => void } } };
}

/**
 * Frames flushed together leave in one write. engine.io hands a socket's buffered packets to the websocket one
 * by one, one system call each; corking the TCP socket for the flush makes them one `writev`. The buffer holds
 * more than one packet when several are sent to one socket while its previous write is still in flight: a
 * group's delivery receipts to the sender, the backlog pushed on connect, a burst from a busy conversation.
 */
export function coalesceWrites(conn: EngineSocket): void {
  conn.on('flush', (buffer: unknown[]) => {
    if (buffer.length < 2 || conn.transport?.name !== 'websocket') return;
    const tcp = conn.transport.socket?._socket;
    if (typeof tcp?.cork !== 'function' || typeof tcp.uncork !== 'function') return;
    tcp.cork();
    // flush() sends the whole buffer synchronously after this event: uncork once it returns (or threw).
    process.nextTick(() => tcp.uncork!());
  });
}
