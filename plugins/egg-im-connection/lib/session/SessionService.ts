import { createHash, randomBytes } from 'node:crypto';
import type { Application, Context } from 'egg';
import { ImError, isId, isImError, type LoginResult } from 'egg-im-protocol';
import { checkDeviceId } from '../auth/hostValues';
import { HostTokens, type TokenRequest, type VerifyToken } from './HostTokens';
import { tooManyRequests, type UserRate } from '../rate/UserRate';

/** A live session, as the handshake and the HTTP routes see it. */
export interface Session {
  /** egg-im's own session id, or `host:` and 32 hex digits of the SHA-256 of a host token (never the token). */
  sessionId: string;
  userId: string;
  deviceId: string;
  /** Epoch ms; `Infinity` for a host token whose verifier gave no `expiresAt`. */
  expiresAt: number;
}

/**
 * The host application's batched existence check (`imConnection.auth.userExists`, or
 * `app.imSessions.userExists = …`): resolves to the ids of `userIds` that are users of the host.
 */
export type UserExists = (userIds: string[]) => Promise<string[]>;

/** How a token arrived: its transport and headers (for the host's `verifyToken`), and the device id the client gave. */
export interface AuthRequest extends TokenRequest {
  /** A host token's device: the socket handshake's `auth.deviceId`, or the `X-Im-Device-Id` header. */
  deviceId?: unknown;
  /**
   * The client's address, as `ctx.ip` reads it: lookups of tokens no cache knows are counted per address (given
   * back for a live session), and an address over `imConnection.auth.throttle.unknownTokensPerIp` is refused before
   * a lookup. Without it (host code), nothing is counted.
   */
  ip?: string;
}

/** What counts unknown tokens per address (the login throttle): admits a lookup, and gives what returns its count. */
export interface TokenLookups {
  admitTokenLookup(ip: string): Promise<() => void>;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** The refusals of a looked-up token that count against its address (`imConnection.auth.throttle.unknownTokensPerIp`). */
const COUNTED = new Set([ 'UNAUTHORIZED', 'SESSION_EXPIRED', 'INTERNAL' ]);

/** How much longer than a cached session a revocation marker lives (see `revoke`). */
const REVOKED_MARGIN_MS = 60_000;
/** egg-im's own tokens: 32 random bytes in base64url. Anything else can only be the host's. */
const OWN_TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** Longest token taken (a JWT with many claims, an RS256 signature, fits). */
const MAX_TOKEN_LENGTH = 8192;
const HOST_SESSION_PREFIX = 'host:';
/** The device of a host token when the client names none. */
const HOST_DEVICE = 'host';
const hostSessionId = (tokenHash: string) => HOST_SESSION_PREFIX + tokenHash.slice(0, 32);

function checkHook(value: unknown, name: string): void {
  if (value !== undefined && value !== null && typeof value !== 'function') {
    throw new TypeError(`[egg-im-connection] app.imSessions.${name} must be a function or undefined, got ${typeof value}`);
  }
}

/**
 * Login sessions: one per device. The client holds an opaque random token; only its SHA-256 is stored
 * (MySQL, cached in Redis by hash), so neither a database dump nor a cache dump can be replayed.
 */
export class SessionService {
  private hostVerifier?: VerifyToken;
  private hostUserExists?: UserExists;
  private readonly hostTokens: HostTokens;

  /**
   * @param prefix the prefix of egg-im's HTTP routes (`imConnection.http.prefix`)
   * @param endSession tells every socket of a session, on every node, that it has ended (the socket server's)
   * @param userRate the node's per-user request rate, shared with the sockets' events
   * @param lookups counts the lookups of tokens no cache knows, per client address
   */
  constructor(
    private readonly app: Application,
    readonly prefix: string,
    private readonly endSession: (sessionId: string) => void,
    private readonly userRate: UserRate,
    private readonly lookups: TokenLookups,
  ) {
    const { auth } = app.config.imConnection;
    // checked by checkConfig (after this constructor: a wrong value stops the start with its own message)
    this.hostVerifier = auth.verifyToken ?? undefined;
    this.hostUserExists = auth.userExists ?? undefined;
    this.hostTokens = new HostTokens(auth.tokenCache, userId => app.imStore.users.ensure(userId), app.coreLogger);
  }

