import type { Application } from 'egg';
import { MessageTypeRegistry } from './types/MessageTypeRegistry';
import { MessagePipeline } from './pipeline/MessagePipeline';
import { Delivery } from './delivery/Delivery';
import { Outbox } from './delivery/Outbox';
import { Conversations } from './Conversations';
import { HotHistory } from './history/HotHistory';

/** `app.im`: the IM service. `messageTypes` is the extension point; the rest is the message path. */
export class Im {
  readonly messageTypes = new MessageTypeRegistry();
  readonly pipeline: MessagePipeline;
  readonly delivery: Delivery;
  readonly outbox: Outbox;
  readonly conversations: Conversations;
  readonly history: HotHistory;

  constructor(readonly app: Application) {
    this.pipeline = new MessagePipeline(app);
    this.delivery = new Delivery(app);
    this.outbox = new Outbox(app);
    this.conversations = new Conversations(app);
    this.history = new HotHistory(app);
  }
}
