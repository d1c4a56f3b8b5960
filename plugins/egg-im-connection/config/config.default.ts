import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};

  /** egg-im-connection: sockets, sessions, presence. Every option is documented in the README and docs/configuration.md. */
  config.imConnection = {
    /** The HTTP routes of egg-im (auth, presence, and egg-im-router's) are under this prefix: `/im/auth/login`, ... */
    http: { prefix: '/im' },
    socket: {
      path: '/socket.io',
      /** 'websocket' alone is fastest; 'polling' helps clients behind proxies (needs --sticky in cluster mode). */
      transports: [ 'websocket', 'polling' ],
      /** Largest frame a client may send, in bytes; a larger frame closes the socket (the transport's limit). */
      maxHttpBufferSize: 1024 * 1024,
      pingIntervalMs: 25000,
      pingTimeoutMs: 20000,
      /** A connection that has not finished the handshake by then is closed. */
      connectTimeoutMs: 10000,
      /** Origins allowed to open a socket (checked in allowRequest, since CORS does not stop other clients); [] = any. */
      allowedOrigins: [],
      /**
       * Sockets of one user at once, across every node: the newest one over it is refused at the handshake
       * (RATE_LIMITED, scope "sockets"). Tabs and devices of one person stay far below it; one stolen token can
       * no longer open hundreds.
       */
      maxPerUser: 20,
    },
    /** Per-connection event rate: `burst` events at once, refilled at `perSecond`; excess gets RATE_LIMITED. */
    rateLimit: { burst: 200, perSecond: 100 },
    /**
     * Per-user rate in each worker process: a user's HTTP requests behind `requireSession`, its socket handshakes
     * and its sockets' events (those their connection's own rate admits) together. Excess gets RATE_LIMITED with `details.scope: "requests"`,
     * so that a user's many sockets, or a loop of reads, cannot take a node's event loop from the other users.
     */
    userRateLimit: { burst: 300, perSecond: 100 },
    session: {
      /** Lifetime of a login session. */
      ttlMs: 7 * 24 * 3600 * 1000,
      /** How long a session stays cached by token hash (never past its expiry). */
      cacheTtlMs: 10 * 60 * 1000,
      /** Ended (expired or revoked) sessions are deleted this long after they ended. */
      retainEndedMs: 24 * 3600 * 1000,
      /** How often each node deletes ended sessions (0 turns it off). */
      sweepIntervalMs: 3600 * 1000,
      /**
       * Live sessions (logins) of one user: a login over it revokes the OLDEST session (its sockets are told
       * session:expired, as on logout), so a user is never locked out by devices they forgot to log out of.
       */
      maxPerUser: 20,
    },
    nodes: {
      /**
       * `app.imSockets.nodes.confirmation()` answers this long after it is asked: whether every publish made before
       * the call reached Redis (a publish in flight when a connection of the adapter drops is lost, and the drop
       * is noticed within this). egg-im-router removes an outbox entry only once it is confirmed: keep it below
       * `im.delivery.outboxGraceMs` (5000 by default), after which another node's sweeper routes the message again.
       */
      confirmAfterMs: 1000,
      /**
       * What this node publishes for the other nodes (deliveries, statuses) waits this long for more to leave in
       * the same packet: fewer Redis publishes, and fewer packets every node decodes, at the cost of up to this
       * much latency for recipients on other nodes. 0: each turn of the event loop publishes what it queued.
       * At most confirmAfterMs / 10.
       */
      lingerMs: 5,
    },
    presence: {
      /** A socket's presence entry lapses this long after its node's last heartbeat (heartbeats every ttl/3). */
      ttlMs: 30000,
      lastSeenTtlMs: 30 * 24 * 3600 * 1000,
      /**
       * Who may read a user's presence (GET users/:userId/presence): 'contacts' (users who share a conversation,
       * direct or group, in which they sent or read a message; and themselves) or 'everyone'. Anyone else gets NOT_FOUND, the same answer
       * as for a user that does not exist, so presence tells strangers neither existence nor activity.
       */
      visibleTo: 'contacts',
    },
    directory: {
      /**
       * GET /im/users: a signed-in user finds others by username prefix or by id ({ userId, username }, at most 50
       * per request). Turn off when the host application lists its users itself; the route is then NOT_FOUND.
       */
      enabled: true,
    },
    auth: {
      /** POST /im/auth/register; turn off when users come from the host application. */
      registration: true,
      minPasswordLength: 8,
      /** scrypt cost for stored passwords (N=16384, r=8, p=1: ~40 ms and 16 MB per hash on one core). */
      scrypt: { N: 16384, r: 8, p: 1 },
      /** The host app's own credential check: `async ({ username, password }, ctx) => ({ userId }) | null`. */
      verifyCredentials: undefined,
      /**
       * The host app's own token check: `async (token, { transport, headers }) => ({ userId, expiresAt? }) | null`.
       * Tokens that are not egg-im's own sessions (a JWT of the host, an egg-session id…) are accepted on the socket
       * handshake (`auth.token`) and as `Authorization: Bearer` when it resolves to a user; its users are mirrored
       * into egg-im's user table on first use. Also settable from boot code: `app.imSessions.verifyToken = fn`.
       */
      verifyToken: undefined,
      /**
       * The host app's batched existence check: `async (userIds) => the ids that exist`, asked by
       * `app.imSessions.ensureUsers` for ids egg-im's user table does not hold (a recipient egg-im has never seen);
       * the ids it confirms are mirrored at once. Also settable from boot code: `app.imSessions.userExists = fn`.
       */
      userExists: undefined,
      /**
       * `verifyToken`'s verdicts (refusals too) kept in each process by token hash: `ttlMs` at most and never past
       * the token's expiry (0: the host is asked on every request), `max` tokens at most (least recently used first
       * out). A token the host revokes is still accepted on a node that kept it, for `ttlMs` at most.
       */
      tokenCache: { ttlMs: 30000, max: 10000 },
      /**
       * Login throttling, checked before any password is hashed; over a limit: 429 RATE_LIMITED (scope "login").
       * - perAccount: attempts per username that did not succeed (a success clears them): 5 per 15 minutes
       *   stops guessing one account's password, and a user who forgot it waits at most 15 minutes.
       * - perIp: attempts per client address (IPv6: per /64), successful or not: 100 per minute stops one client
       *   from trying many accounts (or costing 100 scrypt hashes a second), and leaves room for a NAT or office.
       * - registrationsPerIp: registrations per client address (each hashes a password), counted apart from the
       *   logins (scope "register"); a host app that expects few sign-ups per address can lower it.
       * - unknownTokensPerIp: tokens no cache knew that named no session (each asked the database, or the host's
       *   verifyToken), per client address; an address over it is refused before the next lookup (scope "token").
       * durationMs and blockDurationMs are whole seconds in milliseconds; blockDurationMs > 0 refuses a key that
       * went over for that long instead of until its window ends.
       */
      throttle: {
        perAccount: { points: 5, durationMs: 15 * 60 * 1000, blockDurationMs: 0 },
        perIp: { points: 100, durationMs: 60 * 1000, blockDurationMs: 0 },
        registrationsPerIp: { points: 100, durationMs: 60 * 1000, blockDurationMs: 0 },
        unknownTokensPerIp: { points: 100, durationMs: 60 * 1000, blockDurationMs: 0 },
      },
    },
  };

  return config;
};
