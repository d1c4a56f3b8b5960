import 'egg';
import type { ChatPage } from '../lib/ChatPage';

declare module 'egg' {
  interface Application {
    /** The web page, built at boot (app.ts). */
    chatPage: ChatPage;
  }
}
