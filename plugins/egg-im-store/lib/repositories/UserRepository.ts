import { createHash } from 'node:crypto';
import { checkId, ImError, isId } from 'egg-im-protocol';
import { ImUser } from '../entity/ImUser';
import { isDuplicateKeyError } from '../dbErrors';
import { newId } from '../ids';
import type { ImStore } from '../ImStore';
import { BatchQueue } from '../batch/BatchQueue';
import { KnownIds } from './KnownIds';
import { dialectOf, marks, sqlTime } from '../sql/dialect';

const MAX_USERNAME = 64;
/** Ids per INSERT of `ensureMany` (3 parameters each: under SQLite's and MySQL's limits). */
const MIRROR_CHUNK = 300;

/**
 * The username of a user mirrored from the host application without one: `#` and its id, or, for an id longer
 * than 63 characters, `#` and the SHA-256 of the id (base64url, 43 characters). egg-im's own usernames never
 * start with `#`; a host app whose own usernames (`verifyCredentials`) do must not use these.
 */
export function mirrorUsername(userId: string): string {
  return userId.length < MAX_USERNAME ? `#${userId}` : `#${createHash('sha256').update(userId).digest('base64url')}`;
}

function checkUsername(username: string): void {
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME) {
    throw new ImError('VALIDATION_FAILED', `username must be a string of 1 to ${MAX_USERNAME} characters`, { field: 'username' });
  }
}

/** `app.imStore.users`: the im_users table. Every call retries transient failures (see `ImStore.withRetry`). */
export class UserRepository {
  /** Ids known to exist. Users are never deleted, so a yes can be remembered: no query per direct message. */
  private readonly known = new KnownIds(200_000);

  private readonly seen = new BatchQueue<{ userId: string; at: Date }, void>(batch => this.writeSeen(batch), { maxBatch: 500, lingerMs: 50 });
  /**
   * Lookups of ids not known yet, one query per batch: right after thousands of users connect, their first
   * messages would otherwise be thousands of single-row queries at once, overflowing the pool's queue.
   */
  private readonly lookups = new BatchQueue<string, boolean>(ids => this.findExisting(ids), { maxBatch: 500, lingerMs: 0 });

  constructor(private readonly store: ImStore) {}

  /** Registers a user and returns the new id; `USERNAME_TAKEN` when the name is in use (names compare byte for byte). */
  async create(username: string, passwordHash: string | null): Promise<string> {
    checkUsername(username);
    const id = newId('u_');
    await this.store.withRetry(async manager => {
      const users = manager.getRepository(ImUser);
      try {
        await users.insert({ id, username, passwordHash, createdAt: new Date(), lastSeenAt: null });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // a retry after a COMMIT whose answer was lost finds its own row
        const holder = await users.findOneBy({ username });
        if (holder?.id !== id) throw new ImError('USERNAME_TAKEN', 'this username is already taken', { field: 'username' });
      }
    }, { label: 'create user' });
    this.known.add(id);
    return id;
  }

  /**
   * Makes sure a user of the host application's own user system exists here (no password hash).
   * A known id is left as it is; a new id with a name held by another id is `USERNAME_TAKEN`.
   * Without `username` the user gets a generated one (`mirrorUsername`), as with `ensureMany`.
   */
  async ensure(userId: string, username?: string): Promise<void> {
    checkId(userId, 'userId');
    if (username === undefined) return this.ensureMany([ userId ]);
    checkUsername(username);
    await this.store.withRetry(async manager => {
      const users = manager.getRepository(ImUser);
      if (await users.existsBy({ id: userId })) return;
      try {
        await users.insert({ id: userId, username, passwordHash: null, createdAt: new Date(), lastSeenAt: null });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        if (await users.existsBy({ id: userId })) return; // another login of the same user got there first
        throw new ImError('USERNAME_TAKEN', 'this username belongs to another user', { field: 'username' });
      }
    }, { label: 'ensure user' });
    this.known.add(userId);
  }

  /**
   * Mirrors users of the host application (no password hash, the username `mirrorUsername(id)`), one INSERT per
   * 300 ids for those not known here yet; ids already stored are left as they are (their username too). Every id
   * must be an id (`VALIDATION_FAILED` otherwise, and nothing is written). An id whose generated username is held
   * by another user cannot be mirrored: an `[egg-im-store]` error, after the others were written.
   */
  async ensureMany(userIds: string[]): Promise<void> {
    const ids = [ ...new Set(userIds.map(id => checkId(id, 'userId'))) ].filter(id => !this.known.has(id));
    const missing: string[] = [];
    for (let i = 0; i < ids.length; i += MIRROR_CHUNK) missing.push(...await this.insertMirrors(ids.slice(i, i + MIRROR_CHUNK)));
    if (missing.length > 0) {
      throw new Error(`[egg-im-store] ${missing.length} of ${ids.length} users could not be mirrored: `
        + 'the username generated for each ("#" and its id, or a hash of it) belongs to another user');
    }
  }