  /**
   * The host application's own token check, tried for every token that is not one of egg-im's own sessions
   * (`imConnection.auth.verifyToken` until replaced here, from the host's boot code). Replacing it forgets the
   * verdicts kept so far.
   */
  get verifyToken(): VerifyToken | undefined {
    return this.hostVerifier;
  }

  set verifyToken(verifyToken: VerifyToken | undefined) {
    checkHook(verifyToken, 'verifyToken');
    this.hostVerifier = verifyToken ?? undefined;
    this.hostTokens.clear();
  }

  /** The host application's batched existence check, asked by `ensureUsers` (`imConnection.auth.userExists` until replaced here). */
  get userExists(): UserExists | undefined {
    return this.hostUserExists;
  }

  set userExists(userExists: UserExists | undefined) {
    checkHook(userExists, 'userExists');
    this.hostUserExists = userExists ?? undefined;
  }

  /**
   * Koa middleware for routes under `prefix`: the request must carry `Authorization: Bearer <token>` of a live
   * session (`ctx.imSession`): one of egg-im's, or a token the host's `verifyToken` accepts; and the user must be
   * within its request rate on this node (`imConnection.userRateLimit`, shared with its sockets' events).
   */
  readonly requireSession = async (ctx: Context, next: () => Promise<void>): Promise<void> => {
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    if (!match) throw new ImError('UNAUTHORIZED', 'Authorization: Bearer <token> is required');
    const session = await this.authenticate(match[1], { transport: 'http', headers: ctx.headers, deviceId: ctx.get('x-im-device-id') || undefined, ip: ctx.ip });
    const retryAfterMs = this.userRate.take(session.userId);
    if (retryAfterMs > 0) throw tooManyRequests(retryAfterMs);
    ctx.imSession = session;
    await next();
  };

  /**
   * The ids of `userIds` that are users egg-im can message, in the order given, each once: those of egg-im's user
   * table, and those the host's `userExists` confirms (mirrored into the table at once, in one batch). Without
   * `userExists`, the table alone answers. Values that are not ids are not users.
   */
  async ensureUsers(userIds: string[]): Promise<string[]> {
    if (!Array.isArray(userIds)) throw new TypeError('[egg-im-connection] ensureUsers takes an array of user ids');
    const { users } = this.app.imStore;
    // A direct message's recipient, already known: no lookup (this runs for every one-to-one send).
    if (userIds.length === 1 && users.isKnown(userIds[0])) return [ userIds[0] ];
    const ids = [ ...new Set(userIds.filter(isId)) ];
    const stored = await Promise.all(ids.map(id => users.exists(id)));
    const unknown = ids.filter((_, i) => !stored[i]);
    const userExists = this.hostUserExists;
    const confirmed = new Set<string>();
    if (unknown.length > 0 && userExists) {
      let answer: unknown;
      try {
        answer = await userExists(unknown);
      } catch (err) {
        if (isImError(err)) throw err;
        throw new Error(`[egg-im-connection] userExists failed for ${unknown.length} user ids`, { cause: err });
      }
      if (!Array.isArray(answer)) {
        throw new Error(`[egg-im-connection] userExists must resolve to an array of the user ids that exist; got ${answer === null ? 'null' : typeof answer}`);
      }
      const asked = new Set(unknown);
      for (const id of answer) if (asked.has(id)) confirmed.add(id);
      if (confirmed.size > 0) {
        await users.ensureMany([ ...confirmed ]);
        this.app.coreLogger.info('[egg-im-connection] %d users of the host application mirrored: %j', confirmed.size, [ ...confirmed ].slice(0, 20));
      }
    }
    return ids.filter((id, i) => stored[i] || confirmed.has(id));
  }

