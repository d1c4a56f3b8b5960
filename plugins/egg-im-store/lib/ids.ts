import { randomBytes } from 'node:crypto';

/**
 * A new id for a `varchar(32)` key: prefix, milliseconds in base 36 (so ids of one kind sort roughly by
 * creation), and 64 random bits in hex. `newId('u_')` is 27 characters.
 */
export function newId(prefix: string): string {
  const id = `${prefix}${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
  if (id.length > 32) throw new Error(`[egg-im-store] id prefix "${prefix}" is too long for a varchar(32) key`);
  return id;
}
