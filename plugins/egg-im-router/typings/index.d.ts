import 'egg';
import 'egg-im-connection';
import 'egg-im-store';
import 'egg-im-cache';
import 'egg-im-metrics';
import type { Im } from '../lib/Im';
import type { MessageTypeDefinition } from '../lib/types/MessageTypeRegistry';

export type { MessageTypeDefinition, ContentValidator } from '../lib/types/MessageTypeRegistry';
export type { ServerSend } from '../lib/Im';
export type {
  SendContext, SendOrigin, BeforeSendHook, BeforeSendResult, AfterSendHook, AfterSendInfo, StatusHook, StatusChange,
  GroupEvent, GroupEventHook, GroupChange, AuthorizeGroupChangeHook,
} from '../lib/hooks/Hooks';

declare module 'egg' {
  interface Application {
    /** The IM service: `app.im.messageTypes.register(name, definition)`, the pipeline, delivery. */
    im: Im;
  }
  interface EggAppConfig {
    /** egg-im-router's config: the message path (see config/config.default.ts and docs/configuration.md). */
    im: ImConfig;
  }
  interface ImConfig {
    /** Custom message types by name, loaded into `app.im.messageTypes` at start. */
    messageTypes: Record<string, MessageTypeDefinition>;
    limits: {
      payloadBytes: number;
      maxDepth: number;
      maxValues: number;
      sendsPerUser: { points: number; durationMs: number };
      groupChangesPerUser: { points: number; durationMs: number };
      batchMax: number;
      historyMaxLimit: number;
      syncMaxLimit: number;
      conversationsMaxLimit: number;
      /** Bytes of message JSON in one page of history, sync or the conversation list; a page past it ends early (at least one message). */
      responseBytes: number;
      groupMaxMembers: number;
    };
    delivery: {
      ackTimeoutMs: number;
      backoffFactor: number;
      maxBackoffMs: number;
      maxAttempts: number;
      reorderWaitMs: number;
      /** 0: the ack of a one-to-one send never waits for the delivered cursor. */
      deliveredInAckMs: number;
      replayLimit: number;
      /** A socket leaving a push unacknowledged longer than this is closed (the client reconnects). */
      unansweredMaxMs: number;
      /** 0 turns the sweeper off. */
      outboxSweepMs: number;
      outboxGraceMs: number;
      /** Test-only: false skips routing after the commit, as if the node died there (the outbox sweeper routes it). */
      routeAfterCommit: boolean;
    };
    history: {
      windowSize: number;
      idleTtlMs: number;
      writeLingerMs: number;
    };
    cache: {
      membersTtlMs: number;
    };
    hooks: {
      timeoutMs: number;
      onError: 'refuse' | 'continue';
    };
    overload: {
      /** Unanswered sends on this node before new ones are refused with RATE_LIMITED; 0: no limit. */
      maxInFlight: number;
      retryAfterMs: number;
    };
  }
}