  private get ttlMs() {
    return this.app.config.imConnection.session.ttlMs;
  }

  private cacheKey(tokenHash: string) {
    return this.app.imCache.key('session', tokenHash);
  }

  private revokedKey(tokenHash: string) {
    return this.app.imCache.key('revoked', tokenHash);
  }

  /**
   * A new session for the user's device. Over `session.maxPerUser` live sessions, the oldest ones are revoked
   * (like a logout: their sockets are told `session:expired`), so forgotten devices never lock a user out.
   */
  async create(userId: string, deviceId: string): Promise<LoginResult> {
    const token = randomBytes(32).toString('base64url');
    const tokenHash = hashToken(token);
    const expiresAt = new Date(Date.now() + this.ttlMs);
    const sessionId = await this.app.imStore.sessions.create({ userId, deviceId, tokenHash, expiresAt });
    await this.remember(tokenHash, { sessionId, userId, deviceId, expiresAt: expiresAt.getTime() });
    this.app.coreLogger.info('[egg-im-connection] session %s created for user %s device %s', sessionId, userId, deviceId);
    await this.enforceCap(userId, sessionId);
    return { token, userId, sessionId, deviceId, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Revokes the user's oldest live sessions beyond `session.maxPerUser` (never `newest`). Two logins at once
   * may both revoke the same oldest sessions: the user ends at or just below the cap, never above it for long.
   */
  private async enforceCap(userId: string, newest: string): Promise<void> {
    const max = this.app.config.imConnection.session.maxPerUser;
    const live = await this.app.imStore.sessions.listLive(userId);
    const excess = live.filter(row => row.id !== newest).slice(0, Math.max(0, live.length - max));
    for (const row of excess) {
      this.app.coreLogger.info('[egg-im-connection] session %s of user %s is the oldest over session.maxPerUser (%d): revoking it', row.id, userId, max);
      await this.revoke({ sessionId: row.id, userId, deviceId: row.deviceId, expiresAt: row.expiresAt.getTime() });
    }
  }

  /**
   * The session of a token, or UNAUTHORIZED / SESSION_EXPIRED. A token of egg-im's own shape is looked up among
   * egg-im's sessions first: one egg-im knows is answered by egg-im alone (revoked or expired stays refused).
   * Any other token (or one of that shape egg-im does not know) goes to the host's `verifyToken`, when set.
   * Before the database or the host is asked about a token no cache knows, the client's address (`request.ip`)
   * must be within its unknown tokens; one that names no live session counts, so such tokens cannot keep either busy.
   */
  async authenticate(token: unknown, request: AuthRequest = { transport: 'http', headers: {} }): Promise<Session> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new ImError('UNAUTHORIZED', 'a session token is required');
    }
    const { ip } = request;
    // Admitted (and counted) once, before the first lookup that no cache answers; given back unless the token
    // named no live session (a host's verifyToken that throws on it counts too, a store outage does not).
    let giveBack: (() => void) | undefined;
    const admit = async () => {
      if (ip !== undefined && !giveBack) giveBack = await this.lookups.admitTokenLookup(ip);
    };
    try {
      const session = await this.lookUp(token, request, admit);
      giveBack?.();
      return session;
    } catch (err) {
      if (!(isImError(err) && COUNTED.has(err.code))) giveBack?.();
      throw err;
    }
  }

