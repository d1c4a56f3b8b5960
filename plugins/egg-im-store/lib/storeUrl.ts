import path from 'node:path';

const PREFIX = '[egg-im-store]';
const WHERE = 'imStore.client.url (IM_DATABASE_URL)';

export interface MysqlTarget {
  driver: 'mysql';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The url with its password replaced by `***`: safe to log. */
  redacted: string;
}

export interface SqliteTarget {
  driver: 'better-sqlite3';
  /** Absolute file path, or `:memory:`. */
  file: string;
  /** True when the url was empty (the embedded default). */
  embedded: boolean;
  redacted: string;
}

export type StoreTarget = MysqlTarget | SqliteTarget;

/** The embedded default database: `<baseDir>/run/egg-im.sqlite`. */
export function defaultSqliteFile(baseDir: string): string {
  return path.join(baseDir, 'run', 'egg-im.sqlite');
}

/** Replaces the password of any `scheme://user:password@` in a text by `***`. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@]*@/gi, '$1***@');
}

/** Removes a known secret from a text (driver messages may echo parts of the url). */
export function redactSecret(text: string, secret: string | undefined): string {
  let out = redactUrl(text);
  if (secret && secret.length >= 3) out = out.split(secret).join('***');
  return out;
}

/** Only plain names, so the name can be quoted safely in `CREATE DATABASE`. */
const DATABASE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;

/**
 * Reads `imStore.client.url`. Relative SQLite paths resolve against `baseDir`.
 * Throws a `[egg-im-store]` error for an unknown scheme or a malformed url; never echoes a password.
 */
export function parseStoreUrl(rawUrl: string | undefined, baseDir: string): StoreTarget {
  const url = (rawUrl ?? '').trim();
  if (!url) {
    const file = defaultSqliteFile(baseDir);
    return { driver: 'better-sqlite3', file, embedded: true, redacted: `sqlite:${file}` };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') return parseSqlite(url, baseDir);
  if (scheme === 'mysql' || scheme === 'mariadb') return parseMysql(url);
  throw new Error(`${PREFIX} unknown store type "${scheme ?? url.split(/[/:@]/)[0]}" in ${WHERE}; use mysql://… or sqlite:<file>`);
}

function parseSqlite(url: string, baseDir: string): SqliteTarget {
  // sqlite:relative/file, sqlite:/abs/file, sqlite:///abs/file, sqlite://relative/file, sqlite::memory:
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  rest = rest.replace(/[?#].*$/, '');
  try {
    rest = decodeURIComponent(rest);
  } catch {
    // keep it as written
  }
  if (!rest) throw new Error(`${PREFIX} ${WHERE} names no file: use sqlite:<file path>`);
  if (rest === ':memory:') return { driver: 'better-sqlite3', file: ':memory:', embedded: false, redacted: 'sqlite::memory:' };
  const file = path.resolve(baseDir, rest);
  return { driver: 'better-sqlite3', file, embedded: false, redacted: `sqlite:${file}` };
}

function parseMysql(raw: string): MysqlTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${PREFIX} ${WHERE} is not a valid url (expected mysql://user:pass@host:port/database)`);
  }
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  const database = decode(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  const redactedUrl = new URL(url.toString());
  if (redactedUrl.password) redactedUrl.password = '***';
  const redacted = redactedUrl.toString();
  if (!url.hostname) throw new Error(`${PREFIX} ${WHERE} names no host: ${redacted}`);
  if (!database) throw new Error(`${PREFIX} ${WHERE} names no database: use mysql://user:pass@host:port/<database> (got ${redacted})`);
  if (!DATABASE_NAME.test(database)) {
    throw new Error(`${PREFIX} database name "${database}" in ${WHERE} must match ${DATABASE_NAME}`);
  }
  return {
    driver: 'mysql',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 3306,
    user: decode(url.username),
    password: decode(url.password),
    database,
    redacted,
  };
}
