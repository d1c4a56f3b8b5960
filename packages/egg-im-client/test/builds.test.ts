import assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(__dirname, '..');

/** What a user of the published package gets: the `exports` map's files, built by `prepare` (and `pretest`). */
describe('egg-im-client builds', () => {
  it('require() gets the CommonJS build through the exports map', () => {
    const resolved = require.resolve('egg-im-client');
    assert.equal(path.relative(ROOT, resolved), path.join('dist', 'cjs', 'index.cjs'));
    const client = require('egg-im-client');
    assert.equal(typeof client.ImClient, 'function');
    assert.equal(typeof client.ImClient.login, 'function');
    assert.equal(typeof client.isImClientError, 'function');
  });

  it('import gets the ES module build, in plain Node (no TypeScript loader)', () => {
    const script = 'const m = await import("egg-im-client"); const url = import.meta.resolve("egg-im-client");'
      + ' console.log(JSON.stringify({ url, names: Object.keys(m).sort() }));';
    const out = JSON.parse(execFileSync(process.execPath, [ '--input-type=module', '-e', script ], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH } }));
    assert.match(out.url, /\/dist\/esm\/index\.mjs$/);
    assert.deepEqual(out.names, [ 'ImClient', 'ImClientError', 'Inbox', 'isImClientError' ]);
  });

  it('bundles for the browser with no Node built-in and no server package', async () => {
    const result = await esbuild.build({
      stdin: { contents: 'import { ImClient } from "egg-im-client"; globalThis.ImClient = ImClient;', resolveDir: ROOT },
      bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.deepEqual(inputs.filter(file => file.startsWith('node:') || /node_modules\/(egg|typeorm|mysql2|redis|better-sqlite3)\//.test(file)), []);
    assert(inputs.some(file => file.includes('socket.io-client')), 'socket.io-client is bundled in');
    assert(result.outputFiles[0].text.length < 200_000, `the bundle is ${result.outputFiles[0].text.length} bytes`);
  });
});
