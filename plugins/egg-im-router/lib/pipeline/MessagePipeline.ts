import { performance } from 'node:perf_hooks';
import { ImError, errorReply, isImError, type CursorEvent, type FailedReply, type Message } from 'egg-im-protocol';
import { toMessage } from 'egg-im-store';
import type { Delivery } from '../delivery/Delivery';
import type { ImConfig, Logger, Observer, Store } from '../ports';
import type { MessageTypeRegistry } from '../types/MessageTypeRegistry';
import type { Hooks, SendOrigin } from '../hooks/Hooks';
import { validateSend, withPayload, type SendCommand } from './validateSend';
import type { Authorizer, Target } from './Authorizer';
import { SendAdmission } from './SendAdmission';
import type { SenderLimit } from './SenderLimit';

export interface SendSource {
  origin: SendOrigin;
  /** The socket the message came from: it gets the ack, not a `message:new` copy. */
  socketId?: string;
  /** The socket asked for cursors: the ack may carry the recipient's delivered cursor (`Delivery.deliveredCursor`). */
  cursors?: boolean;
}

export interface Sent {
  message: Message;
  /** The recipient's delivered cursor, when the ack is to wait for it (a one-to-one send from a socket with cursors). */
  delivered?: Promise<CursorEvent | undefined>;
}

type Ready = { command: SendCommand; target: Target };
type Prepared = Ready | { error: FailedReply };

export interface PipelineDeps {
  config: ImConfig;
  messageTypes: MessageTypeRegistry;
  authorizer: Authorizer;
  senderLimit: SenderLimit;
  writer: Store['writer'];
  delivery: Delivery;
  hooks: Hooks;
  /** True when the user has a connected device on any node (for `afterSend`'s offline recipients). */
  isOnline(userId: string): Promise<boolean>;
  observer: Observer;
  logger: Logger;
}

/**
 * admit (the node's in-flight bound, the sender's rate) → validate (envelope, then content by its type) →
 * authorize → dedupe → sequence → persist → route. Dedupe, sequence and persist happen in one transaction per
 * write batch (egg-im-store's MessageWriter); the ack is sent only after the commit.
 */
export class MessagePipeline {
  readonly admission: SendAdmission;
  private readonly config: ImConfig;

  constructor(private readonly deps: PipelineDeps) {
    this.config = deps.config;
    this.admission = new SendAdmission(() => this.config.overload, deps.logger);
  }

  /** One send; the host app's own (`origin: 'server'`) is not counted against the sender's rate. */
  async send(senderId: string, body: unknown, source: SendSource): Promise<Sent> {
    const arrivedAt = performance.now();
    try {
      this.admission.admit();
    } catch (err) {
      throw this.refused(err);
    }
    try {
      if (source.origin !== 'server') this.deps.senderLimit.take(senderId);
      const prepared = this.prepare(senderId, body, source.origin);
      const { command, target } = prepared instanceof Promise ? await prepared : prepared;
      return await this.commit(command, target, source, arrivedAt);
    } catch (err) {
      throw this.refused(err);
    } finally {
      this.admission.release();
    }
  }

  /** Up to `limits.batchMax` sends, answered in order; valid ones are written together, in order. */
  async sendBatch(senderId: string, bodies: unknown): Promise<Array<{ ok: true; message: Message } | FailedReply>> {
    const arrivedAt = performance.now();
    const { batchMax } = this.config.limits;
    if (!Array.isArray(bodies) || bodies.length === 0 || bodies.length > batchMax) {
      throw this.refused(new ImError('VALIDATION_FAILED', `messages must be an array of 1 to ${batchMax} messages`, { field: 'messages' }));
    }
    // The batch is admitted or refused as a whole (it is one request).
    let admitted = false;
    try {
      this.admission.admit(bodies.length);
      admitted = true;
      this.deps.senderLimit.take(senderId, bodies.length);
    } catch (err) {
      if (admitted) this.admission.release(bodies.length);
      throw this.refused(err, bodies.length);
    }
    try {
      const prepared: Prepared[] = await Promise.all(bodies.map(async body => {
        try {
          return await this.prepare(senderId, body, 'http');
        } catch (err) {
          return { error: this.reply(err) };
        }
      }));
      // Submitted in one synchronous pass, so the writer sequences them in request order.
      const commits = prepared.map(p => ('error' in p ? Promise.resolve(p.error) : this.commit(p.command, p.target, { origin: 'http' }, arrivedAt)
        .then(({ message }) => ({ ok: true as const, message }), err => this.reply(err))));
      return await Promise.all(commits);
    } finally {
      this.admission.release(bodies.length);
    }
  }

