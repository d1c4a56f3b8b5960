import { createClient } from 'redis';
import { TEST_REDIS_URL } from './services';

/** Escapes glob characters so that a key prefix can be used in SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

async function withRedis<T>(url: string, work: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {
    // the command's own rejection reports it; a lost socket must not crash the test runner
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Every key under `prefix` (sorted), with its string value when it is a string. */
export async function keysUnder(prefix: string, url = TEST_REDIS_URL): Promise<Array<{ key: string; type: string; value?: string }>> {
  return withRedis(url, async client => {
    const found: Array<{ key: string; type: string; value?: string }> = [];
    for await (const keys of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 1000 })) {
      for (const key of keys) {
        const type = await client.type(key);
        found.push(type === 'string' ? { key, type, value: (await client.get(key)) ?? undefined } : { key, type });
      }
    }
    return found.sort((a, b) => a.key.localeCompare(b.key));
  });
}

/** Deletes every key under `prefix`; returns how many there were. */
export async function deleteKeysUnder(prefix: string, url = TEST_REDIS_URL): Promise<number> {
  return withRedis(url, async client => {
    let deleted = 0;
    for await (const keys of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
    return deleted;
  });
}
