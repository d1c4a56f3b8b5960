import assert from 'node:assert';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const PACKAGES = [ 'packages/egg-im-protocol', 'plugins/egg-im-store', 'plugins/egg-im-cache', 'plugins/egg-im-connection', 'plugins/egg-im-router', 'framework/egg-im' ];
const SKIPPED = new Set([ 'node_modules', 'test', 'run', 'logs' ]);
const IMPORT = /(?:\bfrom|\bimport|\brequire\()\s*['"]([^'".][^'"]*)['"]/g;

/** The packages a package's shipped TypeScript (code and typings, not its tests) imports, with a file that does. */
function importsOf(dir: string, found = new Map<string, string>()): Map<string, string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED.has(entry.name)) importsOf(file, found);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      for (const [ , specifier ] of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
        if (specifier.startsWith('node:') || builtinModules.includes(name)) continue;
        if (!found.has(name)) found.set(name, path.relative(ROOT, file));
      }
    }
  }
  return found;
}

describe('every package declares what it imports', () => {
  for (const dir of PACKAGES) {
    it(`${dir}: each import is a dependency or a peer dependency`, () => {
      const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8'));
      const declared = new Set([ pkg.name, ...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}) ]);
      const undeclared = [ ...importsOf(path.join(ROOT, dir)) ].filter(([ name ]) => !declared.has(name)).map(([ name, file ]) => `${name} (${file})`);
      assert.deepStrictEqual(undeclared, []);
    });
  }
});
