import { ImError, isImError, type JsonObject, type Message, type RecipientStatus, type SendTarget } from 'egg-im-protocol';
import type { ImConfig, Logger } from '../ports';

/** Where a send came from: a client's socket or HTTP request, or the host app's own code (`app.im.send`). */
export type SendOrigin = 'socket' | 'http' | 'server';

/** What `beforeSend` sees: a send that passed validation and authorization; nothing of it is stored yet. */
export interface SendContext {
  origin: SendOrigin;
  senderId: string;
  to: SendTarget;
  conversationId: string;
  /** The members who receive it, the sender excluded. */
  recipients: string[];
  type: string;
  content: JsonObject;
  meta: JsonObject;
}

/** A `beforeSend` may return new `content` and/or `meta` (validated again against the type), or nothing. */
export type BeforeSendResult = { content?: JsonObject; meta?: JsonObject } | void;
export type BeforeSendHook = (context: SendContext) => BeforeSendResult | Promise<BeforeSendResult>;

export interface AfterSendInfo {
  origin: SendOrigin;
  recipients: string[];
  /** The recipients with no connected device on any node: the ones a push notification is for. */
  offline: string[];
}
/** `message` is read-only: it was encoded once, when it was routed, and that encoding is what every device gets. */
export type AfterSendHook = (message: Readonly<Message>, info: AfterSendInfo) => void | Promise<void>;

/** A recipient's delivery status moved (statuses are cumulative: `read` of a seq covers the ones before it). */
export interface StatusChange {
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  userId: string;
  status: Exclude<RecipientStatus, 'pending'>;
}
export type StatusHook = (change: StatusChange) => void | Promise<void>;

export type GroupEvent =
  | { kind: 'created'; groupId: string; conversationId: string; actorId: string; memberIds: string[] }
  | { kind: 'membersAdded'; groupId: string; conversationId: string; actorId: string; userIds: string[] }
  | { kind: 'memberRemoved'; groupId: string; conversationId: string; actorId: string; userId: string };
export type GroupEventHook = (event: GroupEvent) => void | Promise<void>;

/** A group change about to be made: throw an `ImError` to refuse it (its code and message reach the client). */
export type GroupChange =
  | { kind: 'create'; actorId: string; name: string; memberIds: string[] }
  | { kind: 'addMembers'; actorId: string; groupId: string; userIds: string[] }
  | { kind: 'removeMember'; actorId: string; groupId: string; userId: string };
export type AuthorizeGroupChangeHook = (change: GroupChange) => void | Promise<void>;

/**
 * `app.im.hooks`: the host app's code on the message path, in process. Hooks that decide (`beforeSend`,
 * `authorizeGroupChange`) are awaited, bounded by `im.hooks.timeoutMs`; an `ImError` they throw refuses the
 * request with its code and message, and any other failure or a timeout follows `im.hooks.onError` (`refuse`:
 * the client gets INTERNAL; `continue`: as if the hook had said nothing). Hooks that react (`afterSend`, `status`,
 * `groupEvent`) run after the fact, never delaying or failing anything; their errors are logged. Each runs once
 * per event, on the node where it happened. With no hook registered, nothing is done on the message path.
 */
export class Hooks {
  private readonly before: BeforeSendHook[] = [];
  private readonly after: AfterSendHook[] = [];
  private readonly statuses: StatusHook[] = [];
  private readonly groupEvents: GroupEventHook[] = [];
  private readonly groupChecks: AuthorizeGroupChangeHook[] = [];
  private config: ImConfig['hooks'] = { timeoutMs: 1000, onError: 'refuse' };
  private logger?: Logger;

  beforeSend(hook: BeforeSendHook): void {
    this.before.push(checked(hook, 'beforeSend'));
  }

  afterSend(hook: AfterSendHook): void {
    this.after.push(checked(hook, 'afterSend'));
  }

  status(hook: StatusHook): void {
    this.statuses.push(checked(hook, 'status'));
  }

  groupEvent(hook: GroupEventHook): void {
    this.groupEvents.push(checked(hook, 'groupEvent'));
  }

  authorizeGroupChange(hook: AuthorizeGroupChangeHook): void {
    this.groupChecks.push(checked(hook, 'authorizeGroupChange'));
  }

  /** At start: the policy for failing hooks and where their errors are logged. */
  configure(config: ImConfig['hooks'], logger: Logger): void {
    this.config = config;
    this.logger = logger;
  }

  get hasBeforeSend(): boolean {
    return this.before.length > 0;
  }

  get hasAfterSend(): boolean {
    return this.after.length > 0;
  }

  /** Runs the `beforeSend` hooks in order, each seeing the changes of the ones before; the final content and meta. */
  async runBeforeSend(context: SendContext): Promise<{ content: JsonObject; meta: JsonObject }> {
    let { content, meta } = context;
    for (const hook of this.before) {
      const about = `the send of user ${context.senderId} to ${context.conversationId}`;
      const result = await this.decide('beforeSend', about, () => hook({ ...context, content, meta }));
      if (result && typeof result === 'object') {
        if (result.content !== undefined) content = result.content;
        if (result.meta !== undefined) meta = result.meta;
      }
    }
    return { content, meta };
  }

  async runAuthorizeGroupChange(change: GroupChange): Promise<void> {
    for (const hook of this.groupChecks) await this.decide('authorizeGroupChange', `${change.kind} by user ${change.actorId}`, () => hook(change));
  }

  emitAfterSend(message: Message, info: AfterSendInfo): void {
    for (const hook of this.after) this.react('afterSend', `message ${message.id}`, () => hook(message, info));
  }

  emitStatus(change: StatusChange): void {
    for (const hook of this.statuses) this.react('status', `message ${change.messageId} user ${change.userId}`, () => hook(change));
  }

  emitGroupEvent(event: GroupEvent): void {
    for (const hook of this.groupEvents) this.react('groupEvent', `${event.kind} of group ${event.groupId}`, () => hook(event));
  }

  /**
   * Runs a deciding hook: a hook that answers at once (no promise) costs no timer; one that returns a promise
   * is raced against `timeoutMs`. A refusal (an ImError) passes through; any other failure follows `onError`.
   */
  private async decide<T>(name: string, about: string, run: () => T | Promise<T>): Promise<T | undefined> {
    let result: T | Promise<T>;
    try {
      result = run();
    } catch (err) {
      return this.failed(name, about, err);
    }
    if (!isPromiseLike(result)) return result;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${this.config.timeoutMs} ms`)), this.config.timeoutMs);
      });
      return await Promise.race([ result, timeout ]);
    } catch (err) {
      return this.failed(name, about, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(name: string, about: string, err: unknown): undefined {
    if (isImError(err)) throw err;
    this.logger?.error(new Error(`[egg-im-router] the ${name} hook failed for ${about} (im.hooks.onError: ${this.config.onError})`, { cause: err }));
    if (this.config.onError === 'continue') return undefined;
    throw new ImError('INTERNAL', `the ${name} check failed`);
  }

  private react(name: string, about: string, run: () => void | Promise<void>): void {
    Promise.resolve().then(run).catch(err => this.logger?.error(new Error(`[egg-im-router] the ${name} hook failed for ${about}`, { cause: err })));
  }
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function checked<T>(hook: T, name: string): T {
  if (typeof hook !== 'function') throw new TypeError(`[egg-im-router] app.im.hooks.${name}(hook) takes a function, got ${typeof hook}`);
  return hook;
}
