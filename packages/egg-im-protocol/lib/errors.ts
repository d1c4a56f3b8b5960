/** Error codes of the public contract; each keeps one meaning forever. */
export const ErrorStatus = {
  VALIDATION_FAILED: 400,
  UNKNOWN_MESSAGE_TYPE: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  SESSION_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  USERNAME_TAKEN: 409,
  RATE_LIMITED: 429,
  STORE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorStatus;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface FailedReply {
  ok: false;
  error: ErrorBody;
}

/** Longest error message on the wire, in characters. */
export const MAX_MESSAGE_LENGTH = 300;

/** An error the client is meant to see: its code, message and details go on the wire as they are. */
export class ImError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    // Messages may quote what a client sent: a reply never grows with the input.
    super(message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : message);
    this.name = 'ImError';
    this.code = code;
    this.status = ErrorStatus[code];
    this.details = details;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  toReply(): FailedReply {
    return { ok: false, error: this.toBody() };
  }
}

export function isImError(err: unknown): err is ImError {
  return err instanceof ImError;
}

/** The reply for any error: client errors keep their code, everything else is INTERNAL without its message. */
export function errorReply(err: unknown): FailedReply {
  if (isImError(err)) return err.toReply();
  return { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
}
