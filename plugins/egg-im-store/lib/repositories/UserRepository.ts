import { checkId, ImError, isId } from 'egg-im-protocol';
import { ImUser } from '../entity/ImUser';
import { isDuplicateKeyError } from '../dbErrors';
import { newId } from '../ids';
import type { ImStore } from '../ImStore';
import { BatchQueue } from '../batch/BatchQueue';
import { KnownIds } from './KnownIds';
import { dialectOf, marks, sqlTime } from '../sql/dialect';

const MAX_USERNAME = 64;

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
    return this.store.withRetry(async manager => {
      const users = manager.getRepository(ImUser);
      try {
        await users.insert({ id, username, passwordHash, createdAt: new Date(), lastSeenAt: null });
        return id;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // a retry after a COMMIT whose answer was lost finds its own row
        const holder = await users.findOneBy({ username });
        if (holder?.id === id) return id;
        throw new ImError('USERNAME_TAKEN', 'this username is already taken', { field: 'username' });
      }
    }, { label: 'create user' });
  }

  /**
   * Makes sure a user of the host application's own user system exists here (no password hash).
   * A known id is left as it is; a new id with a name held by another id is `USERNAME_TAKEN`.
   */
  async ensure(userId: string, username: string): Promise<void> {
    checkId(userId, 'userId');
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
