import assert from 'node:assert';
import type { EggAppConfig } from 'egg';
import { checkThrottleConfig } from './auth/LoginThrottle';

export const DEFAULT_HTTP_PREFIX = '/im';
/** One or more path segments, each `/` and at least one URL-safe character; no trailing `/`. */
const HTTP_PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

function positiveInt(value: unknown, name: string): void {
  assert(typeof value === 'number' && Number.isInteger(value) && value > 0,
    `[egg-im-connection] config.imConnection.${name} must be a positive integer, got ${String(value)}`);
}

/**
 * Checks the options that guard the service (caps per user, who sees presence, the host's functions and the
 * cache of their verdicts) at start: a wrong value stops the app with an
 * `[egg-im-connection] config.imConnection.…` assertion instead of turning a limit off.
 */
export function checkConfig(config: EggAppConfig['imConnection']): void {
  const prefix: unknown = config.http?.prefix;
  assert(typeof prefix === 'string' && HTTP_PREFIX.test(prefix), '[egg-im-connection] config.imConnection.http.prefix must be a path such as "/im"'
    + ` (segments of letters, digits, ".", "_", "~" or "-"; no trailing "/"), got ${JSON.stringify(prefix)}`);
  for (const name of [ 'rateLimit', 'userRateLimit' ] as const) {
    positiveInt(config[name]?.burst, `${name}.burst`);
    const perSecond: unknown = config[name]?.perSecond;
    assert(typeof perSecond === 'number' && Number.isFinite(perSecond) && perSecond > 0,
      `[egg-im-connection] config.imConnection.${name}.perSecond must be a number above 0, got ${String(perSecond)}`);
  }
  positiveInt(config.socket?.maxPerUser, 'socket.maxPerUser');
  positiveInt(config.session?.maxPerUser, 'session.maxPerUser');
  positiveInt(config.nodes?.confirmAfterMs, 'nodes.confirmAfterMs');
  const lingerMs: unknown = config.nodes?.lingerMs;
  // A confirmation must not answer before what was published ahead of it has left.
  assert(typeof lingerMs === 'number' && Number.isInteger(lingerMs) && lingerMs >= 0 && lingerMs <= config.nodes.confirmAfterMs / 10,
    `[egg-im-connection] config.imConnection.nodes.lingerMs must be an integer from 0 to nodes.confirmAfterMs / 10, got ${String(lingerMs)}`);
  for (const name of [ 'verifyCredentials', 'verifyToken', 'userExists' ] as const) {
    const hook: unknown = config.auth?.[name];
    assert(hook === undefined || hook === null || typeof hook === 'function',
      `[egg-im-connection] config.imConnection.auth.${name} must be a function (or unset), got ${hook === null ? 'null' : typeof hook}`);
  }
  const ttlMs: unknown = config.auth?.tokenCache?.ttlMs;
  assert(typeof ttlMs === 'number' && Number.isInteger(ttlMs) && ttlMs >= 0,
    `[egg-im-connection] config.imConnection.auth.tokenCache.ttlMs must be an integer of 0 or more, got ${String(ttlMs)}`);
  positiveInt(config.auth?.tokenCache?.max, 'auth.tokenCache.max');
  checkThrottleConfig(config.auth?.throttle);
  const visibleTo: unknown = config.presence?.visibleTo;
  assert(visibleTo === 'contacts' || visibleTo === 'everyone',
    `[egg-im-connection] config.imConnection.presence.visibleTo must be 'contacts' or 'everyone', got ${JSON.stringify(visibleTo)}`);
  const directory: unknown = config.directory?.enabled;
  assert(typeof directory === 'boolean', `[egg-im-connection] config.imConnection.directory.enabled must be true or false, got ${JSON.stringify(directory)}`);
}
