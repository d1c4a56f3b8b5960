import { LRUCache } from 'lru-cache';
import { ImCacheWrongTypeError } from './errors';
import type { MemoryStats, ScoredItem } from './types';

/** A scored window, kept sorted by score (one item per value, like a sorted set). */
interface Window {
  readonly window: readonly ScoredItem[];
}

type Entry = string | readonly string[] | Window;

const isWindow = (entry: Entry | undefined): entry is Window => typeof entry === 'object' && entry !== null && 'window' in entry;

function entrySize(value: Entry, key: string): number {
  let bytes = Buffer.byteLength(key);
  if (typeof value === 'string') {
    bytes += Buffer.byteLength(value);
  } else if (isWindow(value)) {
    for (const item of value.window) bytes += Buffer.byteLength(item.value) + 8;
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
    if (typeof current === 'string' || isWindow(current)) throw new ImCacheWrongTypeError('listPush', '?');
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
    if (typeof list === 'string' || isWindow(list)) throw new ImCacheWrongTypeError('listRange', '?');
    const [ from, to ] = rangeBounds(list.length, start, stop);
    return list.slice(from, to);
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
