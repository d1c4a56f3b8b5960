import type { Application } from 'egg';
import { PAGE_PATHS } from '../lib/ChatPage';

/** The chat's web page at `/` (built when the app boots: app.ts, lib/ChatPage.ts). */
export default (app: Application) => {
  for (const urlPath of PAGE_PATHS) {
    app.router.get(urlPath, ctx => {
      const file = app.chatPage.get(urlPath);
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('ETag', file.etag);
      if (ctx.get('If-None-Match') === file.etag) {
        ctx.status = 304;
        return;
      }
      ctx.type = file.type;
      ctx.body = file.body;
    });
  }
};
