'use strict';
// Builds dist/ from src/: an ES module and a CommonJS file (esbuild, one bundle each, socket.io-client left
// as an import; the few values used from egg-im-protocol are bundled in) and the typings (tsc). Runs on
// `npm install` / `npm ci` (prepare), before the tests and before packing; dist/ is never committed.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

async function main() {
  fs.rmSync(dist, { recursive: true, force: true });
  const common = {
    entryPoints: [ path.join(root, 'src/index.ts') ],
    bundle: true,
    platform: 'neutral',
    target: 'es2022',
    external: [ 'socket.io-client' ],
    mainFields: [ 'module', 'main' ],
    sourcemap: true,
    logLevel: 'warning',
  };
  await Promise.all([
    esbuild.build({ ...common, format: 'esm', outfile: path.join(dist, 'esm/index.mjs') }),
    esbuild.build({ ...common, format: 'cjs', outfile: path.join(dist, 'cjs/index.cjs') }),
  ]);
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [ tsc, '-p', path.join(root, 'tsconfig.build.json') ], { stdio: 'inherit' });
}

main().catch(err => {
  console.error(`[egg-im-client] build failed: ${err.message}`);
  process.exit(1);
});
