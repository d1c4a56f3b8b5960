import type { ErrorBody, ErrorCode } from 'egg-im-protocol';

/**
 * Codes the client itself produces, besides the server's contract codes:
 * - `TIMEOUT`: no ack / answer in time (a socket call or an HTTP request);
 * - `DISCONNECTED`: the socket dropped while a call was in flight, or it will not reconnect;
 * - `NOT_CONNECTED`: a socket call before `connect()`;
 * - `CLOSED`: the client was closed while the call waited;
 * - `NETWORK_ERROR`: `fetch` failed or the socket could not reach the server;
 * - `BAD_RESPONSE`: the server answered something that is not the contract's shape.
 */
export type LocalErrorCode = 'TIMEOUT' | 'DISCONNECTED' | 'NOT_CONNECTED' | 'CLOSED' | 'NETWORK_ERROR' | 'BAD_RESPONSE';

/** A contract code, a local code, or a code a newer server added (kept as it came). */
export type ClientErrorCode = ErrorCode | LocalErrorCode | (string & Record<never, never>);

/** Server codes after which the same call may be repeated (the server did not accept it). */
const RETRYABLE_SERVER_CODES: ReadonlySet<string> = new Set([ 'STORE_UNAVAILABLE', 'RATE_LIMITED' ]);
/** Local codes after which an idempotent call may be repeated. */
const RETRYABLE_LOCAL_CODES: ReadonlySet<string> = new Set([ 'TIMEOUT', 'DISCONNECTED', 'NETWORK_ERROR' ]);

/** Every failure of the client: a server error body (`code`, `message`, `details`, HTTP `status`) or a local one. */
export class ImClientError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status of a failed HTTP call; absent for socket calls and local errors. */
  readonly status?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ClientErrorCode, message: string, options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message);
    this.name = 'ImClientError';
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.details !== undefined) this.details = options.details;
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }

  /** From the contract's error body `{ code, message, details? }` (anything else is `BAD_RESPONSE`). */
  static fromBody(body: unknown, status?: number): ImClientError {
    if (isErrorBody(body)) {
      return new ImClientError(body.code, body.message, { status, details: body.details });
    }
    return new ImClientError('BAD_RESPONSE', `[egg-im-client] unexpected error answer${status === undefined ? '' : ` (HTTP ${status})`}`, { status });
  }

  /** Whether repeating the same (idempotent) call may succeed. */
  get retryable(): boolean {
    return RETRYABLE_SERVER_CODES.has(this.code) || RETRYABLE_LOCAL_CODES.has(this.code);
  }

  /** For `RATE_LIMITED`: how long the server asks to wait, when it said so. */
  get retryAfterMs(): number | undefined {
    const value = this.details?.retryAfterMs;
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
  }
}

export function isImClientError(err: unknown): err is ImClientError {
  return err instanceof ImClientError;
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false;
  const { code, message, details } = body as Record<string, unknown>;
  return typeof code === 'string' && typeof message === 'string' &&
    (details === undefined || (typeof details === 'object' && details !== null));
}
