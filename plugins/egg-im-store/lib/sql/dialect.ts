import type { StoreDriver } from '../types';

/** The few SQL spellings that differ between MySQL/MariaDB and SQLite; everything else is shared. */
export interface Dialect {
  /** The size in bytes of a text column's value. */
  octets(column: string): string;
  /** `GREATEST(a, b)` / `MAX(a, b)`. */
  greatest(a: string, b: string): string;
  /** `INSERT … <this>` that updates `assignments` on a key conflict; `incoming(col)` names the new row's value. */
  onConflict(keys: string[], assignments: (incoming: (column: string) => string) => string): string;
  /** `INSERT IGNORE` / `INSERT OR IGNORE`. */
  insertIgnore: string;
  /**
   * An UPDATE of `table` joined with rows given as parameters:
   * `updateFrom('im_members', 'm', ['c','u','s'], rows, 'm.conversation_id = v.c …', 'm.x = v.s', 'extra condition')`.
   */
  updateFrom(table: string, alias: string, columns: string[], rowCount: number, join: string, set: string, where: string,
    cell?: (row: number, column: number) => string): string;
  /** MySQL/MariaDB: session variables (`SELECT … INTO @v`) can carry values between the statements of a script. */
  sessionVariables: boolean;
}

/**
 * Rows given as parameters, as a derived table: `SELECT ? AS a, ? AS b UNION ALL SELECT ?, ? …` (both
 * dialects). `cell(row, column)` may give a cell an expression of its own instead of `?`.
 */
export function derivedRows(columns: string[], rowCount: number, cell: (row: number, column: number) => string = () => '?'): string {
  return Array.from({ length: rowCount }, (_, row) =>
    `SELECT ${columns.map((c, column) => (row === 0 ? `${cell(row, column)} AS ${c}` : cell(row, column))).join(', ')}`).join(' UNION ALL ');
}

const mysql: Dialect = {
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  octets: column => `LENGTH(${column})`,
  onConflict: (_keys, assignments) => `ON DUPLICATE KEY UPDATE ${assignments(c => `VALUES(${c})`)}`,
  insertIgnore: 'INSERT IGNORE',
  updateFrom: (table, alias, columns, rowCount, join, set, where, cell) =>
    `UPDATE ${table} ${alias} JOIN (${derivedRows(columns, rowCount, cell)}) v ON ${join} SET ${set} WHERE ${where}`,
  sessionVariables: true,
};

const sqlite: Dialect = {
  greatest: (a, b) => `MAX(${a}, ${b})`,
  // LENGTH of TEXT counts characters in SQLite; of a BLOB, bytes (the text's UTF-8).
  octets: column => `LENGTH(CAST(${column} AS BLOB))`,
  onConflict: (keys, assignments) => `ON CONFLICT(${keys.join(', ')}) DO UPDATE SET ${assignments(c => `excluded.${c}`)}`,
  insertIgnore: 'INSERT OR IGNORE',
  // SQLite's UPDATE … FROM cannot alias the target: the alias is spelled out as the table name.
  updateFrom: (table, alias, columns, rowCount, join, set, where, cell) => {
    const named = (sql: string) => sql.replace(new RegExp(`\\b${alias}\\.`, 'g'), `${table}.`);
    const unqualified = (sql: string) => sql.replace(new RegExp(`\\b${alias}\\.(\\w+)\\s*=`, 'g'), '$1 =');
    return `UPDATE ${table} SET ${named(unqualified(set))} FROM (${derivedRows(columns, rowCount, cell)}) AS v WHERE ${named(join)} AND ${named(where)}`;
  },
  sessionVariables: false,
};

export function dialectOf(driver: StoreDriver): Dialect {
  return driver === 'mysql' ? mysql : sqlite;
}

/** `?, ?, ?` for n values. */
export const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** A DATETIME(3) literal in UTC, as both drivers store it: `2026-11-28 12:00:00.000`. */
export function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A DATETIME read back: mysql2 gives a Date (UTC session), SQLite the stored string. */
export function readTime(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'string') return new Date(value.includes('T') ? value : `${value.replace(' ', 'T')}Z`);
  throw new Error(`[egg-im-store] unexpected DATETIME value: ${typeof value}`);
}

export const readTimeOrUndefined = (value: unknown) => (value === null || value === undefined ? undefined : readTime(value));

/** BIGINT columns come back as strings from mysql2 (exact), as numbers from SQLite. */
export const readInt = (value: unknown) => Number(value);
