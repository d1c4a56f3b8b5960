import type { Application, IBoot } from 'egg';
import { ChatPage } from './lib/ChatPage';

const STICKER_ID = /^[a-z0-9_-]{1,40}$/;

export default class ChatBoot implements IBoot {
  constructor(private readonly app: Application) {}

  async didLoad() {
    // The web page (app/router.ts serves it); one that does not build stops the start.
    this.app.chatPage = await ChatPage.build();

    // A custom type registered in code, with a plain validation function instead of a class.
    this.app.im.messageTypes.register('sticker', {
      description: 'a sticker from a pack: { packId, stickerId }',
      validate: content => {
        const problems: string[] = [];
        for (const field of [ 'packId', 'stickerId' ]) {
          const value = content[field];
          if (typeof value !== 'string' || !STICKER_ID.test(value)) problems.push(`content.${field} must match ${STICKER_ID}`);
        }
        return problems;
      },
    });
  }
}