  /** Inserts the rows that do not exist yet (INSERT IGNORE: a concurrent mirror of the same id is fine); returns the ids still missing. */
  private async insertMirrors(ids: string[]): Promise<string[]> {
    const now = sqlTime(new Date());
    const { insertIgnore } = dialectOf(this.store.driver);
    const found = await this.store.withRetry(async manager => {
      await manager.query(`${insertIgnore} INTO im_users (id, username, password_hash, created_at) VALUES ${ids.map(() => '(?, ?, NULL, ?)').join(', ')}`,
        ids.flatMap(id => [ id, mirrorUsername(id), now ]));
      const rows: Array<{ id: string }> = await manager.query(`SELECT id FROM im_users WHERE id IN (${marks(ids.length)})`, ids);
      return new Set(rows.map(row => row.id));
    }, { label: 'mirror users' });
    for (const id of found) this.known.add(id);
    return ids.filter(id => !found.has(id));
  }

  /** True when this process already knows that a user with this id exists (no query); false: ask `exists`. */
  isKnown(userId: string): boolean {
    return this.known.has(userId);
  }

  /** True when a user with this id exists. */
  async exists(userId: string): Promise<boolean> {
    if (!isId(userId)) return false;
    if (this.known.has(userId)) return true;
    return this.lookups.push(userId);
  }

  private async findExisting(ids: string[]): Promise<boolean[]> {
    const distinct = [ ...new Set(ids) ];
    const rows: Array<{ id: string }> = await this.store.withRetry(
      manager => manager.query(`SELECT id FROM im_users WHERE id IN (${marks(distinct.length)})`, distinct), { label: 'check users' });
    const found = new Set(rows.map(row => row.id));
    for (const id of found) this.known.add(id);
    return ids.map(id => found.has(id));
  }

  findById(userId: string): Promise<ImUser | null> {
    return this.store.withRetry(manager => manager.getRepository(ImUser).findOneBy({ id: userId }), { label: 'find user' });
  }

  findByUsername(username: string): Promise<ImUser | null> {
    return this.store.withRetry(manager => manager.getRepository(ImUser).findOneBy({ username }), { label: 'find user' });
  }

  /**
   * Up to `limit` users whose username starts with `prefix` (byte for byte, as names compare), by username: the
   * exact name first. One range read on the username index: names sharing a prefix sort together, so the rows
   * from `prefix` on are read and the first that no longer starts with it ends the answer.
   */
  async searchByUsername(prefix: string, limit: number): Promise<Array<{ id: string; username: string }>> {
    checkUsername(prefix);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Error(`[egg-im-store] searchByUsername: limit must be 1 to 1000, got ${limit}`);
    const rows: Array<{ id: string; username: string }> = await this.store.withRetry(manager => manager.query(
      `SELECT id, username FROM im_users WHERE username >= ? ORDER BY username LIMIT ${limit}`, [ prefix ]), { label: 'search users' });
    const found: Array<{ id: string; username: string }> = [];
    for (const row of rows) {
      if (!row.username.startsWith(prefix)) break;
      found.push({ id: row.id, username: row.username });
    }
    return found;
  }

  /** The users among `userIds` (ids, at most 1000), in the order given, each once; unknown ids are left out. */
  async findUsernames(userIds: string[]): Promise<Array<{ id: string; username: string }>> {
    const ids = [ ...new Set(userIds.map(id => checkId(id, 'userId'))) ];
    if (ids.length > 1000) throw new Error(`[egg-im-store] findUsernames: at most 1000 ids, got ${ids.length}`);
    if (ids.length === 0) return [];
    const rows: Array<{ id: string; username: string }> = await this.store.withRetry(manager => manager.query(
      `SELECT id, username FROM im_users WHERE id IN (${marks(ids.length)})`, ids), { label: 'find usernames' });
    const byId = new Map(rows.map(row => [ row.id, row.username ]));
    return ids.filter(id => byId.has(id)).map(id => ({ id, username: byId.get(id)! }));
  }

  /** Moves `last_seen_at` forward to `at` (never backward). */
  /**
   * Records when a user was last seen (a later time only). Batched: when thousands of sockets drop at once
   * (a node restarts), this is a few statements, not one per user competing for the pool.
   */
  markSeen(userId: string, at: Date): Promise<void> {
    return this.seen.push({ userId, at });
  }

  /** Waits for queued last-seen writes (shutdown). */
  drain(): Promise<void> {
    return this.seen.drain();
  }

  private async writeSeen(batch: Array<{ userId: string; at: Date }>): Promise<void[]> {
    const latest = new Map<string, Date>();
    for (const { userId, at } of batch) {
      const seen = latest.get(userId);
      if (!seen || at > seen) latest.set(userId, at);
    }
    const rows = [ ...latest ].map(([ userId, at ]) => [ userId, sqlTime(at) ]);
    const { updateFrom } = dialectOf(this.store.driver);
    await this.store.withRetry(manager => manager.query(
      updateFrom('im_users', 'u', [ 'i', 't' ], rows.length, 'u.id = v.i', 'u.last_seen_at = v.t', '(u.last_seen_at IS NULL OR u.last_seen_at < v.t)'),
      rows.flat()), { label: 'mark users seen' });
    return batch.map((): void => undefined);
  }

  /** When a device of the user was last connected, or null (unknown user, or never seen). */
  async lastSeenAt(userId: string): Promise<Date | null> {
    const user = await this.store.withRetry(
      manager => manager.getRepository(ImUser).findOne({ where: { id: userId }, select: { id: true, lastSeenAt: true } }),
      { label: 'read last seen' },
    );
    return user?.lastSeenAt ?? null;
  }
}
