import type { Conversations } from '../Conversations';
import type { MessagePipeline } from '../pipeline/MessagePipeline';
import type { Sockets } from '../ports';

/** The client events of the protocol; egg-im-connection routes them here with rate limits and acks. */
export function socketHandlers(sockets: Sockets, pipeline: MessagePipeline, conversations: Conversations): void {
  sockets.handle('message:send', async (socket, body) => {
    const { message, delivered } = await pipeline.send(socket.data.userId, body, { origin: 'socket', socketId: socket.id, cursors: socket.data.cursors });
    const cursor = await delivered;
    return cursor ? { message, cursors: [ cursor ] } : { message };
  });
  sockets.handle('message:read', async (socket, body) => {
    await conversations.markRead(socket.data.userId, body);
  });
  sockets.handle('sync', async (socket, body) => conversations.sync(socket.data.userId, body));
}
