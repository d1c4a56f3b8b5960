import type { Application } from 'egg';
import type { PresenceResult } from 'egg-im-protocol';

interface Entry {
  userId: string;
  deviceId: string;
  /** `<nodeId>|<socketId>|<deviceId>`: unique per socket, names its device. */
  member: string;
  /** Its heartbeat slice, fixed for the socket's life. */
  slice: number;
}

/**
 * Who is online, on any node. Each connected socket is an entry with an expiry, refreshed by its node's
 * heartbeat: entries of a node that died lapse by themselves after `ttlMs`. In Redis (shared by the nodes):
 * one sorted set per user scored by expiry; this node's own entries are also kept locally, which is the
 * whole truth in memory mode and what is re-written to Redis by the next heartbeat after an outage.
 *
 * Last seen: each heartbeat also moves the user's `lastseen` key to "now", so a user whose node died has a
 * last-seen time (its last heartbeat) even when nobody asked before the entries lapsed and their key expired.
 * A clean disconnect of the last device, or a query that finds only lapsed entries, also stores it in the
 * user table, which is read when the cache has lost it.
 */
/**
 * KEYS[1]: a user's presence set. ARGV: now, the new entry's expiry, the entry, the limit, the key's TTL.
 * Adds the entry only while fewer than `limit` entries are live (expiry >= now), in one step: two nodes
 * admitting the same user's sockets at once cannot both take the last place. Returns 1 (added) or 0.
 */
