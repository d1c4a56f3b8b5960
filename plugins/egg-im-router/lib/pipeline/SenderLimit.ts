import { WarningDigest } from 'egg-im-metrics';
import { ImError } from 'egg-im-protocol';

/** How often this node adds what its users sent to the count shared by the nodes. */
const SHARE_EVERY_MS = 100;

/** What the cache's limiter gives (`imCache.limiter`): counted across nodes in Redis, in memory without it. */
export interface Limiter {
  readonly points: number;
  readonly durationMs: number;
  consume(key: string, points?: number): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }>;
}

interface Window {
  startedAt: number;
  taken: number;
  /** How many of `taken` were added to the shared count. */
  shared: number;
}

/**
 * Sends per user, whatever the transport (every socket of the user, on any node, HTTP, batches): a user over
 * `points` messages in a window is refused with RATE_LIMITED (`details.scope: "user"`) before any work is
 * done on the message. No Redis call per message: each node counts its users' sends in its own windows (exact
 * on one node). A user who sent a tenth of the limit on this node within a window is added to the count the
 * nodes share, every 100 ms, one call for all of their sends since; over that count, they are refused on this
 * node until the shared window ends. A user who writes little costs no Redis call at all; one spread over N
 * nodes gets at most N tenths of the limit past it. The per-connection bucket still bounds each socket.
 */
export class SenderLimit {
  private readonly windows = new Map<string, Window>();
  private readonly blockedUntil = new Map<string, number>();
  /** Users whose sends are to be added to the shared count at the next share. */
  private toShare = new Set<string>();
  private readonly shareFrom: number;
  private shareTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  /** When the pending sweep was scheduled (`Date.now()`). */
  private sweepScheduledAt = 0;
  private readonly refusals: WarningDigest;

  constructor(private readonly limiter: Limiter, private readonly logger: { warn(message: string, ...args: unknown[]): void; error(...args: unknown[]): void }) {
    this.refusals = new WarningDigest(logger, '[egg-im-router] sends refused (RATE_LIMITED, per user)');
    this.shareFrom = Math.max(1, Math.floor(limiter.points / 10));
  }

  take(senderId: string, count = 1): void {
    const now = Date.now();
    const blocked = this.blockedUntil.get(senderId);
    if (blocked !== undefined) {
      if (blocked > now) return this.refuse(senderId, count, blocked - now);
      this.blockedUntil.delete(senderId);
    }
    let window = this.windows.get(senderId);
    if (!window || this.ended(window, now)) {
      this.windows.set(senderId, window = { startedAt: now, taken: 0, shared: 0 });
      this.sweepLater();
    }
    if (window.taken + count > this.limiter.points) return this.refuse(senderId, count, window.startedAt + this.limiter.durationMs - now);
    window.taken += count;
    if (window.taken >= this.shareFrom) {
      this.toShare.add(senderId);
      this.shareTimer ??= setTimeout(() => this.share(), SHARE_EVERY_MS);
    }
  }

  /** How many users this node keeps a window or a refusal for (a window is forgotten within two windows' length of its start). */
  get tracked(): number {
    return new Set([ ...this.windows.keys(), ...this.blockedUntil.keys() ]).size;
  }

  /** Stops sharing (the app closes): what was not shared yet is dropped with the node's windows. */
  stop(): void {
    this.refusals.flush();
    clearTimeout(this.shareTimer);
    clearTimeout(this.sweepTimer);
    this.shareTimer = undefined;
    this.sweepTimer = undefined;
  }

  private sweepLater(): void {
    if (this.sweepTimer) return;
    this.sweepScheduledAt = Date.now();
    this.sweepTimer = setTimeout(() => this.sweep(), this.limiter.durationMs).unref();
  }

  /**
   * Forgets ended windows and refusals, so that a node keeps only the users who sent lately, however many ever did.
   * A window begun by the time this sweep was scheduled has ended by the timer's clock. Not by `Date.now()`: a timer
   * counts from the time its turn of the event loop began, so it can fire a few milliseconds before `Date.now()` says
   * the window has run its length, and such a window would have been kept a whole window more.
   */
  private sweep(): void {
    this.sweepTimer = undefined;
    const now = Date.now();
    for (const [ userId, window ] of this.windows) if (window.startedAt <= this.sweepScheduledAt) this.windows.delete(userId);
    for (const [ userId, until ] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(userId);
    if (this.windows.size > 0 || this.blockedUntil.size > 0) this.sweepLater();
  }

  private ended(window: Window, now: number): boolean {
    return now - window.startedAt >= this.limiter.durationMs;
  }

  private share(): void {
    this.shareTimer = undefined;
    const users = this.toShare;
    this.toShare = new Set();
    const now = Date.now();
    for (const userId of users) {
      const window = this.windows.get(userId);
      // An ended window's sends belong to a shared window that has ended too.
      if (!window || this.ended(window, now) || window.taken === window.shared) continue;
      const points = window.taken - window.shared;
      window.shared = window.taken;
      this.limiter.consume(userId, points).then(decision => {
        if (!decision.allowed) {
          this.blockedUntil.set(userId, Date.now() + decision.retryAfterMs);
          // The answer may come after the sweeps stopped (the user's window swept meanwhile).
          this.sweepLater();
        }
      }, err => this.logger.error(new Error(`[egg-im-router] the sends of user ${userId} were not added to the shared count`, { cause: err })));
    }
  }

  private refuse(senderId: string, count: number, retryAfterMs: number): never {
    this.refusals.add(`${count} from user ${senderId}`);
    const wait = Math.max(1, Math.ceil(retryAfterMs));
    throw new ImError('RATE_LIMITED', `too many messages from this user; retry in ${wait} ms`, { retryAfterMs: wait, scope: 'user' });
  }
}
