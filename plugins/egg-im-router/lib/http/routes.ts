import type { Context, Router } from 'egg';
import type { Conversations } from '../Conversations';
import type { MessagePipeline } from '../pipeline/MessagePipeline';
import type { Limiter } from '../pipeline/SenderLimit';
import type { ImConfig, Logger, Sessions } from '../ports';
import { groupChangeLimit } from './groupChangeLimit';
import { batchBodyBytes, jsonBody } from './jsonBody';

/**
 * The messaging routes of the HTTP API, under the connection plugin's prefix, every one behind a session; `stop()`
 * at close writes what their refusals' log digest still counts.
 */
export function messagingRoutes(router: Router, sessions: Sessions, pipeline: MessagePipeline, conversations: Conversations,
  groupChanges: Limiter, logger: Logger, limits: ImConfig['limits']): { stop(): void } {
  const { prefix, requireSession } = sessions;
  const batchLimit = batchBodyBytes(limits);
  const { middleware: limitGroupChanges, stop } = groupChangeLimit(groupChanges, logger);

  router.post('imCreateGroup', `${prefix}/groups`, requireSession, limitGroupChanges, async ctx => {
    ctx.status = 201;
    ctx.body = await conversations.createGroup(ctx.imSession.userId, ctx.request.body);
  });
  router.post('imAddMembers', `${prefix}/groups/:groupId/members`, requireSession, limitGroupChanges, async ctx => {
    ctx.body = await conversations.addMembers(ctx.imSession.userId, ctx.params.groupId, ctx.request.body);
  });
  // Leaving a group is never limited: a user added to groups faster than the limit can always leave them.
  const limitUnlessLeaving = (ctx: Context, next: () => Promise<void>) => (ctx.params.userId === ctx.imSession.userId ? next() : limitGroupChanges(ctx, next));
  router.delete('imRemoveMember', `${prefix}/groups/:groupId/members/:userId`, requireSession, limitUnlessLeaving, async ctx => {
    await conversations.removeMember(ctx.imSession.userId, ctx.params.groupId, ctx.params.userId);
    ctx.status = 204;
  });
  router.get('imConversations', `${prefix}/conversations`, requireSession, async ctx => {
    ctx.body = await conversations.list(ctx.imSession.userId, ctx.query);
  });
  router.get('imHistory', `${prefix}/conversations/:conversationId/messages`, requireSession, async ctx => {
    const { messages, hasMore } = await conversations.historyJson(ctx.imSession.userId, ctx.params.conversationId, ctx.query);
    // { messages, hasMore } from the messages' stored JSON text: a page from the window is not decoded and encoded again.
    ctx.type = 'json';
    ctx.body = `{"messages":[${messages.join(',')}],"hasMore":${hasMore}}`;
  });
  router.post('imSend', `${prefix}/messages`, requireSession, async ctx => {
    ctx.status = 201;
    ctx.body = { ok: true, message: (await pipeline.send(ctx.imSession.userId, ctx.request.body, { origin: 'http' })).message };
  });
  router.post('imSendBatch', `${prefix}/messages/batch`, requireSession, async ctx => {
    const body = await jsonBody(ctx, batchLimit);
    ctx.body = { results: await pipeline.sendBatch(ctx.imSession.userId, (body as { messages?: unknown } | null)?.messages) };
  });
  router.get('imMessageStatus', `${prefix}/messages/:messageId/status`, requireSession, async ctx => {
    ctx.body = await conversations.status(ctx.imSession.userId, ctx.params.messageId);
  });
  return { stop };
}
