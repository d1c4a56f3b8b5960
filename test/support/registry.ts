import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from 'egg-im-testkit';
import { freePort, start, type Started } from './process';

const VERDACCIO = path.resolve(__dirname, '../../node_modules/verdaccio/bin/verdaccio');

export interface Registry {
  url: string;
  /** An npm token of a user allowed to publish. */
  token: string;
  process: Started;
  stop(): Promise<void>;
}

/**
 * A throwaway npm registry (verdaccio) on 127.0.0.1, its storage and config under `dir`. egg-im's packages
 * (`egg-im*`) live only there: they are never looked up upstream. Every other package (egg, typeorm, ...) is
 * proxied from the public npm registry, as a user's install would fetch it.
 */
export async function startRegistry(dir: string): Promise<Registry> {
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, [
    `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
    'uplinks:',
    '  npmjs:',
    '    url: https://registry.npmjs.org/',
    '    timeout: 60s',
    'packages:',
    "  'egg-im*':",
    '    access: $all',
    '    publish: $authenticated',
    "  '**':",
    '    access: $all',
    '    proxy: npmjs',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const started = start(process.execPath, [ VERDACCIO, '--config', config, '--listen', `127.0.0.1:${port}` ], { cwd: dir, env: process.env });
  const stop = async () => {
    if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGTERM');
    await started.exited;
  };
  try {
    const outcome = await waitFor(async () => {
      if (started.child.exitCode !== null) return 'exited';
      const res = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.ok ? 'answering' : undefined;
    }, 30000, 'verdaccio to answer');
    if (outcome === 'exited') throw new Error(`verdaccio exited: ${started.output()}`);
    const res = await fetch(`${url}-/user/org.couchdb.user:publisher`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'publisher', password: 'publisher-secret' }),
      signal: AbortSignal.timeout(10000),
    });
    const body = await res.json() as { token?: string };
    if (!res.ok || !body.token) throw new Error(`verdaccio refused the publisher: ${res.status} ${JSON.stringify(body)}`);
    return { url, token: body.token, process: started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The registry's metadata (packument) of a package, or undefined when it has none. */
export async function packument(registry: Registry, name: string): Promise<Record<string, any> | undefined> {
  const res = await fetch(`${registry.url}${name}`, { signal: AbortSignal.timeout(10000) });
  return res.status === 404 ? undefined : await res.json() as Record<string, any>;
}
