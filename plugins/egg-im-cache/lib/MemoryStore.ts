import { LRUCache } from 'lru-cache';
import { ImCacheWrongTypeError } from './errors';
import type { Lease, LeaseRead, MemoryStats, ScoredItem } from './types';

/** A scored window, kept sorted by score (one item per value, like a sorted set). */
interface Window {
  readonly window: readonly ScoredItem[];
}

/** A lease set: each member with its expiry (epoch ms), like a sorted set scored by expiry. Replaced, never changed in place. */
interface LeaseSet {
  readonly leases: ReadonlyMap<string, number>;
}

type Entry = string | readonly string[] | Window | LeaseSet;

const isWindow = (entry: Entry | undefined): entry is Window => typeof entry === 'object' && entry !== null && 'window' in entry;
const isLeaseSet = (entry: Entry | undefined): entry is LeaseSet => typeof entry === 'object' && entry !== null && 'leases' in entry;

function entrySize(value: Entry, key: string): number {
  let bytes = Buffer.byteLength(key);
  if (typeof value === 'string') {
    bytes += Buffer.byteLength(value);
  } else if (isWindow(value)) {
    for (const item of value.window) bytes += Buffer.byteLength(item.value) + 8;
  } else if (isLeaseSet(value)) {
    for (const member of value.leases.keys()) bytes += Buffer.byteLength(member) + 8;
  } else {
    for (const item of value) bytes += Buffer.byteLength(item);
  }
  return Math.max(1, bytes);
}

/**
 * Resolves Redis' LRANGE indexes (inclusive, negative counts from the end) against `length`;
 * returns the [from, to) slice bounds.
 */
export function rangeBounds(length: number, start: number, stop: number): [number, number] {
  let from = start < 0 ? length + start : start;
  let to = stop < 0 ? length + stop : stop;
  if (from < 0) from = 0;
  if (to >= length) to = length - 1;
  if (from > to || from >= length) return [ 0, 0 ];
  return [ from, to + 1 ];
}

/**
 * A bounded in-process key-value store with per-key TTL: at most `maxEntries` entries and
 * `maxBytes` bytes (UTF-8 bytes of keys and values), least recently used first out.
 * Strings and lists live in one key space and, as in Redis, a key holds one type.
 */
export class MemoryStore {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly #lru: LRUCache<string, Entry>;

