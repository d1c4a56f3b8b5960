import fs from 'node:fs';
import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import type { MockApplication } from 'egg-mock';

export const DEGRADED_LINE = '[egg-im-cache] redis unavailable, serving from memory (degraded)';
export const RESTORED_LINE = '[egg-im-cache] redis restored';
export const MEMORY_MODE_LINE = '[egg-im-cache] no redis url configured: cache in memory mode (single node only';

/** A plain node-redis client for looking at the server directly (with its own error listener). */
export async function directRedis(url: string): Promise<RedisClientType> {
  const client = createClient({ url, socket: { reconnectStrategy: false } }) as unknown as RedisClientType;
  client.on('error', () => {
    // the test looks at the commands' results; a lost socket must not crash the runner
  });
  await client.connect();
  return client;
}

/** Deletes every key under `prefix`; returns how many there were. */
export async function deletePrefix(client: RedisClientType, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length) deleted += await client.unlink(keys);
  }
  return deleted;
}

export async function keysUnder(client: RedisClientType, prefix: string): Promise<string[]> {
  const all: string[] = [];
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) all.push(...keys);
  return all.sort();
}

/** Removes a fixture's logs folder so that "logged once" counts only this run. */
export function freshLogs(scenario: string): void {
  fs.rmSync(path.join(__dirname, '..', 'fixtures', 'apps', scenario, 'logs'), { recursive: true, force: true });
}

export function coreLogFile(app: MockApplication): string {
  return (app.coreLogger as unknown as { options: { file: string } }).options.file;
}

export function readCoreLog(app: MockApplication): string {
  const file = coreLogFile(app);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** The lines captured since `app.mockLog(app.coreLogger)`. */
export function capturedCoreLog(app: MockApplication): string {
  return ((app.coreLogger as unknown as { _mockLogs?: string[] })._mockLogs ?? []).join('\n');
}

export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
