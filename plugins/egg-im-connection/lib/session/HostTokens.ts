import type { IncomingHttpHeaders } from 'node:http';
import { ID_MAX_LENGTH, ImError, isId, isImError } from 'egg-im-protocol';
import { describeValue } from '../auth/hostValues';

/** The request a token came with, as the host's `verifyToken` is told. */
export interface TokenRequest {
  transport: 'socket' | 'http';
  /** The HTTP request's headers, or the socket handshake's. */
  headers: IncomingHttpHeaders;
}

/** What the host's `verifyToken` resolves to for a token it accepts. */
export interface HostTokenResult {
  /** An id of egg-im's grammar (`isId` of egg-im-protocol). */
  userId: string;
  /** When the token stops being valid: a Date or epoch milliseconds (a JWT's `exp` is seconds: times 1000). */
  expiresAt?: Date | number;
}

/**
 * The host application's own token check (`imConnection.auth.verifyToken`, or `app.imSessions.verifyToken = …`):
 * `{ userId, expiresAt? }` for a token it accepts, null (or undefined) for one it refuses. A throw is a failure
 * of the check, not a refusal: logged, and the client gets INTERNAL (an `ImError` thrown goes to the client as it is).
 */
export type VerifyToken = (token: string, request: TokenRequest) => Promise<HostTokenResult | null | undefined>;

/** The host's verdict on a token: the user and when it ends (epoch ms, Infinity for never), or null when refused. */
export type HostVerdict = { userId: string; expiresAt: number } | null;

export interface TokenCacheConfig {
  /** How long a verdict is kept (never past the token's expiry); 0: the host is asked on every request. */
  ttlMs: number;
  /** Verdicts kept at most (the least recently used goes first). */
  max: number;
}

export interface HostTokenLogger {
  error(err: Error): void;
}

/** Epoch ms below this (March 1973) are taken for seconds given where milliseconds were meant. */
const MIN_EPOCH_MS = 1e11;

/**
 * Asks the host application's `verifyToken` about tokens that are not egg-im's own. Verdicts (refusals too) are
 * kept in this process by the token's hash, for `ttlMs` at most and never past the token's expiry, in a bounded
 * LRU; requests with the same token while the host is being asked share its answer. So a storm of handshakes
 * or requests with one token costs one call per node and per `ttlMs`. Every accepted user id is mirrored
 * (`mirror`) before its verdict is kept, so a verdict in the cache is a user egg-im has.
 */
export class HostTokens {
  private readonly verdicts = new Map<string, { verdict: HostVerdict; until: number }>();
  private readonly pending = new Map<string, Promise<HostVerdict>>();
  /** Bumped by `clear()`: an answer asked for before is not kept after. */
  private generation = 0;

  constructor(
    private readonly cache: TokenCacheConfig,
    private readonly mirror: (userId: string) => Promise<void>,
    private readonly logger: HostTokenLogger,
  ) {}

  /** Forgets every verdict, and those being asked for (the verifier was replaced). */
  clear(): void {
    this.verdicts.clear();
    this.pending.clear();
    this.generation++;
  }

  /** True when a verdict on the token is kept, or being asked for: `verify` would not call the host anew. */
  knows(tokenHash: string): boolean {
    const kept = this.verdicts.get(tokenHash);
    return (kept !== undefined && kept.until > Date.now()) || this.pending.has(tokenHash);
  }

  /** The verdict on `token` (`tokenHash`: its SHA-256; `sessionId`: its name in the logs). */
  verify(verifyToken: VerifyToken, token: string, tokenHash: string, sessionId: string, request: TokenRequest): Promise<HostVerdict> {
    const kept = this.verdicts.get(tokenHash);
    if (kept) {
      this.verdicts.delete(tokenHash);
      if (kept.until > Date.now()) {
        this.verdicts.set(tokenHash, kept); // the most recently used, last
        return Promise.resolve(kept.verdict);
      }
    }
    const asked = this.pending.get(tokenHash);
    if (asked) return asked;
    const answer: Promise<HostVerdict> = this.ask(verifyToken, token, tokenHash, sessionId, request).finally(() => {
      if (this.pending.get(tokenHash) === answer) this.pending.delete(tokenHash);
    });
    this.pending.set(tokenHash, answer);
    return answer;
  }

