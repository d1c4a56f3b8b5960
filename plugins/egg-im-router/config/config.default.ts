import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};

  /** egg-im-router's part of `config.im`. Every option is documented in docs/configuration.md. */
  config.im = {
    /** Custom message types: `{ [name]: { schema?: Class, validate?: fn } }`, loaded into `app.im.messageTypes`. */
    messageTypes: {},
    limits: {
      /** `content` + `meta` of one message, in bytes of JSON; more is PAYLOAD_TOO_LARGE. */
      payloadBytes: 64 * 1024,
      /** Deepest nesting of objects and arrays in `content` or `meta`; deeper is VALIDATION_FAILED. */
      maxDepth: 100,
      /**
       * Most JSON values (objects, arrays, strings, numbers, booleans, nulls) in `content` and `meta` together;
       * more is PAYLOAD_TOO_LARGE. Bounds the work of validating one message, whatever its type's schema.
       */
      maxValues: 1000,
      /**
       * Messages one user may send per window, across all of its sockets on every node and HTTP (a batch counts
       * each message); more is RATE_LIMITED with `details.scope: "user"`. Counted in Redis (memory without it).
       * `durationMs` is a whole number of seconds.
       */
      sendsPerUser: { points: 300, durationMs: 10_000 },
      /**
       * Group changes one user may make per window over the HTTP API (a group made, members added, another member
       * removed: one each; leaving is not counted); more is RATE_LIMITED with `details.scope: "groups"`. Host code is not limited.
       */
      groupChangesPerUser: { points: 60, durationMs: 60_000 },
      /** Messages in one POST /im/messages/batch. */
      batchMax: 100,
      /** `limit` of a history page (more is VALIDATION_FAILED). */
      historyMaxLimit: 100,
      /** `limit` of a page of the conversation list (more is clamped to this). */
      conversationsMaxLimit: 500,
      /** `limit` of a sync (more is clamped to this). */
      syncMaxLimit: 500,
      /**
       * Bytes of message JSON in one history page, sync or page of the conversation list (their last messages):
       * a page ends before the message that would take it past this, with `hasMore` (at least one message is
       * always there). Without it, 500 messages of 64 KB made one answer of 32 MB.
       */
      responseBytes: 1024 * 1024,
      groupMaxMembers: 5000,
    },
    delivery: {
      /** How long a push waits for its ack before it is retried; multiplied by `backoffFactor` per attempt. */
      ackTimeoutMs: 5000,
      backoffFactor: 2,
      maxBackoffMs: 60000,
      /** Pushes while a device is connected before the recipient is marked `failed`. */
      maxAttempts: 5,
      /** How long a message that arrives ahead of its predecessor waits for it before being pushed anyway. */
      reorderWaitMs: 250,
      /**
       * How long the ack of a one-to-one `message:send` from a device that asked for cursors waits for the
       * recipient's device on this node to acknowledge the push: the delivered cursor then rides in the ack
       * (`cursors`) instead of a `message:cursors` frame of its own. 0 sends the ack at once, without it.
       */
      deliveredInAckMs: 30,
      /** Messages pushed on connect (the rest come through `sync`). */
      replayLimit: 500,
      /**
       * A socket that leaves a push unacknowledged for longer than this is closed as a dropped connection (the
       * client reconnects and is pushed its backlog again): the worker holds each unanswered push until then.
       * Longer than engine.io's own limit for an unanswered ping (imConnection.socket pingIntervalMs +
       * pingTimeoutMs, 45 s), so a device whose link is merely slow is dropped by that first, as before.
       */
      unansweredMaxMs: 60000,
      /** How often the outbox is swept for messages a node accepted but did not route (it died); 0 turns the sweeper off. */
      outboxSweepMs: 2000,
      /** Age of an outbox entry before a sweeper routes it (routing normally removes it within milliseconds). */
      outboxGraceMs: 5000,
      /**
       * Test-only: false makes this node skip routing after the commit, exactly as if it died between the two;
       * the outbox sweeper (of any node) then routes the message. Never turn it off in production.
       */
      routeAfterCommit: true,
    },
    history: {
      /** Newest messages per conversation kept in the cache window (0 turns the window off). */
      windowSize: 50,
      /** A conversation's window expires this long after its last message. */
      idleTtlMs: 6 * 3600 * 1000,
      /**
       * Committed messages are written to their windows together, at most this long after their commit: one
       * Redis command for all of them and for what pages read from the database meanwhile. A read meanwhile takes
       * the newest seqs from the database (pages are exact).
       */
      writeLingerMs: 20,
    },
    cache: {
      membersTtlMs: 10 * 60 * 1000,
    },
    hooks: {
      /** Longest a deciding hook (`beforeSend`, `authorizeGroupChange`) may take; past it, `onError` applies. */
      timeoutMs: 1000,
      /**
       * A deciding hook that throws something other than an ImError, or times out: `refuse` answers INTERNAL and
       * stores nothing; `continue` goes on as if the hook had said nothing. Either way it is logged.
       */
      onError: 'refuse',
    },
    overload: {
      /**
       * Sends accepted by this node and not yet answered; past it a send is refused at once with RATE_LIMITED
       * (`details.scope: "server"`, retryable) instead of waiting behind the backlog. 0: no limit.
       */
      maxInFlight: 2000,
      /** A refused sender is told to retry after this, plus up to half of it again (random). */
      retryAfterMs: 1000,
    },
  };

  return config;
};
