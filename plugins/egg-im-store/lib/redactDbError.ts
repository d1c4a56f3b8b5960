import { isImError } from 'egg-im-protocol';

const MAX_SHAPE = 1000;

/**
 * A statement with its values taken out: string, hex and number literals become `?`, whitespace is one space,
 * and it is cut at 1000 characters. mysql2 puts a failed statement on its error with every value inlined
 * (a write batch: other users' message bodies), so only this shape may be logged.
 */
export function statementShape(sql: string): string {
  // One pass from left to right, so that what is inside a string is never read as anything else.
  const shape = sql
    .replace(LITERAL, (literal, offset: number, whole: string) =>
      (/^[\d-]/.test(literal) && /[\w@$.`]/.test(whole.charAt(offset - 1)) ? literal : '?'))
    .replace(/\s+/g, ' ')
    .trim();
  return shape.length > MAX_SHAPE ? `${shape.slice(0, MAX_SHAPE)}…` : shape;
}

/** A string (single or double quotes, backslash escapes, doubled quotes; `X'…'` hex, `b'…'` bits) or a number. */
const LITERAL = /(?:\b[xXbB])?'(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*"|-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b(?!`)/g;

/** Words after which the server quotes a name (a column, a key, a table), not a value. */
const NAME_BEFORE = /\b(?:column|key|table|index|constraint|database|schema|function|procedure|variable|in|for)\s*$/i;

/**
 * A server message with its quoted values replaced by `'?'` (`Duplicate entry 'alice-c1' for key 'uq_…'` →
 * `Duplicate entry '?' for key 'uq_…'`); the quoted names of columns, keys and tables stay. The server does
 * not escape a quote inside a value, so the messages known to quote one are cut up to the words that follow it.
 */
export function redactServerMessage(message: string): string {
  return message
    .replace(/(Duplicate entry )'[\s\S]*'(?= for key )/, "$1'?'")
    .replace(/(value: )'[\s\S]*'(?= for column | at row |$)/, "$1'?'")
    .replace(/'(?:[^'\\]|\\[\s\S]|'')*'/g, (quoted, offset: number, whole: string) =>
      (quoted === "'?'" || NAME_BEFORE.test(whole.slice(Math.max(0, offset - 16), offset)) ? quoted : "'?'"));
}

interface DbErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sql?: unknown;
  sqlMessage?: unknown;
  query?: unknown;
  parameters?: unknown;
  driverError?: unknown;
  stack?: unknown;
}

/** A database error as it may leave the store: its code, errno, sqlState, statement shape and redacted message. */
export class ImStoreQueryError extends Error {
  // `declare`: no own property unless set, so a logger prints only what the driver gave
  declare code?: string;
  declare errno?: number;
  declare sqlState?: string;
  /** The statement's shape, values replaced by `?` (see `statementShape`). */
  declare sql?: string;
  /** The server's message with quoted values replaced by `'?'`. */
  declare sqlMessage?: string;
}
ImStoreQueryError.prototype.name = 'ImStoreQueryError';

function isDbError(e: DbErrorFields): boolean {
  return e.sql !== undefined || e.sqlMessage !== undefined || e.query !== undefined || e.parameters !== undefined
    || e.driverError !== undefined || e.sqlState !== undefined
    || (typeof e.code === 'string' && /^(ER_|SQLITE_)/.test(e.code));
}

/**
 * The one place a database error is made safe to leave the store (thrown to a caller, who may log it with
 * every property, its `cause` included): a new error with the driver's code, errno and sqlState, the
 * statement's shape and the server's message with values replaced; no parameters, no `driverError`, no
 * `cause`. Anything else (an `ImError`, an error of this package) is returned as it is.
 */
export function redactDbError(err: unknown): unknown {
  if (!err || typeof err !== 'object' || isImError(err) || err instanceof ImStoreQueryError) return err;
  const outer = err as DbErrorFields;
  if (!isDbError(outer)) return err;
  const inner = (outer.driverError && typeof outer.driverError === 'object' ? outer.driverError : outer) as DbErrorFields;
  const pick = <K extends keyof DbErrorFields>(key: K) => inner[key] ?? outer[key];
  const serverMessage = String(pick('sqlMessage') ?? pick('message') ?? 'database error').split('\n')[0];
  const code = typeof pick('code') === 'string' ? String(pick('code')) : undefined;
  const message = redactServerMessage(serverMessage);
  const safe = new ImStoreQueryError(`[egg-im-store] ${code && !message.includes(code) ? `${code}: ` : ''}${message}`);
  if (code) safe.code = code;
  if (typeof pick('errno') === 'number') safe.errno = pick('errno') as number;
  if (typeof pick('sqlState') === 'string') safe.sqlState = pick('sqlState') as string;
  const statement = pick('sql') ?? outer.query;
  if (typeof statement === 'string') safe.sql = statementShape(statement);
  if (typeof pick('sqlMessage') === 'string') safe.sqlMessage = message;
  // where it failed, without the original first line (which holds the unredacted message)
  const frames = String(outer.stack ?? '').split('\n').filter(line => /^\s+at /.test(line));
  safe.stack = [ `${safe.name}: ${safe.message}`, ...frames ].join('\n');
  return safe;
}
