import assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, dropTestDatabase, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { freePort, getJson } from './support/process';

const ROOT = path.resolve(__dirname, '..');
const PACKAGES = [
  'packages/egg-im-protocol',
  'plugins/egg-im-store',
  'plugins/egg-im-cache',
  'plugins/egg-im-connection',
  'plugins/egg-im-router',
  'framework/egg-im',
];

/**
 * What a user who installs from npm gets: each package packed (compiled to JS), installed into a fresh Egg app
 * outside the monorepo, and started with egg-scripts, which has no TypeScript at all.
 * Packing happens in a copy of the sources, so the working tree never holds compiled files.
 */
describe('the packed tarballs, installed outside the monorepo', function() {
  this.timeout(300000);
  let work: string;
  let database: { name: string; url: string };
  const tarballs: Record<string, string> = {};

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-pack-'));
    database = await createTestDatabase('pack');
    const mirror = path.join(work, 'src');
    for (const file of [ 'tsconfig.json', 'tsconfig.pub.json', 'scripts' ]) {
      fs.cpSync(path.join(ROOT, file), path.join(mirror, file), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(mirror, 'node_modules'), 'dir');
    fs.mkdirSync(path.join(work, 'tarballs'));
    for (const pkg of PACKAGES) {
      const copy = path.join(mirror, pkg);
      fs.cpSync(path.join(ROOT, pkg), copy, {
        recursive: true,
        filter: source => !/[/\\](node_modules|test|run|logs)([/\\]|$)/.test(path.relative(ROOT, source)),
      });
      const out = execFileSync('npm', [ 'pack', '--json', '--pack-destination', path.join(work, 'tarballs') ], { cwd: copy, encoding: 'utf8' });
      const [ info ] = JSON.parse(out.slice(out.indexOf('[')));
      tarballs[info.name] = path.join(work, 'tarballs', info.filename);
      tarballs[`${info.name}#files`] = info.files.map((f: { path: string }) => f.path).join('\n');
    }
  });

  after(async () => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
    if (database) await dropTestDatabase(database.name);
  });

  it('ship compiled JavaScript and typings, no TypeScript sources', () => {
    for (const name of [ 'egg-im-store', 'egg-im-cache', 'egg-im-connection', 'egg-im-router' ]) {
      const files = tarballs[`${name}#files`].split('\n');
      assert(files.includes('app.js'), `${name} has app.js`);
      assert(files.includes('config/config.default.js'), `${name} has its config`);
      assert(files.includes('typings/index.d.ts'), `${name} has its typings`);
      assert(!files.some(f => f.endsWith('.ts') && !f.endsWith('.d.ts')), `${name} ships no .ts source`);
      assert(!files.some(f => f.startsWith('test/')), `${name} ships no tests`);
    }
    const framework = tarballs['egg-im#files'].split('\n');
    for (const file of [ 'index.js', 'app.js', 'lib/framework.js', 'config/plugin.js', 'client/index.js', 'client/index.d.ts', 'typings/index.d.ts' ]) {
      assert(framework.includes(file), `egg-im has ${file}`);
    }
  });

  it('install into a fresh Egg app and boot it with egg-scripts', async () => {
    const app = path.join(work, 'app');
    fs.mkdirSync(path.join(app, 'config'), { recursive: true });
    const fileDeps = Object.fromEntries(PACKAGES.map(pkg => {
      const name = path.basename(pkg);
      return [ name, `file:${tarballs[name]}` ];
    }));
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
      name: 'packaged-app',
      private: true,
      dependencies: { 'egg-im': fileDeps['egg-im'], 'egg-scripts': '^3.1.0' },
      overrides: fileDeps,
      egg: { framework: 'egg-im' },
    }, null, 2));
    fs.writeFileSync(path.join(app, 'config', 'config.default.js'), "module.exports = { keys: 'packaged-app-key' };\n");
    execFileSync('npm', [ 'install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error' ], { cwd: app, stdio: 'inherit' });
    assert(!fs.existsSync(path.join(app, 'node_modules', 'typescript')), 'typescript is not needed at run time');

    const port = await freePort();
    const title = `egg-im-pack-${process.pid}`;
    // What a user's shell has: none of the test runner's TypeScript preloads (NODE_OPTIONS, TS_NODE_*, EGG_*).
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([ name ]) => !/^(NODE_OPTIONS|TS_NODE_|EGG_|MOCHA)/.test(name)));
    const env = {
      ...inherited,
      IM_DATABASE_URL: database.url,
      IM_REDIS_URL: TEST_REDIS_URL,
      IM_REDIS_PREFIX: `${uniqueName('pack')}:`,
      IM_LOG_DIR: path.join(app, 'logs'),
    };
    const scripts = path.join(app, 'node_modules', '.bin', 'egg-scripts');
    try {
      startOrExplain(() => execFileSync(scripts, [ 'start', '--daemon', `--port=${port}`, '--workers=1', `--title=${title}`, '--env=prod', `--stdout=${env.IM_LOG_DIR}/master-stdout.log`, `--stderr=${env.IM_LOG_DIR}/master-stderr.log` ], { cwd: app, env, stdio: 'inherit', timeout: 120000 }), env.IM_LOG_DIR);
      const ready = await waitFor(async () => {
        const res = await getJson(`http://127.0.0.1:${port}/readyz`);
        return res.status === 200 ? res.body : undefined;
      }, 30000, 'the packaged app to be ready');
      assert.equal(ready.status, 'ready');
      assert.equal(ready.checks.store.driver, 'mysql');
    } finally {
      execFileSync(scripts, [ 'stop', `--title=${title}` ], { cwd: app, env, stdio: 'inherit', timeout: 60000 });
    }
  });
});

/** Runs egg-scripts start; on failure, the error carries what the app wrote to stderr and its error log. */
function startOrExplain(run: () => unknown, logDir: string): void {
  try {
    run();
  } catch (err) {
    const read = (file: string) => (fs.existsSync(path.join(logDir, file)) ? fs.readFileSync(path.join(logDir, file), 'utf8').slice(-4000) : '');
    throw new Error(`egg-scripts start failed: ${(err as Error).message}\n--- master-stderr.log\n${read('master-stderr.log')}\n--- common-error.log\n${read('common-error.log')}`);
  }
}
