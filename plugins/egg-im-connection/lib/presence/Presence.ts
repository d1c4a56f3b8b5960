import type { Application, EggAppConfig } from 'egg';
import { noTimerObserver, timedRun, type TimerObserver } from 'egg-im-metrics';
import type { PresenceResult } from 'egg-im-protocol';
import { SocketsByUser } from '../socket/SocketsByUser';

/** What presence uses of the cache: leases (see egg-im-cache's README), plain strings, and keys. */
export type PresenceCache = Pick<Application['imCache'], 'key' | 'get' | 'set' | 'leasePut' | 'leaseAcquire' | 'leaseRelease' | 'leaseRead'>;
/** What presence uses of the store: the last-seen time in the user table. */
export type PresenceUsers = Pick<Application['imStore']['users'], 'markSeen' | 'lastSeenAt'>;
export type PresenceConfig = EggAppConfig['imConnection']['presence'];

interface Logger {
  warn(message: string, ...args: unknown[]): void;
}

interface Entry {
  userId: string;
  deviceId: string;
  /** `<nodeId>|<socketId>|<deviceId>`: unique per socket, names its device. */
  member: string;
  /** Its heartbeat slice, fixed for the socket's life. */
  slice: number;
}

/**
 * Who is online, on any node. Each connected socket is a lease in its user's presence set in the cache (a
 * sorted set scored by expiry, shared by the nodes in Redis), refreshed by its node's heartbeat: the leases of a
 * node that died lapse by themselves after `ttlMs`. This node's own entries are also kept locally: they count at
 * once (before their first write), they are the whole truth while the cache cannot answer for every node (memory
 * mode, Redis down), and the next heartbeat writes them back after an outage.
 *
 * Last seen: each heartbeat also moves the user's `lastseen` key to "now", so a user whose node died has a
 * last-seen time (its last heartbeat) even when nobody asked before the entries lapsed and their key expired.
 * A clean disconnect of the last device, or a query that finds only lapsed entries, also stores it in the
 * user table, which is read when the cache has lost it.
 */
