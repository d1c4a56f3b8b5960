import assert from 'node:assert';
import { isIP } from 'node:net';
import { ImError } from 'egg-im-protocol';
import type { ImCache, ImCacheLimiter } from 'egg-im-cache';
import { WarningDigest } from 'egg-im-metrics';

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
  /** Lookups of tokens that no cache knows and that name no session (database or host `verifyToken`), per client address. */
  unknownTokensPerIp: LimitConfig;
}

interface Logger {
  warn(message: string, ...args: unknown[]): void;
  error(err: Error): void;
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
  assert(config && typeof config === 'object',
    '[egg-im-connection] config.imConnection.auth.throttle must be { perAccount, perIp, registrationsPerIp, unknownTokensPerIp }');
  const { perAccount, perIp, registrationsPerIp, unknownTokensPerIp } = config as Partial<LoginThrottleConfig>;
  return {
    perAccount: checkLimit(perAccount, 'perAccount'),
    perIp: checkLimit(perIp, 'perIp'),
    registrationsPerIp: checkLimit(registrationsPerIp, 'registrationsPerIp'),
    unknownTokensPerIp: checkLimit(unknownTokensPerIp, 'unknownTokensPerIp'),
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
 * Throttling of what a client without a session can make the node do, each counted with `imCache.limiter` (in
 * Redis, shared by every node): login attempts per client address and failed ones per account (`admit` runs
 * before any password is hashed or the host's check is called: a throttled request costs no scrypt work),
 * registrations per address, and lookups of unknown tokens per address (before the database or the host's
 * `verifyToken` is asked). Refusals are logged through a `WarningDigest`: the first at once, then one line per
 * interval, so that a client cannot flood the log either.
 */
export class LoginThrottle {
  readonly #config: unknown;
  readonly #logger: Logger;
  #perIp?: ImCacheLimiter;
  #registrationsPerIp?: ImCacheLimiter;
  #perAccount?: ImCacheLimiter;
  #unknownTokensPerIp?: ImCacheLimiter;
  readonly #loginsRefused: WarningDigest;
  readonly #registrationsRefused: WarningDigest;
  readonly #lookupsRefused: WarningDigest;

  /** `config` is checked by the plugin's `checkConfig` at start (`checkThrottleConfig`). */
  constructor(config: unknown, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#loginsRefused = new WarningDigest(logger, '[egg-im-connection] login throttled');
    this.#registrationsRefused = new WarningDigest(logger, '[egg-im-connection] registration throttled (too many from the address)');
    this.#lookupsRefused = new WarningDigest(logger, '[egg-im-connection] token lookups throttled (too many unknown tokens from the address)');
  }

  get config(): LoginThrottleConfig {
    return checkThrottleConfig(this.#config);
  }

  /** Makes the limiters, once the cache exists (willReady). */
  start(cache: ImCache): void {
    const config = this.config;
    this.#perIp = cache.limiter('login-ip', config.perIp);
    this.#registrationsPerIp = cache.limiter('register-ip', config.registrationsPerIp);
    this.#perAccount = cache.limiter('login-account', config.perAccount);
    this.#unknownTokensPerIp = cache.limiter('token-ip', config.unknownTokensPerIp);
  }

  /** The app closes: the refusals counted since the last line are written. */
  stop(): void {
    this.#loginsRefused.flush();
    this.#registrationsRefused.flush();
    this.#lookupsRefused.flush();
  }

  /**
   * Counts one attempt for the address and for the account (provisionally as a failure: concurrent guesses
   * are counted before any of them is checked); `RATE_LIMITED` with `details: { retryAfterMs, scope: 'login' }`
   * when either is over its limit.
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
    await this.#admitAddress(this.#registrationsPerIp, ip, this.#registrationsRefused, 'register', 'too many registrations');
  }

  /**
   * Before the database or the host's `verifyToken` is asked about a token no cache knows: counts one lookup for the
   * address, `RATE_LIMITED` with `details: { retryAfterMs, scope: 'token' }` over `unknownTokensPerIp`. Counted
   * first, so that parallel requests cannot all pass one reading of the count. Gives back the function that returns
   * the point (never throws), for a lookup that found a live session.
   */
  async admitTokenLookup(ip: string): Promise<() => void> {
    const limiter = this.#unknownTokensPerIp;
    await this.#admitAddress(limiter, ip, this.#lookupsRefused, 'token', 'too many unknown tokens');
    return () => {
      limiter!.reward(addressKey(ip))
        .catch(err => this.#logger.error(new Error(`[egg-im-connection] a token lookup from ${ip} was not given back to its limit`, { cause: err })));
    };
  }

  /** The login succeeded: the account's failures are forgotten. */
  async succeeded(username: string): Promise<void> {
    await this.#perAccount?.delete(accountKey(username));
  }

  /** The attempt ended without a verdict on the password (a server error): it does not count against the account. */
  async inconclusive(username: string): Promise<void> {
    await this.#perAccount?.reward(accountKey(username));
  }

  /** One point of the address's `limiter`, or `RATE_LIMITED` with `details: { retryAfterMs, scope }` (noted in `refusals`). */
  async #admitAddress(limiter: ImCacheLimiter | undefined, ip: string, refusals: WarningDigest, scope: string, message: string): Promise<void> {
    assert(limiter, '[egg-im-connection] the login throttle is used before the app is ready');
    const decision = await limiter.consume(addressKey(ip));
    if (decision.allowed) return;
    const { retryAfterMs } = decision;
    refusals.add(`from ${ip}`);
    throw new ImError('RATE_LIMITED', `${message}; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs, scope });
  }

  #refuse(what: string, username: string, ip: string, retryAfterMs: number): never {
    // JSON-quoted: a host's usernames may hold quotes and the like; control characters were refused before
    this.#loginsRefused.add(`too many ${what}, username ${JSON.stringify(username)} from ${ip}`);
    throw new ImError('RATE_LIMITED', `too many login attempts; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs, scope: 'login' });
  }
}