  private async lookUp(token: string, request: AuthRequest, admit: () => Promise<void>): Promise<Session> {
    const tokenHash = hashToken(token);
    if (OWN_TOKEN.test(token)) {
      const session = await this.ownSession(tokenHash, admit);
      if (session) {
        if (session.expiresAt <= Date.now()) throw new ImError('SESSION_EXPIRED', 'the session has expired', { sessionId: session.sessionId });
        return session;
      }
    }
    const verifyToken = this.hostVerifier;
    if (!verifyToken) throw new ImError('UNAUTHORIZED', 'unknown or revoked session token');
    const deviceId = request.deviceId === undefined ? HOST_DEVICE : checkDeviceId(request.deviceId);
    const sessionId = hostSessionId(tokenHash);
    if (!this.hostTokens.knows(tokenHash)) await admit();
    const verdict = await this.hostTokens.verify(verifyToken, token, tokenHash, sessionId, { transport: request.transport, headers: request.headers });
    if (!verdict) throw new ImError('UNAUTHORIZED', 'unknown or revoked session token');
    if (verdict.expiresAt <= Date.now()) throw new ImError('SESSION_EXPIRED', 'the session has expired', { sessionId });
    return { sessionId, userId: verdict.userId, deviceId, expiresAt: verdict.expiresAt };
  }

  /**
   * egg-im's own session of a token hash, undefined when egg-im has none; UNAUTHORIZED when it was revoked.
   * `admit` runs before the database is asked.
   */
  private async ownSession(tokenHash: string, admit: () => Promise<void>): Promise<Session | undefined> {
    const [ cached, revoked ] = await this.app.imCache.mget([ this.cacheKey(tokenHash), this.revokedKey(tokenHash) ]);
    if (revoked !== undefined) throw new ImError('UNAUTHORIZED', 'unknown or revoked session token');
    const session = parseSession(cached);
    if (session) return session;
    await admit();
    const record = await this.app.imStore.sessions.findByTokenHash(tokenHash);
    if (!record) return undefined;
    if (record.revokedAt) throw new ImError('UNAUTHORIZED', 'unknown or revoked session token');
    const found = { sessionId: record.id, userId: record.userId, deviceId: record.deviceId, expiresAt: record.expiresAt.getTime() };
    if (found.expiresAt > Date.now()) await this.remember(tokenHash, found);
    return found;
  }

  /**
   * Ends a session: stored as revoked, dropped from the cache, and every socket of it on every node told and closed.
   * A marker is cached too: a node that read the session from the database just before the revocation may
   * cache it just after the deletion; the marker outlives any such stale entry and refuses the token meanwhile.
   */
  async revoke(session: Session): Promise<void> {
    // A host token is the host's to revoke: here its sockets end (on every node), the token itself stays valid.
    const tokenHash = session.sessionId.startsWith(HOST_SESSION_PREFIX) ? undefined : await this.app.imStore.sessions.revoke(session.sessionId);
    if (tokenHash) {
      const { cacheTtlMs } = this.app.config.imConnection.session;
      const markerTtl = Math.max(0, Math.min(session.expiresAt - Date.now(), cacheTtlMs)) + REVOKED_MARGIN_MS;
      await this.app.imCache.set(this.revokedKey(tokenHash), '1', markerTtl);
      await this.app.imCache.del(this.cacheKey(tokenHash));
    }
    this.app.coreLogger.info('[egg-im-connection] session %s of user %s revoked', session.sessionId, session.userId);
    this.endSession(session.sessionId);
  }

  private async remember(tokenHash: string, session: Session) {
    const ttl = Math.min(session.expiresAt - Date.now(), this.app.config.imConnection.session.cacheTtlMs);
    if (ttl > 0) await this.app.imCache.setJson(this.cacheKey(tokenHash), session, ttl);
  }
}

/** A cached session, or undefined when missing or not one (then the database answers). */
function parseSession(text: string | undefined): Session | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text);
    if (value && typeof value.sessionId === 'string' && typeof value.userId === 'string'
      && typeof value.deviceId === 'string' && typeof value.expiresAt === 'number') return value as Session;
  } catch {
    // not JSON: read as a miss
  }
  return undefined;
}