  constructor(bounds: { maxEntries: number; maxBytes: number }) {
    this.maxEntries = bounds.maxEntries;
    this.maxBytes = bounds.maxBytes;
    this.#lru = new LRUCache<string, Entry>({
      max: bounds.maxEntries,
      maxSize: bounds.maxBytes,
      sizeCalculation: entrySize,
      // expired entries are dropped when read, or evicted as the least recently used
      ttlAutopurge: false,
      updateAgeOnGet: false,
      allowStale: false,
    });
  }

  get(key: string): string | undefined {
    const value = this.#lru.get(key);
    if (value !== undefined && typeof value !== 'string') throw new ImCacheWrongTypeError('get', '?');
    return value;
  }

  mget(keys: readonly string[]): Array<string | undefined> {
    // like MGET: a key of another type reads as missing
    return keys.map(key => {
      const value = this.#lru.get(key);
      return typeof value === 'string' ? value : undefined;
    });
  }

  /** Stores the value for `ttlMs`; false when the entry alone is larger than `maxBytes` (then the key is removed). */
  set(key: string, value: string, ttlMs: number): boolean {
    this.#lru.set(key, value, { ttl: ttlMs });
    return this.#lru.has(key);
  }

  del(keys: readonly string[]): number {
    let deleted = 0;
    for (const key of keys) {
      if (this.#lru.delete(key)) deleted++;
    }
    return deleted;
  }

  /** Appends, keeps the newest `maxLen` items and sets the list's TTL; returns the new length. */
  listPush(key: string, items: readonly string[], maxLen: number, ttlMs: number): number {
    const current = this.#lru.get(key);
    if (current !== undefined && !Array.isArray(current)) throw new ImCacheWrongTypeError('listPush', '?');
    let next = current ? current.concat(items) : items.slice();
    if (next.length > maxLen) next = next.slice(next.length - maxLen);
    // a new array every time: the LRU sizes an entry when it is set
    this.#lru.set(key, next, { ttl: ttlMs });
    return this.#lru.has(key) ? next.length : 0;
  }

  /** Adds items (a value already there takes the new score), keeps the `maxLen` highest scores, sets the TTL. */
  windowAdd(key: string, items: readonly ScoredItem[], maxLen: number, ttlMs: number): void {
    const current = this.#lru.get(key);
    if (current !== undefined && !isWindow(current)) throw new ImCacheWrongTypeError('windowAdd', '?');
    const byValue = new Map((current?.window ?? []).map(item => [ item.value, item ]));
    for (const item of items) byValue.set(item.value, { score: item.score, value: item.value });
    let next = [ ...byValue.values() ].sort((a, b) => a.score - b.score || (a.value < b.value ? -1 : 1));
    if (next.length > maxLen) next = next.slice(next.length - maxLen);
    this.#lru.set(key, { window: next }, { ttl: ttlMs });
  }

  windowRange(key: string, min: number, max: number): ScoredItem[] {
    const current = this.#lru.get(key);
    if (current === undefined) return [];
    if (!isWindow(current)) throw new ImCacheWrongTypeError('windowRange', '?');
    return current.window.filter(item => item.score >= min && item.score <= max);
  }

  listRange(key: string, start: number, stop: number): string[] {
    const list = this.#lru.get(key);
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new ImCacheWrongTypeError('listRange', '?');
    const [ from, to ] = rangeBounds(list.length, start, stop);
    return list.slice(from, to);
  }

  /** Adds or refreshes leases (a member already there takes the new expiry) and sets each lease set's TTL. */
  leasePut(leases: readonly Lease[], keyTtlMs: number): void {
    const sets = new Map<string, Map<string, number>>();
    for (const { key } of leases) {
      if (!sets.has(key)) sets.set(key, new Map(this.#leaseSet(key, 'leasePut')?.leases));
    }
    for (const { key, member, expiresAt } of leases) sets.get(key)!.set(member, expiresAt);
    for (const [ key, members ] of sets) this.#lru.set(key, { leases: members }, { ttl: keyTtlMs });
  }

  /** Adds the lease only while fewer than `limit` leases of its set are live; true when it was added. */
  leaseAcquire({ key, member, expiresAt }: Lease, limit: number, now: number, keyTtlMs: number): boolean {
    const current = this.#leaseSet(key, 'leaseAcquire');
    if (current && liveCount(current.leases, now) >= limit) return false;
    const members = new Map(current?.leases);
    members.set(member, expiresAt);
    this.#lru.set(key, { leases: members }, { ttl: keyTtlMs });
    return true;
  }

  /** Removes one lease; returns how many live leases the set still holds. The set keeps its TTL. */
  leaseRelease(key: string, member: string, now: number): number {
    const current = this.#leaseSet(key, 'leaseRelease');
    if (!current) return 0;
    const members = new Map(current.leases);
    members.delete(member);
    this.#replaceLeases(key, members);
    return liveCount(members, now);
  }

  /** The live members, and the lapsed ones with their expiry, which are removed. */
  leaseRead(key: string, now: number): LeaseRead {
    const current = this.#leaseSet(key, 'leaseRead');
    const read: LeaseRead = { live: [], lapsed: [] };
    if (!current) return read;
    for (const [ member, expiresAt ] of current.leases) {
      if (expiresAt >= now) read.live.push(member);
      else read.lapsed.push({ score: expiresAt, value: member });
    }
    if (read.lapsed.length > 0) {
      read.lapsed.sort((a, b) => a.score - b.score);
      this.#replaceLeases(key, new Map([ ...current.leases ].filter(([ , expiresAt ]) => expiresAt >= now)));
    }
    return read;
  }

  #leaseSet(key: string, op: string): LeaseSet | undefined {
    const current = this.#lru.get(key);
    if (current !== undefined && !isLeaseSet(current)) throw new ImCacheWrongTypeError(op, '?');
    return current;
  }

  /** Stores the set with the TTL it has left; an empty set is deleted (as Redis deletes an empty sorted set). */
  #replaceLeases(key: string, members: Map<string, number>): void {
    const ttl = this.#lru.getRemainingTTL(key);
    if (members.size === 0 || ttl <= 0) {
      this.#lru.delete(key);
      return;
    }
    this.#lru.set(key, { leases: members }, { ttl: Math.max(1, Math.ceil(ttl)) });
  }

  /** Drops everything; returns how many entries there were. */
  clear(): number {
    const entries = this.#lru.size;
    this.#lru.clear();
    return entries;
  }

  stats(): MemoryStats {
    return {
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
    };
  }
}

function liveCount(leases: ReadonlyMap<string, number>, now: number): number {
  let live = 0;
  for (const expiresAt of leases.values()) if (expiresAt >= now) live++;
  return live;
}
