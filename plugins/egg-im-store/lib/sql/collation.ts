/**
 * egg-im compares ids exactly, as JavaScript and Redis do. MySQL's `utf8mb4_bin` is a PAD SPACE collation
 * (`'X ' = 'X'` in SQL), so tables and connections use the NO PAD binary collation of the server instead.
 */
export const MARIADB_NO_PAD = 'utf8mb4_nopad_bin';
export const MYSQL_NO_PAD = 'utf8mb4_0900_bin';

/**
 * The NO PAD binary collation of utf8mb4 for a server, from its `SELECT VERSION()`: MariaDB 10.2+
 * `utf8mb4_nopad_bin`, MySQL 8.0+ `utf8mb4_0900_bin`. Older servers have none, and egg-im refuses them.
 */
export function noPadCollation(version: string): string {
  const mariadb = /mariadb/i.test(version);
  // MariaDB behind an old replication handshake reports `5.5.5-10.11.2-MariaDB`: the real version follows.
  const numbers = version.replace(/^5\.5\.5-/, '').match(/^(\d+)\.(\d+)/);
  const [ major, minor ] = numbers ? [ Number(numbers[1]), Number(numbers[2]) ] : [ 0, 0 ];
  if (mariadb && (major > 10 || (major === 10 && minor >= 2))) return MARIADB_NO_PAD;
  if (!mariadb && major >= 8) return MYSQL_NO_PAD;
  throw new Error(`[egg-im-store] ${mariadb ? 'MariaDB' : 'MySQL'} ${version} has no NO PAD binary collation for utf8mb4 ` +
    '(ids must compare exactly): egg-im needs MariaDB 10.2 or later, or MySQL 8.0 or later');
}

/**
 * Sets a new connection's collation to the server's NO PAD binary one. The handshake cannot carry it (one
 * byte; these collation ids are 1070 and 309), so each connection runs this once, before its first query.
 */
export const SET_SESSION_COLLATION =
  `SET character_set_client = 'utf8mb4', character_set_results = 'utf8mb4', ` +
  `collation_connection = IF(VERSION() LIKE '%MariaDB%', '${MARIADB_NO_PAD}', '${MYSQL_NO_PAD}')`;
