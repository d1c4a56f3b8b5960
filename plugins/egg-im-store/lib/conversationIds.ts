import { createHash } from 'node:crypto';
import { ID_MAX_LENGTH } from 'egg-im-protocol';

const PLAIN_ID = /^[A-Za-z0-9_.-]+$/;

/**
 * One conversation per pair of users, whoever writes first: its id is derived from the two ids, and no two
 * pairs may share it. `d:<a>:<b>` is unambiguous only while ids hold no `:`; host-app user ids may (e.g.
 * `tenant:42`), so such a pair gets `dh:` and a hash of the pair instead (`d:a:b:c` would be both (a, b:c) and (a:b, c)),
 * and so does a pair whose plain form would be longer than an id may be.
 */
export function directConversationId(a: string, b: string): string {
  const [ x, y ] = a < b ? [ a, b ] : [ b, a ];
  if (PLAIN_ID.test(x) && PLAIN_ID.test(y) && x.length + y.length + 3 <= ID_MAX_LENGTH) return `d:${x}:${y}`;
  return `dh:${createHash('sha256').update(JSON.stringify([ x, y ])).digest('hex').slice(0, 40)}`;
}

/** A group's one conversation. */
export const groupConversationId = (groupId: string) => `g:${groupId}`;
