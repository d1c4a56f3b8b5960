import type { Application, Context } from 'egg';
import { ImError, checkId } from 'egg-im-protocol';
import { checkHostUsername } from './authRoutes';

/** Most users one directory answer holds, and most ids one lookup may name. */
export const DIRECTORY_MAX = 50;
const DEFAULT_LIMIT = 20;

/** The one value of a query parameter given once; VALIDATION_FAILED when it is repeated. */
function single(ctx: Context, name: string): string | undefined {
  const values = ctx.queries[name];
  if (values === undefined) return undefined;
  if (values.length !== 1) throw new ImError('VALIDATION_FAILED', `${name} must be given once`, { field: name });
  return values[0];
}

function checkLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const limit = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= DIRECTORY_MAX)) {
    throw new ImError('VALIDATION_FAILED', `limit must be an integer from 1 to ${DIRECTORY_MAX}`, { field: 'limit' });
  }
  return limit;
}

/**
 * GET users under the IM prefix: the user directory, for a signed-in user to find someone to talk to.
 * `?username=<prefix>&limit=` lists the users whose username starts with it (byte for byte, the exact name
 * first, at most `limit`); `?id=<id>&id=…` names up to 50 users by id, in the order given, unknown ids left
 * out. Each user is `{ userId, username }`: nothing else (presence has its own route and its own scope).
 * Not mounted with `imConnection.directory.enabled: false`.
 */
export function directoryRoutes(app: Application): void {
  if (!app.config.imConnection.directory.enabled) return;
  const { prefix, requireSession } = app.imSessions;

  app.router.get('imUserDirectory', `${prefix}/users`, requireSession, async ctx => {
    const username = single(ctx, 'username');
    const ids = ctx.queries.id;
    if ((username === undefined) === (ids === undefined)) {
      throw new ImError('VALIDATION_FAILED', 'give either username (a prefix) or id (one or more user ids)', { field: 'username' });
    }
    let users: Array<{ id: string; username: string }>;
    if (username !== undefined) {
      users = await app.imStore.users.searchByUsername(checkHostUsername(username), checkLimit(single(ctx, 'limit')));
    } else {
      if (ctx.queries.limit !== undefined) throw new ImError('VALIDATION_FAILED', 'limit goes with username, not with id', { field: 'limit' });
      if (ids!.length > DIRECTORY_MAX) throw new ImError('VALIDATION_FAILED', `at most ${DIRECTORY_MAX} ids`, { field: 'id' });
      users = await app.imStore.users.findUsernames(ids!.map(id => checkId(id, 'id')));
    }
    ctx.body = { users: users.map(user => ({ userId: user.id, username: user.username })) };
  });
}
