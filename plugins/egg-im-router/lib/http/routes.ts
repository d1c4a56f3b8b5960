import type { Application } from 'egg';

/** The messaging routes of the HTTP API, under the IM prefix, every one behind a session. */
export function messagingRoutes(app: Application): void {
  const { router } = app;
  const { prefix } = app.config.im.http;
  const im = () => app.im;
  const { requireSession } = app.imSessions;

  router.post('imCreateGroup', `${prefix}/groups`, requireSession, async ctx => {
    ctx.status = 201;
    ctx.body = await im().conversations.createGroup(ctx.imSession.userId, ctx.request.body);
  });
  router.post('imAddMembers', `${prefix}/groups/:groupId/members`, requireSession, async ctx => {
    ctx.body = await im().conversations.addMembers(ctx.imSession.userId, ctx.params.groupId, ctx.request.body);
  });
  router.delete('imRemoveMember', `${prefix}/groups/:groupId/members/:userId`, requireSession, async ctx => {
    await im().conversations.removeMember(ctx.imSession.userId, ctx.params.groupId, ctx.params.userId);
    ctx.status = 204;
  });
  router.get('imConversations', `${prefix}/conversations`, requireSession, async ctx => {
    ctx.body = { conversations: await im().conversations.list(ctx.imSession.userId) };
  });
  router.get('imHistory', `${prefix}/conversations/:conversationId/messages`, requireSession, async ctx => {
    ctx.body = await im().conversations.history(ctx.imSession.userId, ctx.params.conversationId, ctx.query);
  });
  router.post('imSend', `${prefix}/messages`, requireSession, async ctx => {
    ctx.status = 201;
    ctx.body = { ok: true, message: await im().pipeline.send(ctx.imSession.userId, ctx.request.body) };
  });
  router.post('imSendBatch', `${prefix}/messages/batch`, requireSession, async ctx => {
    ctx.body = { results: await im().pipeline.sendBatch(ctx.imSession.userId, (ctx.request.body as { messages?: unknown })?.messages) };
  });
  router.get('imMessageStatus', `${prefix}/messages/:messageId/status`, requireSession, async ctx => {
    ctx.body = await im().conversations.status(ctx.imSession.userId, ctx.params.messageId);
  });
}
