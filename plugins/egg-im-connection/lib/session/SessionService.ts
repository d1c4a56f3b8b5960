import { createHash, randomBytes } from 'node:crypto';
import type { Application, Context } from 'egg';
import { ImError, type LoginResult } from 'egg-im-protocol';

/** A live session, as the handshake and the HTTP routes see it. */
export interface Session {
  sessionId: string;
  userId: string;
  deviceId: string;
  /** Epoch ms. */
  expiresAt: number;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** How much longer than a cached session a revocation marker lives (see `revoke`). */
const REVOKED_MARGIN_MS = 60_000;

/**
 * Login sessions: one per device. The client holds an opaque random token; only its SHA-256 is stored
 * (MySQL, cached in Redis by hash), so neither a database dump nor a cache dump can be replayed.
 */
export class SessionService {
  /**
   * @param prefix the prefix of egg-im's HTTP routes (`imConnection.http.prefix`)
   * @param endSession tells every socket of a session, on every node, that it has ended (the socket server's)
   */
  constructor(private readonly app: Application, readonly prefix: string, private readonly endSession: (sessionId: string) => void) {}

  /** Koa middleware for routes under `prefix`: the request must carry `Authorization: Bearer <token>` of a live session (`ctx.imSession`). */
  readonly requireSession = async (ctx: Context, next: () => Promise<void>): Promise<void> => {
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    if (!match) throw new ImError('UNAUTHORIZED', 'Authorization: Bearer <token> is required');
    ctx.imSession = await this.authenticate(match[1]);
    await next();
  };

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

  /** The session of a token, or UNAUTHORIZED / SESSION_EXPIRED. */
  async authenticate(token: unknown): Promise<Session> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
      throw new ImError('UNAUTHORIZED', 'a session token is required');
    }
    const tokenHash = hashToken(token);
    const [ cached, revoked ] = await this.app.imCache.mget([ this.cacheKey(tokenHash), this.revokedKey(tokenHash) ]);
    if (revoked !== undefined) throw new ImError('UNAUTHORIZED', 'unknown or revoked session token');
    let session = parseSession(cached);
    if (!session) {
      const record = await this.app.imStore.sessions.findByTokenHash(tokenHash);
      if (!record || record.revokedAt) throw new ImError('UNAUTHORIZED', 'unknown or revoked session token');
      session = { sessionId: record.id, userId: record.userId, deviceId: record.deviceId, expiresAt: record.expiresAt.getTime() };
      if (session.expiresAt > Date.now()) await this.remember(tokenHash, session);
    }
    if (session.expiresAt <= Date.now()) throw new ImError('SESSION_EXPIRED', 'the session has expired', { sessionId: session.sessionId });
    return session;
  }

  /**
   * Ends a session: stored as revoked, dropped from the cache, and every socket of it on every node told and closed.
   * A marker is cached too: a node that read the session from the database just before the revocation may
   * cache it just after the deletion; the marker outlives any such stale entry and refuses the token meanwhile.
   */
  async revoke(session: Session): Promise<void> {
    const tokenHash = await this.app.imStore.sessions.revoke(session.sessionId);
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
