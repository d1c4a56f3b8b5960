import { randomBytes } from 'node:crypto';
import type { Application, Context } from 'egg';
import { ID_MAX_LENGTH, ImError, checkId, isId } from 'egg-im-protocol';
import { hashPassword, verifyPassword, type ScryptCost } from '../auth/passwords';
import type { LoginThrottle } from '../auth/LoginThrottle';
import { checkDeviceId, describeValue } from '../auth/hostValues';

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

function body(ctx: Context): Record<string, unknown> {
  const value = ctx.request.body;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ImError('VALIDATION_FAILED', 'a JSON object body is required');
  return value;
}

/** egg-im's own usernames: 3 to 32 letters, digits, "_", "." or "-". */
function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw new ImError('VALIDATION_FAILED', 'username must be 3 to 32 letters, digits, "_", "." or "-"', { field: 'username' });
  }
  return username;
}

/**
 * A username for the host application's own check (`verifyCredentials`): its own rules apply (an email, say),
 * egg-im only bounds it by what its user table holds and keeps control characters out of it (and of the logs).
 */
export function checkHostUsername(username: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof username !== 'string' || username.length === 0 || username.length > 64 || /[\u0000-\u001f\u007f]/.test(username)) {
    throw new ImError('VALIDATION_FAILED', 'username must be 1 to 64 characters without control characters', { field: 'username' });
  }
  return username;
}

function checkPassword(password: unknown, minLength: number): string {
  if (typeof password !== 'string' || password.length < minLength || password.length > 1024) {
    throw new ImError('VALIDATION_FAILED', `password must be a string of ${minLength} to 1024 characters`, { field: 'password' });
  }
  return password;
}

/**
 * POST auth/register, auth/login, auth/logout and GET users/:userId/presence under the IM prefix. Registrations
 * and logins go through `throttle` before any password is hashed (or the host's check is called).
 */
export function authRoutes(app: Application, throttle: LoginThrottle): void {
  const { router } = app;
  const { auth } = app.config.imConnection;
  const { prefix, requireSession } = app.imSessions;

  router.post('imRegister', `${prefix}/auth/register`, async ctx => {
    if (!auth.registration) throw new ImError('FORBIDDEN', 'registration is disabled: users come from the host application');
    const input = body(ctx);
    const username = checkUsername(input.username);
    const password = checkPassword(input.password, auth.minPasswordLength);
    await throttle.admitRegistration(ctx.ip);
    const passwordHash = await hashPassword(password, auth.scrypt);
    const userId = await app.imStore.users.create(username, passwordHash);
    app.coreLogger.info('[egg-im-connection] user %s registered', userId);
    ctx.status = 201;
    ctx.body = { userId };
  });

  router.post('imLogin', `${prefix}/auth/login`, async ctx => {
    const input = body(ctx);
    const username = auth.verifyCredentials ? checkHostUsername(input.username) : checkUsername(input.username);
    const password = checkPassword(input.password, 1);
    const deviceId = checkDeviceId(input.deviceId === undefined ? `dev_${randomBytes(9).toString('base64url')}` : input.deviceId);
    await throttle.admit(username, ctx.ip);
    let userId: string | undefined;
    try {
      userId = await verify(app, ctx, username, password);
    } catch (err) {
      // no verdict on the password (store down, a broken host function, a taken username): not a failure
      await throttle.inconclusive(username);
      throw err;
    }
    if (!userId) {
      app.coreLogger.info('[egg-im-connection] failed login for username %j from %s', username, ctx.ip);
      throw new ImError('INVALID_CREDENTIALS', 'wrong username or password');
    }
    await throttle.succeeded(username);
    ctx.body = await app.imSessions.create(userId, deviceId);
  });

  router.post('imLogout', `${prefix}/auth/logout`, requireSession, async ctx => {
    await app.imSessions.revoke(ctx.imSession);
    ctx.status = 204;
  });

  router.get('imPresence', `${prefix}/users/:userId/presence`, requireSession, async ctx => {
    const userId = checkId(ctx.params.userId, 'userId');
    if (!await visible(app, ctx.imSession.userId, userId)) {
      // the same answer for a user that does not exist and for one the viewer may not see
      throw new ImError('NOT_FOUND', `user ${userId} not found`, { userId });
    }
    ctx.body = await app.imSockets.presence.query(userId);
  });
}

/**
 * Whether `viewer` may see the presence of `userId` (`imConnection.presence.visibleTo`): their own always;
 * with `contacts` (the default) only users who sent or read a message in a conversation they share (which also
 * implies that the user exists); with `everyone` any user that exists.
 */
async function visible(app: Application, viewer: string, userId: string): Promise<boolean> {
  if (viewer === userId) return true;
  if (app.config.imConnection.presence.visibleTo === 'everyone') return app.imStore.users.exists(userId);
  return app.imStore.conversations.isContact(viewer, userId);
}

/** The host app's own credential check when configured, else egg-im's user table. */
async function verify(app: Application, ctx: Context, username: string, password: string): Promise<string | undefined> {
  const { verifyCredentials, scrypt } = app.config.imConnection.auth;
  if (verifyCredentials) {
    const result = await verifyCredentials({ username, password }, ctx);
    if (!result) return undefined;
    const { userId } = result;
    if (!isId(userId)) {
      // The host's function broke its contract: a server error, not the client's. The value is not echoed.
      throw new Error(`[egg-im-connection] verifyCredentials must resolve to { userId } with an id (1 to ${ID_MAX_LENGTH} characters, `
        + `no control or format characters, no surrounding whitespace), or null; got ${describeValue(userId)}`);
    }
    await app.imStore.users.ensure(userId, username);
    return userId;
  }
  const user = await app.imStore.users.findByUsername(username);
  // Unknown users (and users without a password) cost a hash too, at the configured cost, so the
  // response time does not tell which usernames exist.
  const ok = await verifyPassword(password, user?.passwordHash ?? dummyHash(scrypt));
  return ok && user?.passwordHash ? user.id : undefined;
}

const dummyHashes = new Map<string, string>();

/** A well-formed hash of the configured cost that no password matches (the key is all zeros, the salt random). */
function dummyHash(cost: ScryptCost): string {
  const id = `${cost.N}$${cost.r}$${cost.p}`;
  let hash = dummyHashes.get(id);
  if (!hash) {
    hash = [ 'scrypt', id, randomBytes(16).toString('base64url'), Buffer.alloc(32).toString('base64url') ].join('$');
    dummyHashes.set(id, hash);
  }
  return hash;
}
