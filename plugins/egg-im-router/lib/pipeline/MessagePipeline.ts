import type { Application } from 'egg';
import { ImError, errorReply, isImError, type FailedReply, type Message } from 'egg-im-protocol';
import { toMessage } from 'egg-im-store';
import { validateSend, type SendCommand } from './validateSend';
import { Authorizer, type Target } from './Authorizer';
import { SendAdmission } from './SendAdmission';
import { SenderLimit, type Limiter } from './SenderLimit';

export interface SendOrigin {
  /** The socket the message came from: it gets the ack, not a `message:new` copy. */
  socketId?: string;
}

type Prepared = { command: SendCommand; target: Target } | { error: FailedReply };

/**
 * validate → authorize → dedupe → sequence → persist → route. Dedupe, sequence and persist happen in one
 * transaction per write batch (egg-im-store's MessageWriter); the ack is sent only after the commit.
 */
export class MessagePipeline {
  readonly authorizer: Authorizer;
  readonly admission: SendAdmission;
  private senderLimit?: SenderLimit;

  constructor(private readonly app: Application) {
    this.authorizer = new Authorizer(app);
    this.admission = new SendAdmission(() => app.config.im.overload, app.coreLogger);
  }

  /** At start, once the cache is ready: the per-user send limit counts with its limiter. */
  limitSenders(limiter: Limiter): void {
    this.senderLimit = new SenderLimit(limiter, this.app.coreLogger);
  }

  async send(senderId: string, body: unknown, origin: SendOrigin = {}): Promise<Message> {
    this.admission.admit();
    try {
      await this.senderLimit?.take(senderId);
      const { command, target } = await this.prepare(senderId, body);
      return await this.commit(command, target, origin);
    } finally {
      this.admission.release();
    }
  }

  /** Up to `limits.batchMax` sends, answered in order; valid ones are written together, in order. */
  async sendBatch(senderId: string, bodies: unknown): Promise<Array<{ ok: true; message: Message } | FailedReply>> {
    const { batchMax } = this.app.config.im.limits;
    if (!Array.isArray(bodies) || bodies.length === 0 || bodies.length > batchMax) {
      throw new ImError('VALIDATION_FAILED', `messages must be an array of 1 to ${batchMax} messages`, { field: 'messages' });
    }
    // The batch is admitted or refused as a whole (it is one request).
    this.admission.admit(bodies.length);
    try {
      await this.senderLimit?.take(senderId, bodies.length);
      const prepared: Prepared[] = await Promise.all(bodies.map(body => this.prepare(senderId, body).catch(err => ({ error: this.reply(err) }))));
      // Submitted in one synchronous pass, so the writer sequences them in request order.
      const commits = prepared.map(p => ('error' in p ? Promise.resolve(p.error) : this.commit(p.command, p.target, {})
        .then(message => ({ ok: true as const, message }), err => this.reply(err))));
      return await Promise.all(commits);
    } finally {
      this.admission.release(bodies.length);
    }
  }

  private async prepare(senderId: string, body: unknown): Promise<{ command: SendCommand; target: Target }> {
    const command = validateSend(senderId, body, this.app.config.im.limits);
    await this.app.im.messageTypes.check(command.type, command.content);
    const target = await this.authorizer.target(command);
    return { command, target };
  }

  private async commit(command: SendCommand, target: Target, origin: SendOrigin): Promise<Message> {
    const { message, created } = await this.app.imStore.writer.append({
      conversationId: target.conversationId,
      kind: target.kind,
      groupId: target.groupId,
      directMemberIds: target.kind === 'direct' ? target.memberIds : undefined,
      senderId: command.senderId,
      clientMsgId: command.clientMsgId,
      type: command.type,
      contentJson: command.contentJson,
      metaJson: command.metaJson,
    });
    if (!created) return toMessage(message);
    // Delivered as sent: the objects that were validated, not a re-parse of the stored text.
    const wire: Message = {
      id: message.id, conversationId: message.conversationId, seq: message.seq, senderId: message.senderId, type: message.type,
      content: command.content, meta: command.meta, clientMsgId: message.clientMsgId, createdAt: message.createdAt.toISOString(),
    };
    // Test-only switch (im.delivery.routeAfterCommit: false): leave routing to the outbox sweeper, as if this
    // node had died between its commit and its routing.
    if (this.app.config.im.delivery.routeAfterCommit === false) return wire;
    try {
      this.app.im.outbox.routed(wire, this.app.im.delivery.route(wire, target.memberIds, origin.socketId));
    } catch (err) {
      // The message is committed, so the sender is answered with it; its outbox entry stays for the sweeper.
      this.app.coreLogger.error(new Error(`[egg-im-router] routing message ${wire.id} failed; the outbox sweeper will route it`, { cause: err }));
    }
    return wire;
  }

  private reply(err: unknown): FailedReply {
    if (!isImError(err)) this.app.coreLogger.error(new Error('[egg-im-router] send failed', { cause: err }));
    return errorReply(err);
  }
}