  private async ask(verifyToken: VerifyToken, token: string, tokenHash: string, sessionId: string, request: TokenRequest): Promise<HostVerdict> {
    const generation = this.generation;
    let result: unknown;
    try {
      result = await verifyToken(token, request);
    } catch (err) {
      // The host's own answer for the client (SESSION_EXPIRED, say) goes as it is; not kept.
      if (isImError(err)) throw err;
      this.logger.error(hostFailure(`verifyToken threw for session ${sessionId} (${request.transport})`, err, token));
      throw new ImError('INTERNAL', 'could not check the token');
    }
    const verdict = checkResult(result);
    if (verdict) await this.mirror(verdict.userId);
    if (generation === this.generation) this.keep(tokenHash, verdict);
    return verdict;
  }

  private keep(tokenHash: string, verdict: HostVerdict): void {
    const { ttlMs, max } = this.cache;
    const now = Date.now();
    const until = Math.min(now + ttlMs, verdict ? verdict.expiresAt : Infinity);
    if (until <= now) return;
    this.verdicts.delete(tokenHash);
    // Oldest (least recently used) first: drop what has lapsed, then make room.
    for (const [ hash, kept ] of this.verdicts) {
      if (kept.until > now && this.verdicts.size < max) break;
      this.verdicts.delete(hash);
    }
    this.verdicts.set(tokenHash, { verdict, until });
  }
}

/** The host's result as a verdict, or an `[egg-im-connection]` error naming its broken contract (values never echoed). */
function checkResult(result: unknown): HostVerdict {
  if (result === null || result === undefined) return null;
  if (typeof result !== 'object') throw contractError(`got a ${typeof result}`);
  const { userId, expiresAt } = result as Record<string, unknown>;
  if (!isId(userId)) throw contractError(`got a userId that is ${describeValue(userId)}`);
  if (expiresAt === undefined || expiresAt === null) return { userId, expiresAt: Infinity };
  const at = expiresAt instanceof Date ? expiresAt.getTime() : typeof expiresAt === 'number' ? expiresAt : NaN;
  if (!Number.isFinite(at)) {
    const what = expiresAt instanceof Date ? 'an invalid Date' : typeof expiresAt === 'number' ? `the number ${at}` : `a ${typeof expiresAt}`;
    throw contractError(`got an expiresAt that is ${what}, not a Date or epoch milliseconds`);
  }
  if (at < MIN_EPOCH_MS) throw contractError('got an expiresAt before 1973: epoch seconds instead of milliseconds? (a JWT\'s exp times 1000)');
  return { userId, expiresAt: at };
}

function contractError(what: string): Error {
  return new Error(`[egg-im-connection] verifyToken must resolve to { userId, expiresAt? } with an id (1 to ${ID_MAX_LENGTH} characters, `
    + `no control or format characters, no surrounding whitespace) and a Date or epoch milliseconds, or to null; ${what}`);
}

/**
 * An error to log for a host function that threw, with its own name, message and stack, where every occurrence
 * of the token is replaced by `[token]` (a library may quote what it failed to parse).
 */
export function hostFailure(what: string, err: unknown, token: string): Error {
  const scrub = (text: string) => text.split(token).join('[token]');
  const logged = new Error(`[egg-im-connection] ${what}`);
  const cause = err instanceof Error ? err.stack ?? `${err.name}: ${err.message}` : typeof err === 'string' ? err : `a thrown ${describeValue(err)}`;
  logged.stack = `${logged.stack}\nCaused by: ${scrub(cause)}`;
  return logged;
}
