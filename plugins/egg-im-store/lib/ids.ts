import { randomFillSync } from 'node:crypto';

// Random bytes are drawn from a pool refilled 512 ids at a time: one system call per id was measurable
// on the message path (an id per message).
const pool = Buffer.alloc(8 * 512);
let offset = pool.length;

function random8(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  offset += 8;
  return pool.toString('hex', offset - 8, offset);
}

/**
 * A new id for a `varchar(32)` key: prefix, milliseconds in base 36 (so ids of one kind sort roughly by
 * creation), and 64 random bits in hex. `newId('u_')` is 27 characters.
 */
export function newId(prefix: string): string {
  const id = `${prefix}${Date.now().toString(36)}${random8()}`;
  if (id.length > 32) throw new Error(`[egg-im-store] id prefix "${prefix}" is too long for a varchar(32) key`);
  return id;
}
