import type { Application } from 'egg';

/** The client events of the protocol; egg-im-connection routes them here with rate limits and acks. */
export function socketHandlers(app: Application): void {
  const sockets = app.imSockets;
  sockets.handle('message:send', async (socket, body) => ({
    message: await app.im.pipeline.send(socket.data.userId, body, { socketId: socket.id }),
  }));
  sockets.handle('message:read', async (socket, body) => {
    await app.im.conversations.markRead(socket.data.userId, body);
  });
  sockets.handle('sync', async (socket, body) => app.im.conversations.sync(socket.data.userId, body));
}
