import { IsNull } from 'typeorm';
import { ImSession } from '../entity/ImSession';
import { isDuplicateKeyError } from '../dbErrors';
import { newId } from '../ids';
import type { ImStore } from '../ImStore';

export interface NewSession {
  userId: string;
  deviceId: string;
  /** SHA-256 of the token, 64 hex characters (the token itself is never stored). */
  tokenHash: string;
  expiresAt: Date;
}

/** `app.imStore.sessions`: the im_sessions table. Every call retries transient failures (see `ImStore.withRetry`). */
export class SessionRepository {
  constructor(private readonly store: ImStore) {}

  /** Stores a new session and returns its id. */
  async create(session: NewSession): Promise<string> {
    const id = newId('s_');
    return this.store.withRetry(async manager => {
      const sessions = manager.getRepository(ImSession);
      try {
        await sessions.insert({ id, ...session, revokedAt: null, createdAt: new Date() });
        return id;
      } catch (err) {
        // a retry after a COMMIT whose answer was lost finds its own row; anything else is a real conflict
        if (isDuplicateKeyError(err) && (await sessions.existsBy({ id, tokenHash: session.tokenHash }))) return id;
        throw err;
      }
    }, { label: 'create session' });
  }

  findById(sessionId: string): Promise<ImSession | null> {
    return this.store.withRetry(manager => manager.getRepository(ImSession).findOneBy({ id: sessionId }), { label: 'find session' });
  }

  findByTokenHash(tokenHash: string): Promise<ImSession | null> {
    return this.store.withRetry(manager => manager.getRepository(ImSession).findOneBy({ tokenHash }), { label: 'find session' });
  }

  /** The user's live sessions (not revoked, not expired), oldest first, through the `user_id` index. */
  listLive(userId: string, now: Date = new Date()): Promise<Array<Pick<ImSession, 'id' | 'deviceId' | 'expiresAt'>>> {
    return this.store.withRetry(manager => manager.getRepository(ImSession).createQueryBuilder('s')
      .select([ 's.id', 's.deviceId', 's.expiresAt' ])
      .where('s.userId = :userId AND s.revokedAt IS NULL AND s.expiresAt > :now', { userId, now })
      .orderBy('s.createdAt', 'ASC')
      .addOrderBy('s.id', 'ASC')
      .getMany(), { label: 'list live sessions of a user' });
  }

  /**
   * Marks a session revoked (once; a second call keeps the first time) and returns its token hash, so the
   * caller can evict caches; undefined for an unknown session.
   */
  async revoke(sessionId: string, at: Date = new Date()): Promise<string | undefined> {
    return this.store.withRetry(async manager => {
      const sessions = manager.getRepository(ImSession);
      // A revoked session also ends now, so one indexed column (expires_at) finds every ended session.
      await sessions.update({ id: sessionId, revokedAt: IsNull() }, { revokedAt: at, expiresAt: at });
      const session = await sessions.findOne({ where: { id: sessionId }, select: { id: true, tokenHash: true } });
      return session?.tokenHash;
    }, { label: 'revoke session' });
  }

  /**
   * Deletes up to `limit` sessions that ended (expired or revoked) before `before`, oldest first, using the
   * expires_at index; returns how many. Portable: the ids are selected first (MySQL's DELETE … LIMIT and
   * SQLite's lack of it differ).
   */
  async purgeEnded(before: Date, limit: number): Promise<number> {
    return this.store.withRetry(async manager => {
      const rows: Array<{ id: string }> = await manager.getRepository(ImSession).createQueryBuilder('s')
        .select('s.id', 'id').where('s.expiresAt < :before', { before }).orderBy('s.expiresAt', 'ASC').limit(limit).getRawMany();
      if (rows.length === 0) return 0;
      await manager.getRepository(ImSession).delete(rows.map(r => r.id));
      return rows.length;
    }, { label: 'purge ended sessions' });
  }
}