const ADMIT = `
if redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf') >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export class Presence {
  private static readonly CHUNK = 500;
  static readonly SLICES = 10;
  private readonly local = new Map<string, Entry>();
  /**
   * Sockets admitted by `admit` whose connection has not opened yet, until when they count: a handshake that
   * is admitted and then abandoned (the client went away) stops counting after `ttlMs`, like its Redis entry.
   */
  private readonly pending = new Map<string, { entry: Entry; until: number }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly app: Application, private readonly nodeId: string) {}

  private get config() {
    return this.app.config.imConnection.presence;
  }

  private get redis() {
    const cache = this.app.imCache;
    return cache.mode === 'redis' && !cache.degraded ? cache.redis : undefined;
  }

  private key(kind: 'presence' | 'lastseen', userId: string) {
    return this.app.imCache.key(kind, userId);
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
      this.heartbeat(current).catch(err => this.app.coreLogger.warn('[egg-im-connection] presence heartbeat failed: %s', err.message));
    }, every / Presence.SLICES);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * At the handshake: takes one of the user's `limit` places, on every node (in Redis, atomically), or false
   * when they are all taken by live sockets. A socket's entry is its place: it is released on disconnect and
   * lapses when its node stops beating, so neither a closed socket nor a dead node holds a place for long.
   * Without Redis (memory mode, degraded, or a failed call) the count is this node's sockets only.
   */
  async admit(socketId: string, userId: string, deviceId: string, limit: number): Promise<boolean> {
    const entry = this.entry(socketId, userId, deviceId);
    const now = Date.now();
    let admitted: boolean | undefined;
    const redis = this.redis;
    if (redis) {
      try {
        const reply = await withTimeout(redis.eval(ADMIT, {
          keys: [ this.key('presence', userId) ],
          arguments: [ String(now), String(now + this.config.ttlMs), entry.member, String(limit), String(this.config.ttlMs * 2) ],
        }), this.app.config.imCache.client.commandTimeoutMs);
        admitted = Number(reply) === 1;
      } catch (err: any) {
        this.app.coreLogger.warn('[egg-im-connection] presence: redis unavailable at the handshake of user %s, counting this node\'s sockets only: %s', userId, err.message);
      }
    }
    admitted ??= this.localSockets(userId, now) < limit;
    if (admitted) this.pending.set(socketId, { entry, until: now + this.config.ttlMs });
    return admitted;
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
    await this.redis?.zRem(this.key('presence', held.entry.userId), held.entry.member);
  }

  /** Returns true when that was the user's last connected device (the user went offline). */
  async disconnected(socketId: string): Promise<boolean> {
    const entry = this.local.get(socketId);
    if (!entry) return false;
    this.local.delete(socketId);
    const now = Date.now();
    const redis = this.redis;
    let online: boolean;
    if (redis) {
      try {
        const key = this.key('presence', entry.userId);
        // Seen until now, whether or not another device stays: written with the removal, so a query never
        // finds the entry gone and last-seen older than this.
        const [ , live ] = await redis.multi()
          .zRem(key, entry.member)
          .zCount(key, now, '+inf')
          .set(this.key('lastseen', entry.userId), String(now), { expiration: { type: 'PX', value: this.config.lastSeenTtlMs } })
          .exec() as unknown as [number, number];
        online = live > 0 || this.localDevices(entry.userId).size > 0;
      } catch (err: any) {
        this.app.coreLogger.warn('[egg-im-connection] presence: redis unavailable on disconnect of user %s: %s', entry.userId, err.message);
        online = this.localDevices(entry.userId).size > 0;
      }
    } else {
      online = this.localDevices(entry.userId).size > 0;
    }
    if (!online) await this.markSeen(entry.userId, now);
    return !online;
  }

  async query(userId: string): Promise<PresenceResult> {
    const now = Date.now();
    const devices = this.localDevices(userId);
    let lapsedAt: number | undefined;
    const redis = this.redis;
    if (redis) {
      try {
        const key = this.key('presence', userId);
        const [ lapsed, live ] = await redis.multi()
          .zRangeByScoreWithScores(key, '-inf', `(${now}`)
          .zRangeByScore(key, now, '+inf')
          .zRemRangeByScore(key, '-inf', `(${now}`)
          .exec() as unknown as [Array<{ score: number }>, string[]];
        // This node's own sockets count even before their first write has reached Redis.
        for (const member of live) devices.add(member.slice(member.lastIndexOf('|') + 1));
        // A node that died never said goodbye: its entries lapsed; the user was last seen at its last heartbeat.
        if (lapsed.length > 0) lapsedAt = Math.max(...lapsed.map(e => e.score)) - this.config.ttlMs;
      } catch (err: any) {
        this.app.coreLogger.warn('[egg-im-connection] presence: redis unavailable, answering for this node only: %s', err.message);
      }
    }
    if (devices.size > 0) return { userId, online: true, devices: devices.size };
    if (lapsedAt !== undefined) await this.markSeen(userId, lapsedAt);
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
    this.prunePending(now);
    let count = 0;
    for (const entry of this.local.values()) if (entry.userId === userId) count++;
    for (const { entry } of this.pending.values()) if (entry.userId === userId) count++;
    return count;
  }

  /** Forgets admitted handshakes that never connected (their Redis entries have lapsed by then too). */
  private prunePending(now: number): void {
    for (const [ socketId, { until } ] of this.pending) if (until < now) this.pending.delete(socketId);
  }

  private localDevices(userId: string): Set<string> {
    const devices = new Set<string>();
    for (const entry of this.local.values()) if (entry.userId === userId) devices.add(entry.deviceId);
    return devices;
  }

  /**
   * Writes entries in pipelined chunks, one after another: a heartbeat of 10,000 sockets as one MULTI was
   * a periodic stall (tens of milliseconds building it here, and Redis blocked while running it), seen as
   * the p99 of the message path in the benchmark. No atomicity is needed: each entry stands alone.
   */
  private async write(entries: Entry[]): Promise<void> {
    for (let start = 0; start < entries.length; start += Presence.CHUNK) {
      const redis = this.redis;
      if (!redis) return;
      const now = Date.now();
      const expiresAt = now + this.config.ttlMs;
      const pipeline = redis.multi();
      const users = new Set<string>();
      for (const entry of entries.slice(start, start + Presence.CHUNK)) {
        const key = this.key('presence', entry.userId);
        pipeline.zAdd(key, { score: expiresAt, value: entry.member });
        pipeline.pExpire(key, this.config.ttlMs * 2);
        users.add(entry.userId);
      }
      // Connected now: if this node dies, this is when the user was last seen (see the class comment).
      for (const userId of users) pipeline.set(this.key('lastseen', userId), String(now), { expiration: { type: 'PX', value: this.config.lastSeenTtlMs } });
      await pipeline.execAsPipeline();
    }
  }

  private async markSeen(userId: string, at: number): Promise<void> {
    const previous = await this.app.imCache.get(this.key('lastseen', userId));
    if (previous === undefined || Number(previous) < at) {
      await this.app.imCache.set(this.key('lastseen', userId), String(at), this.config.lastSeenTtlMs);
    }
    // Always stored (the heartbeats above only reach the cache); the table never moves backward.
    await this.app.imStore.users.markSeen(userId, new Date(at));
  }

  private async seenAt(userId: string): Promise<number | undefined> {
    const cached = await this.app.imCache.get(this.key('lastseen', userId));
    if (cached !== undefined) return Number(cached);
    const stored = await this.app.imStore.users.lastSeenAt(userId);
    return stored?.getTime();
  }
}

/** Rejects after `ms` (the command is left to node-redis): a hanging Redis must not hold a handshake. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The heartbeat slice of a socket: stable for the socket's life. */
function sliceOf(socketId: string): number {
  let hash = 0;
  for (let i = 0; i < socketId.length; i++) hash = (hash * 31 + socketId.charCodeAt(i)) | 0;
  return Math.abs(hash) % Presence.SLICES;
}