  /**
   * validate → check the content by its type → authorize (→ the host's `beforeSend`). Done at once, with no
   * promise, when every step can be (a synchronous type check, a recipient known to exist, no `beforeSend`):
   * that is most sends, and the send path is hot.
   */
  private prepare(senderId: string, body: unknown, origin: SendOrigin): Ready | Promise<Ready> {
    const command = validateSend(senderId, body, this.config.limits);
    const checking = this.deps.messageTypes.checkNow(command.type, command.content);
    const known = this.deps.authorizer.knownTarget(command);
    return known && !checking && !this.deps.hooks.hasBeforeSend ? { command, target: known } : this.prepareLater(command, checking, known, origin);
  }

  private async prepareLater(command: SendCommand, checking: Promise<void> | void, known: Target | undefined, origin: SendOrigin): Promise<Ready> {
    await checking;
    const target = known ?? await this.deps.authorizer.target(command);
    if (this.deps.hooks.hasBeforeSend) {
      const { content, meta } = await this.deps.hooks.runBeforeSend({
        origin, senderId: command.senderId, to: command.to, conversationId: target.conversationId, recipients: recipientsOf(target, command.senderId),
        type: command.type, content: command.content, meta: command.meta,
      });
      if (content !== command.content || meta !== command.meta) {
        command = withPayload(command, content, meta, this.config.limits);
        await this.deps.messageTypes.check(command.type, command.content);
      }
    }
    return { command, target };
  }

  private async commit(command: SendCommand, target: Target, source: SendSource, arrivedAt: number): Promise<Sent> {
    const { message, created } = await this.deps.writer.append({
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
    if (!created) {
      this.deps.observer.answered('deduplicated', (performance.now() - arrivedAt) / 1000);
      const stored = toMessage(message);
      // A resend may come because the first ack, and the cursor it carried, never reached the client.
      if (this.waitsForCursor(target, source)) return { message: stored, delivered: this.deps.delivery.recordedCursor(stored, target.memberIds) };
      return { message: stored };
    }
    // Delivered as sent: the objects that were validated, not a re-parse of the stored text.
    const wire = toMessage(message, command);
    // Test-only switch (im.delivery.routeAfterCommit: false): leave routing to the outbox sweeper, as if this
    // node had died between its commit and its routing.
    let delivered: Sent['delivered'];
    if (this.config.delivery.routeAfterCommit !== false) {
      try {
        this.deps.delivery.route(wire, target.memberIds, source.socketId);
        if (this.waitsForCursor(target, source)) delivered = this.deps.delivery.deliveredCursor(wire, target.memberIds, source.socketId!);
      } catch (err) {
        // The message is committed, so the sender is answered with it; its outbox entry stays for the sweeper.
        this.deps.logger.error(new Error(`[egg-im-router] routing message ${wire.id} failed; the outbox sweeper will route it`, { cause: err }));
      }
    }
    if (this.deps.hooks.hasAfterSend) void this.afterSend(wire, recipientsOf(target, command.senderId), source.origin);
    this.deps.observer.answered('accepted', (performance.now() - arrivedAt) / 1000);
    return { message: wire, delivered };
  }

  /** The ack of a one-to-one send from a socket that asked for cursors carries the recipient's delivered cursor. */
  private waitsForCursor(target: Target, source: SendSource): boolean {
    return target.kind === 'direct' && source.cursors === true && source.socketId !== undefined;
  }

  /** After the commit, never delaying the ack: the host app learns of the message and of who is offline. */
  private async afterSend(message: Message, recipients: string[], origin: SendOrigin): Promise<void> {
    try {
      const online = await Promise.all(recipients.map(userId => this.deps.isOnline(userId)));
      this.deps.hooks.emitAfterSend(message, { origin, recipients, offline: recipients.filter((_, i) => !online[i]) });
    } catch (err) {
      this.deps.logger.error(new Error(`[egg-im-router] afterSend of message ${message.id} skipped: presence could not be read`, { cause: err }));
    }
  }

  private reply(err: unknown): FailedReply {
    if (!isImError(err)) this.deps.logger.error(new Error('[egg-im-router] send failed', { cause: err }));
    const reply = errorReply(err);
    this.deps.observer.refused(reply.error.code);
    return reply;
  }

  /** Counts `count` refused sends under the error's code (INTERNAL for an unexpected error) and gives the error back. */
  private refused(err: unknown, count = 1): unknown {
    this.deps.observer.refused(isImError(err) ? err.code : 'INTERNAL', count);
    return err;
  }
}

function recipientsOf(target: Target, senderId: string): string[] {
  return target.memberIds.filter(id => id !== senderId);
}
