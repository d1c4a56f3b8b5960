import { redactServerMessage } from './redactDbError';

/**
 * Which database errors are worth retrying.
 *
 * - `connection`: the database (or the way to it) is down, restarting or saturated. Retried; after the
 *   budget `withRetry` reports `STORE_UNAVAILABLE`.
 * - `contention`: a deadlock or lock wait timeout: the statement was rolled back and may simply be run
 *   again. Retried; after the budget it is `STORE_UNAVAILABLE` too (the work was not applied).
 * Everything else (constraint violations, syntax, access denied, …) is not transient.
 */
export type TransientKind = 'connection' | 'contention';

const CONNECTION_CODES = new Set([
  // mysql2 protocol and socket errors
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_PACKETS_OUT_OF_ORDER',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  // server side: too many connections, shutting down, connection killed
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_NET_READ_ERROR',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
  'ER_NET_WRITE_INTERRUPTED',
  // this package: no pooled connection in time, health probe timed out
  'POOL_ACQUIRE_TIMEOUT',
  'STORE_CHECK_TIMEOUT',
]);

const CONTENTION_CODES = new Set([
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_LOCKED',
]);

/** mysql2 reports some pool and socket states by message only. */
const CONNECTION_MESSAGES = [
  /Pool is closed/i,
  /Can't add new command when connection is in closed state/i,
  /Connection lost/i,
  /Queue limit reached/i,
  /No connections available/i,
  /connect ETIMEDOUT/i,
];

interface ErrorLike {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and the errors it wraps (TypeORM's `driverError`, `cause`, an AggregateError's `errors`). */
function* chain(err: unknown, depth = 0): Generator<ErrorLike> {
  if (!err || typeof err !== 'object' || depth > 4) return;
  const e = err as ErrorLike;
  yield e;
  if (e.driverError && e.driverError !== err) yield* chain(e.driverError, depth + 1);
  if (e.cause && e.cause !== err) yield* chain(e.cause, depth + 1);
  if (Array.isArray(e.errors)) for (const inner of e.errors.slice(0, 4)) yield* chain(inner, depth + 1);
}

/** 'connection', 'contention', or null when retrying would not help. */
export function transientKind(err: unknown): TransientKind | null {
  let kind: TransientKind | null = null;
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && CONNECTION_CODES.has(code)) return 'connection';
    if (code && CONTENTION_CODES.has(code)) kind = 'contention';
    const message = typeof e.message === 'string' ? e.message : '';
    if (message && CONNECTION_MESSAGES.some(re => re.test(message))) return 'connection';
  }
  return kind;
}

/** True for errors a retry may cure: lost or refused connections, a saturated server, deadlocks, lock waits. */
export function isTransientDbError(err: unknown): boolean {
  return transientKind(err) !== null;
}

/** True when the error says the pool itself is unusable (closed, or handing out dead connections). */
export function isBrokenPoolError(err: unknown): boolean {
  for (const e of chain(err)) {
    const message = typeof e.message === 'string' ? e.message : '';
    if (/Pool is closed|Can't add new command when connection is in closed state/i.test(message)) return true;
  }
  return false;
}

/** A short, loggable description: the driver's code, else the message (first line, bounded, quoted values replaced). */
export function describeDbError(err: unknown): string {
  let code: string | undefined;
  let message: string | undefined;
  for (const e of chain(err)) {
    if (!code && typeof e.code === 'string' && e.code) code = e.code;
    if (!message && typeof e.message === 'string' && e.message) message = redactServerMessage(e.message.split('\n')[0]).slice(0, 300);
  }
  if (code && message && !message.includes(code)) return `${code}: ${message}`;
  return message || code || String(err);
}

/** The driver's error code, if any. */
export function dbErrorCode(err: unknown): string | undefined {
  for (const e of chain(err)) if (typeof e.code === 'string' && e.code) return e.code;
  return undefined;
}

/** A UNIQUE or PRIMARY KEY violation (MySQL ER_DUP_ENTRY, SQLite SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY). */
export function isDuplicateKeyError(err: unknown): boolean {
  for (const e of chain(err)) {
    if (e.code === 'ER_DUP_ENTRY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return true;
  }
  return false;
}
