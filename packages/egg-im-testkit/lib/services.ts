import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

/** The shared services the tests run against; override with environment variables. */
export const TEST_MYSQL_URL = process.env.IM_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306';
export const TEST_REDIS_URL = process.env.IM_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

/** A name unique to this test run, usable as a database name or a Redis key prefix. */
export function uniqueName(label: string): string {
  return `egg_im_t_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

function serverUrl(): URL {
  const url = new URL(TEST_MYSQL_URL);
  url.pathname = '/';
  return url;
}

/** Creates an empty database of its own for one test run and returns its URL. */
export async function createTestDatabase(label: string): Promise<{ name: string; url: string }> {
  const name = uniqueName(label);
  const conn = await mysql.createConnection({ uri: serverUrl().toString() });
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  const url = serverUrl();
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropTestDatabase(name: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: serverUrl().toString() });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}
