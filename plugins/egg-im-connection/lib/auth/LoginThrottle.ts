import assert from 'node:assert';
import { isIP } from 'node:net';
import { ImError } from 'egg-im-protocol';
import type { ImCache, ImCacheLimiter } from 'egg-im-cache';

/** One limit: `points` per `durationMs`, and optionally a block of `blockDurationMs` once it is exceeded. */
export interface LimitConfig {
  points: number;
  durationMs: number;
  blockDurationMs: number;
}

/** `config.imConnection.auth.throttle` */
export interface LoginThrottleConfig {
  /** Login attempts per account (username) that did not succeed; a success clears them. */
  perAccount: LimitConfig;
  /** Login attempts per client address (an IPv6 client: per /64), successful or not. */
  perIp: LimitConfig;
  /** Registrations per client address (each hashes a password too), counted apart from the logins. */
  registrationsPerIp: LimitConfig;
}

interface Logger {
  warn(message: string, ...args: unknown[]): void;
}

/** Validates one limit of `config.imConnection.auth.throttle`; problems are `[egg-im-connection]` assertions. */
function checkLimit(value: unknown, name: string): LimitConfig {
  const where = `config.imConnection.auth.throttle.${name}`;
  assert(value && typeof value === 'object', `[egg-im-connection] ${where} must be { points, durationMs, blockDurationMs }`);
  const { points, durationMs, blockDurationMs = 0 } = value as Partial<LimitConfig>;
  assert(typeof points === 'number' && Number.isInteger(points) && points > 0,
    `[egg-im-connection] ${where}.points must be a positive integer, got ${String(points)}`);
  for (const [ key, ms, min ] of [ [ 'durationMs', durationMs, 1000 ], [ 'blockDurationMs', blockDurationMs, 0 ] ] as const) {
    assert(typeof ms === 'number' && Number.isInteger(ms) && ms >= min && ms % 1000 === 0,
      `[egg-im-connection] ${where}.${key} must be a whole number of seconds in milliseconds${min ? '' : ' (or 0)'}, got ${String(ms)}`);
  }
  return { points, durationMs: durationMs as number, blockDurationMs };
}

export function checkThrottleConfig(config: unknown): LoginThrottleConfig {
  assert(config && typeof config === 'object', '[egg-im-connection] config.imConnection.auth.throttle must be { perAccount, perIp, registrationsPerIp }');
  const { perAccount, perIp, registrationsPerIp } = config as Partial<LoginThrottleConfig>;
  return {
    perAccount: checkLimit(perAccount, 'perAccount'),
    perIp: checkLimit(perIp, 'perIp'),
    registrationsPerIp: checkLimit(registrationsPerIp, 'registrationsPerIp'),
  };
}

/**
 * The key of an account: the username as typed, NFKC-normalized and lower-cased, so that a host's
 * case-insensitive usernames (e-mail addresses) cannot be tried again under another spelling. Built-in
 * usernames are case-sensitive: "Alice" and "alice" then share one count, which only errs on the safe side.
 */
export function accountKey(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/**
 * The key of a client address: IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4), IPv6 by its /64
 * network, since one IPv6 client commonly holds a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (isIP(ip) !== 6) return ip || 'unknown';
  const [ head, tail = '' ] = ip.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [ ...left, ...Array(8 - left.length - right.length).fill('0'), ...right ] : left;
  return `${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Login throttling (POST auth/login): attempts per client address, and attempts per account that did not
 * succeed, both counted with `imCache.limiter` (in Redis, shared by every node). `admit` runs before any
 * password is hashed or the host's check is called: a throttled request costs no scrypt work.
 */
export class LoginThrottle {
  readonly #config: LoginThrottleConfig;
  readonly #logger: Logger;
  #perIp?: ImCacheLimiter;
  #registrationsPerIp?: ImCacheLimiter;
  #perAccount?: ImCacheLimiter;

  /** Validates the config (at start). */
  constructor(config: unknown, logger: Logger) {
    this.#config = checkThrottleConfig(config);
    this.#logger = logger;
  }

  get config(): LoginThrottleConfig {
    return this.#config;
  }

  /** Makes the limiters, once the cache exists (willReady). */
  start(cache: ImCache): void {
    this.#perIp = cache.limiter('login-ip', this.#config.perIp);
    this.#registrationsPerIp = cache.limiter('register-ip', this.#config.registrationsPerIp);
    this.#perAccount = cache.limiter('login-account', this.#config.perAccount);
  }

  /**
   * Counts one attempt for the address and for the account (provisionally as a failure: concurrent guesses
   * are counted before any of them is checked); `RATE_LIMITED` with `details: { retryAfterMs, scope: 'login' }`
   * when either is over its limit. Each refusal is logged once, with the username and the address.
   */
  async admit(username: string, ip: string): Promise<void> {
    const perIp = this.#perIp;
    const perAccount = this.#perAccount;
    assert(perIp && perAccount, '[egg-im-connection] the login throttle is used before the app is ready');
    const byAddress = await perIp.consume(addressKey(ip));
    if (!byAddress.allowed) this.#refuse('attempts from the address', username, ip, byAddress.retryAfterMs);
    const byAccount = await perAccount.consume(accountKey(username));
    if (!byAccount.allowed) this.#refuse('failed attempts for the account', username, ip, byAccount.retryAfterMs);
  }

  /**
   * Counts one registration for the address (`registrationsPerIp`), before the password is hashed:
   * `RATE_LIMITED` with `details: { retryAfterMs, scope: 'register' }` over it.
   */
  async admitRegistration(ip: string): Promise<void> {
    const limiter = this.#registrationsPerIp;
    assert(limiter, '[egg-im-connection] the login throttle is used before the app is ready');
    const decision = await limiter.consume(addressKey(ip));
    if (decision.allowed) return;
    const { retryAfterMs } = decision;
    this.#logger.warn('[egg-im-connection] registration throttled (too many from the address) from %s; retry in %d ms', ip, retryAfterMs);
    throw new ImError('RATE_LIMITED', `too many registrations; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs, scope: 'register' });
  }

  /** The login succeeded: the account's failures are forgotten. */
  async succeeded(username: string): Promise<void> {
    await this.#perAccount?.delete(accountKey(username));
  }

  /** The attempt ended without a verdict on the password (a server error): it does not count against the account. */
  async inconclusive(username: string): Promise<void> {
    await this.#perAccount?.reward(accountKey(username));
  }

  #refuse(what: string, username: string, ip: string, retryAfterMs: number): never {
    // JSON-quoted: a host's usernames may hold quotes and the like; control characters were refused before
    this.#logger.warn('[egg-im-connection] login throttled (too many %s) for username %j from %s; retry in %d ms', what, username, ip, retryAfterMs);
    throw new ImError('RATE_LIMITED', `too many login attempts; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs, scope: 'login' });
  }
}