export class Presence {
  private static readonly CHUNK = 500;
  static readonly SLICES = 10;
  private readonly local = new SocketsByUser<Entry>(entry => entry.userId);
  /**
   * Sockets admitted by `admit` whose connection has not opened yet, until when they count: a handshake that
   * is admitted and then abandoned (the client went away) stops counting after `ttlMs`, like its lease.
   */
  private readonly pending = new SocketsByUser<{ entry: Entry; until: number }>(held => held.entry.userId);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly cache: PresenceCache,
    private readonly users: PresenceUsers,
    private readonly config: PresenceConfig,
    private readonly nodeId: string,
    private readonly logger: Logger,
    /** Learns of each heartbeat (egg-im-metrics). */
    private readonly timers: TimerObserver = noTimerObserver,
  ) {}

  private key(kind: 'presence' | 'lastseen', userId: string) {
    return this.cache.key(kind, userId);
  }

  private lastSeenStamp(userId: string, at: number) {
    return { key: this.key('lastseen', userId), value: String(at), ttlMs: this.config.lastSeenTtlMs };
  }

  /**
   * Every entry is refreshed once per `ttlMs / 3`, a tenth of them at a time: 10,000 sockets are 3,000
   * commands a second instead of 30,000 at once every ten seconds, which stalled everything else on this
   * node for a moment (seen as the p99 of history reads in the benchmark).
   */
  start(): void {
    const every = Math.max(1000, Math.floor(this.config.ttlMs / 3));
    let slice = 0;
    this.timer = setInterval(() => {
      const current = slice;
      slice = (slice + 1) % Presence.SLICES;
      timedRun(this.timers, 'presenceHeartbeat', () => this.heartbeat(current)).catch(err => this.logger.warn('[egg-im-connection] presence heartbeat failed: %s', err.message));
    }, every / Presence.SLICES);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * At the handshake: takes one of the user's `limit` places on every node (a lease taken atomically in the cache),
   * or false when they are all taken by live sockets. A socket's lease is its place: it is released on disconnect
   * and lapses when its node stops beating, so neither a closed socket nor a dead node holds a place for long.
   * This node's own sockets are counted first: they hold places even where the cache does not know them yet
   * (memory mode, an outage, the moments after a restore).
   */
  async admit(socketId: string, userId: string, deviceId: string, limit: number): Promise<boolean> {
    const entry = this.entry(socketId, userId, deviceId);
    const now = Date.now();
    if (this.localSockets(userId, now) >= limit) return false;
    const lease = { key: this.key('presence', userId), member: entry.member, expiresAt: now + this.config.ttlMs };
    if (!await this.cache.leaseAcquire(lease, limit, now, this.config.ttlMs * 2)) return false;
    this.pending.set(socketId, { entry, until: now + this.config.ttlMs });
    return true;
  }

  async connected(socketId: string, userId: string, deviceId: string): Promise<void> {
    const entry = this.pending.get(socketId)?.entry ?? this.entry(socketId, userId, deviceId);
    this.pending.delete(socketId);
    this.local.set(socketId, entry);
    await this.write([ entry ]);
  }

  /** A socket admitted but never connected (its session ended during the handshake): its place is given back. */
  async release(socketId: string): Promise<void> {
    const held = this.pending.get(socketId);
    if (!held) return;
    this.pending.delete(socketId);
    await this.cache.leaseRelease(this.key('presence', held.entry.userId), held.entry.member, Date.now());
  }

  /** Returns true when that was the user's last connected device (the user went offline). */
  async disconnected(socketId: string): Promise<boolean> {
    const entry = this.local.get(socketId);
    if (!entry) return false;
    this.local.delete(socketId);
    const now = Date.now();
    // Seen until now, whether or not another device stays: written with the removal, so a query never finds
    // the entry gone and last-seen older than this.
    const live = await this.cache.leaseRelease(this.key('presence', entry.userId), entry.member, now, this.lastSeenStamp(entry.userId, now));
    const online = live > 0 || this.localDevices(entry.userId).size > 0;
    if (!online) await this.markSeen(entry.userId, now);
    return !online;
  }

  async query(userId: string): Promise<PresenceResult> {
    const now = Date.now();
    const devices = this.localDevices(userId);
    const { live, lapsed } = await this.cache.leaseRead(this.key('presence', userId), now);
    // This node's own sockets count even before their first write has reached the cache.
    for (const member of live) devices.add(member.slice(member.lastIndexOf('|') + 1));
    if (devices.size > 0) return { userId, online: true, devices: devices.size };
    // A node that died never said goodbye: its leases lapsed; the user was last seen at its last heartbeat.
    if (lapsed.length > 0) await this.markSeen(userId, Math.max(...lapsed.map(e => e.score)) - this.config.ttlMs);
    const seen = await this.seenAt(userId);
    return seen === undefined
      ? { userId, online: false, devices: 0 }
      : { userId, online: false, devices: 0, lastSeenAt: new Date(seen).toISOString() };
  }

  /**
   * Re-writes local entries with a fresh expiry (and after an outage, puts them back): those of one slice
   * (an entry is always in the same one), or all of them.
   */
  async heartbeat(slice?: number): Promise<void> {
    this.prunePending(Date.now());
    const entries = [ ...this.local.values() ];
    await this.write(slice === undefined ? entries : entries.filter(entry => entry.slice === slice));
  }

  private entry(socketId: string, userId: string, deviceId: string): Entry {
    return { userId, deviceId, member: `${this.nodeId}|${socketId}|${deviceId}`, slice: sliceOf(socketId) };
  }

  /** This node's sockets of the user: connected, or admitted and not abandoned yet. */
  private localSockets(userId: string, now: number): number {
    this.prunePending(now, this.pending.ofUser(userId));
    return this.local.ofUser(userId).size + this.pending.ofUser(userId).size;
  }

  /** Forgets admitted handshakes that never connected (their Redis entries have lapsed by then too): all, or `held`. */
  private prunePending(now: number, held: Iterable<[ string, { until: number } ]> = this.pending): void {
    for (const [ socketId, { until } ] of held) if (until < now) this.pending.delete(socketId);
  }

  private localDevices(userId: string): Set<string> {
    const devices = new Set<string>();
    for (const entry of this.local.ofUser(userId).values()) devices.add(entry.deviceId);
    return devices;
  }

  /**
   * Writes entries in chunks, one script call each, one after another: a heartbeat of 10,000 sockets as one
   * MULTI was a periodic stall (tens of milliseconds building it here, and Redis blocked while running it), seen
   * as the p99 of the message path in the benchmark. No atomicity is needed: each entry stands alone.
   */
  private async write(entries: Entry[]): Promise<void> {
    for (let start = 0; start < entries.length; start += Presence.CHUNK) {
      const now = Date.now();
      const expiresAt = now + this.config.ttlMs;
      const chunk = entries.slice(start, start + Presence.CHUNK);
      const leases = chunk.map(entry => ({ key: this.key('presence', entry.userId), member: entry.member, expiresAt }));
      // Connected now: if this node dies, this is when the user was last seen (see the class comment).
      const stamps = [ ...new Set(chunk.map(entry => entry.userId)) ].map(userId => this.lastSeenStamp(userId, now));
      await this.cache.leasePut(leases, this.config.ttlMs * 2, stamps);
    }
  }

  private async markSeen(userId: string, at: number): Promise<void> {
    const previous = await this.cache.get(this.key('lastseen', userId));
    if (previous === undefined || Number(previous) < at) {
      await this.cache.set(this.key('lastseen', userId), String(at), this.config.lastSeenTtlMs);
    }
    // Always stored (the heartbeats above only reach the cache); the table never moves backward.
    await this.users.markSeen(userId, new Date(at));
  }

  private async seenAt(userId: string): Promise<number | undefined> {
    const cached = await this.cache.get(this.key('lastseen', userId));
    if (cached !== undefined) return Number(cached);
    const stored = await this.users.lastSeenAt(userId);
    return stored?.getTime();
  }
}

/** The heartbeat slice of a socket: stable for the socket's life. */
function sliceOf(socketId: string): number {
  let hash = 0;
  for (let i = 0; i < socketId.length; i++) hash = (hash * 31 + socketId.charCodeAt(i)) | 0;
  return Math.abs(hash) % Presence.SLICES;
}
