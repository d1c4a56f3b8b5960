import 'egg';
import 'egg-im-store';
import 'egg-im-cache';
import 'egg-im-metrics';
import type { Context } from 'egg';
import type { ImSockets } from '../lib/ImSockets';
import type { Session, SessionService, UserExists } from '../lib/session/SessionService';
import type { TokenCacheConfig, VerifyToken } from '../lib/session/HostTokens';
import type { ScryptCost } from '../lib/auth/passwords';
import type { LoginThrottleConfig } from '../lib/auth/LoginThrottle';

export type { Session, UserExists, AuthRequest } from '../lib/session/SessionService';
export type { VerifyToken, TokenRequest, HostTokenResult, TokenCacheConfig } from '../lib/session/HostTokens';
export type { ImSockets, ServerEvent, ServerEventArgs } from '../lib/ImSockets';
export type { ImNodes } from '../lib/nodes/NodeBus';
export type { ImSocket, ImSocketData, EventHandler, ConnectionHook } from '../lib/socket/types';

declare module 'egg' {
  interface Application {
    /** Egg's HTTP server, set when Egg emits 'server' (egg 3 sets it but does not declare it). */
    server: import('node:http').Server | null;
    /** This node's sockets, their event routing, presence, and the bus to the other nodes (set at configDidLoad). */
    imSockets: ImSockets;
    /**
     * Login sessions: create, authenticate, revoke; the host's `verifyToken` and `userExists` (settable from boot
     * code), and `ensureUsers` (set at configDidLoad).
     */
    imSessions: SessionService;
  }
  interface Context {
    /** The session of an authenticated request (routes behind `requireSession`). */
    imSession: Session;
  }
  interface EggAppConfig {
    imConnection: {
      /** The HTTP routes of egg-im are under `prefix` (default `/im`); `app.imSessions.prefix` is the value in use. */
      http: { prefix: string };
      socket: {
        path: string;
        transports: Array<'websocket' | 'polling'>;
        maxHttpBufferSize: number;
        pingIntervalMs: number;
        pingTimeoutMs: number;
        connectTimeoutMs: number;
        allowedOrigins: string[];
        /** Sockets of one user at once, across every node; the newest over it is refused at the handshake. */
        maxPerUser: number;
      };
      rateLimit: { burst: number; perSecond: number };
      userRateLimit: { burst: number; perSecond: number };
      session: {
        ttlMs: number;
        cacheTtlMs: number;
        retainEndedMs: number;
        sweepIntervalMs: number;
        /** Live sessions of one user; a login over it revokes the oldest. */
        maxPerUser: number;
      };
      nodes: {
        /**
         * How long `imSockets.nodes.confirmation()` waits before it tells whether the publishes made before the
         * call reached Redis (the adapter's connections did not fail or reconnect meanwhile).
         */
        confirmAfterMs: number;
        /** How long a publish to the other nodes waits for more to leave in the same packet (0: the turn's end). */
        lingerMs: number;
      };
      presence: {
        ttlMs: number;
        lastSeenTtlMs: number;
        /** Who may read a user's presence: users sharing a conversation in which they sent or read a message (and themselves), or everyone. */
        visibleTo: 'contacts' | 'everyone';
      };
      /** The user directory, GET users under the prefix (off: NOT_FOUND, like any unknown path). */
      directory: { enabled: boolean };
      auth: {
        registration: boolean;
        minPasswordLength: number;
        scrypt: ScryptCost;
        verifyCredentials?: (input: { username: string; password: string }, ctx: Context) => Promise<{ userId: string } | null | undefined>;
        /** The host's own token check, for tokens that are not egg-im's sessions (also `app.imSessions.verifyToken = fn`). */
        verifyToken?: VerifyToken | null;
        /** The host's batched existence check, for `app.imSessions.ensureUsers` (also `app.imSessions.userExists = fn`). */
        userExists?: UserExists | null;
        /** How long and how many of `verifyToken`'s verdicts each process keeps. */
        tokenCache: TokenCacheConfig;
        /** Login throttling per account and per client address (see config.default.ts and the README). */
        throttle: LoginThrottleConfig;
      };
    };
  }
}
