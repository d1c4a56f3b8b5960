import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { importedPackages, publishedWorkspaces, ROOT } from './support/workspaces';

const PUBLISHED = publishedWorkspaces();
const OURS = new Map(PUBLISHED.map(ws => [ ws.manifest.name as string, ws.manifest ]));
const SKIPPED = new Set([ 'node_modules', 'test', 'run', 'logs', 'dist' ]);

/** The packages a package's shipped TypeScript (code and typings, not its tests) imports, with a file that does. */
function importsOf(dir: string): Map<string, string> {
  return importedPackages(path.join(ROOT, dir), name => name.endsWith('.ts') && !name.endsWith('.test.ts'), SKIPPED);
}

describe('every published package declares what it imports and can be installed by name', () => {
  it('finds the published packages in the workspaces', () => {
    for (const name of [ 'egg-im', 'egg-im-protocol', 'egg-im-store', 'egg-im-cache', 'egg-im-connection', 'egg-im-router' ]) {
      assert(OURS.has(name), `${name} is a published workspace`);
    }
  });

  for (const { dir, manifest: pkg } of PUBLISHED) {
    describe(dir, () => {
      const imports = importsOf(dir);

      it('each import is a dependency or a peer dependency', () => {
        const declared = new Set([ pkg.name, ...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}) ]);
        const undeclared = [ ...imports ].filter(([ name ]) => !declared.has(name)).map(([ name, file ]) => `${name} (${dir}/${file})`);
        assert.deepStrictEqual(undeclared, []);
      });

      it('egg, when used, is a peer dependency (the app brings it) and a dev dependency (for the tests)', () => {
        if (!imports.has('egg') && !pkg.eggPlugin) return;
        assert(pkg.peerDependencies?.egg, 'egg is a peer dependency');
        assert(!pkg.dependencies?.egg, 'egg is not a dependency');
        assert(pkg.devDependencies?.egg, 'egg is a dev dependency');
      });

      it('the plugins it enables (eggPlugin.dependencies) are its dependencies', () => {
        const byPluginName = new Map([ ...OURS.values() ].filter(other => other.eggPlugin).map(other => [ other.eggPlugin.name, other.name ]));
        const missing = (pkg.eggPlugin?.dependencies ?? [])
          .map((plugin: string) => byPluginName.get(plugin) ?? `an unknown plugin ${plugin}`)
          .filter((name: string) => !pkg.dependencies?.[name]);
        assert.deepStrictEqual(missing, []);
      });

      it('our packages are depended on with a range their current version satisfies (^version)', () => {
        const wrong = Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies })
          .filter(([ name, range ]) => OURS.has(name) && range !== `^${OURS.get(name)!.version}`)
          .map(([ name, range ]) => `${name}@${range} (is ${OURS.get(name)!.version})`);
        assert.deepStrictEqual(wrong, []);
      });

      it('has the metadata a registry user needs: MIT license and LICENSE, engines, repository, files, README', () => {
        assert.equal(pkg.license, 'MIT');
        const license = fs.readFileSync(path.join(ROOT, dir, 'LICENSE'), 'utf8');
        assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} egg-im contributors\n/);
        assert.equal(pkg.engines?.node, '>=20.0.0');
        assert.deepStrictEqual(pkg.repository, { type: 'git', url: 'git+https://github.com/egg-im/egg-im.git', directory: dir });
        assert(Array.isArray(pkg.files) && pkg.files.length > 0, 'files lists what the tarball holds');
        assert(fs.statSync(path.join(ROOT, dir, 'README.md')).size > 200, 'has a README');
        assert.equal(pkg.version, OURS.get('egg-im')!.version, 'one version for all (lerna fixed mode)');
      });

      it('exports, when mapped, include ./package.json (egg resolves <name>/package.json)', () => {
        if (pkg.exports) assert.equal(pkg.exports['./package.json'], './package.json');
      });
    });
  }

  it('egg-im maps its subpath egg-im/client', () => {
    const exports = OURS.get('egg-im')!.exports;
    assert(exports?.['.'] && exports['./client'], 'egg-im exports . and ./client');
  });
});
