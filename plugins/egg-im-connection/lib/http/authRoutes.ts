import { randomBytes } from 'node:crypto';
import type { Application, Context } from 'egg';
import { ImError } from 'egg-im-protocol';
import { hashPassword, verifyPassword } from '../auth/passwords';

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

function body(ctx: Context): Record<string, unknown> {
  const value = ctx.request.body;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ImError('VALIDATION_FAILED', 'a JSON object body is required');
  return value;
}

function credentials(ctx: Context, minPassword: number) {
  const { username, password } = body(ctx);
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw new ImError('VALIDATION_FAILED', 'username must be 3 to 32 letters, digits, "_", "." or "-"', { field: 'username' });
  }
  if (typeof password !== 'string' || password.length < minPassword || password.length > 1024) {
    throw new ImError('VALIDATION_FAILED', `password must be a string of ${minPassword} to 1024 characters`, { field: 'password' });
  }
  return { username, password };
}

/** POST auth/register, auth/login, auth/logout and GET users/:userId/presence under the IM prefix. */
export function authRoutes(app: Application): void {
  const { router } = app;
  const { prefix } = app.config.im.http;
  const { auth } = app.config.imConnection;
  const { requireSession } = app.imSessions;

  router.post('imRegister', `${prefix}/auth/register`, async ctx => {
    if (!auth.registration) throw new ImError('FORBIDDEN', 'registration is disabled: users come from the host application');
    const { username, password } = credentials(ctx, auth.minPasswordLength);
    const passwordHash = await hashPassword(password, auth.scrypt);
    const userId = await app.imStore.users.create(username, passwordHash);
    app.coreLogger.info('[egg-im-connection] user %s registered', userId);
    ctx.status = 201;
    ctx.body = { userId };
  });

  router.post('imLogin', `${prefix}/auth/login`, async ctx => {
    const { username, password } = credentials(ctx, 1);
    const { deviceId = `dev_${randomBytes(9).toString('base64url')}` } = body(ctx);
    if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
      throw new ImError('VALIDATION_FAILED', 'deviceId must be 1 to 64 letters, digits, "_", ".", ":" or "-"', { field: 'deviceId' });
    }
    const userId = await verify(app, ctx, username, password);
    if (!userId) {
      app.coreLogger.info('[egg-im-connection] failed login for username %s', username);
      throw new ImError('INVALID_CREDENTIALS', 'wrong username or password');
    }
    ctx.body = await app.imSessions.create(userId, deviceId);
  });

  router.post('imLogout', `${prefix}/auth/logout`, requireSession, async ctx => {
    await app.imSessions.revoke(ctx.imSession);
    ctx.status = 204;
  });

  router.get('imPresence', `${prefix}/users/:userId/presence`, requireSession, async ctx => {
    ctx.body = await app.imSockets.presence.query(ctx.params.userId);
  });
}

/** The host app's own credential check when configured, else egg-im's user table. */
async function verify(app: Application, ctx: Context, username: string, password: string): Promise<string | undefined> {
  const custom = app.config.imConnection.auth.verifyCredentials;
  if (custom) {
    const result = await custom({ username, password }, ctx);
    if (!result) return undefined;
    await app.imStore.users.ensure(result.userId, username);
    return result.userId;
  }
  const user = await app.imStore.users.findByUsername(username);
  // Unknown users cost a hash too, so timing does not tell which usernames exist.
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  return ok && user ? user.id : undefined;
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
