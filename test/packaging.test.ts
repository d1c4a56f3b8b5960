import assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, deleteKeysUnder, dropTestDatabase, TEST_REDIS_URL, uniqueName, waitFor } from 'egg-im-testkit';
import { freePort, getJson } from './support/process';
import { packument, startRegistry, type Registry } from './support/registry';
import { importedPackages, publishedWorkspaces, ROOT } from './support/workspaces';

const PUBLISHED = publishedWorkspaces();
const FIXTURE = path.join(ROOT, 'test/fixtures/apps/installed-app');
const ROOT_DEV = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies;
const VERSION = PUBLISHED.find(ws => ws.manifest.name === 'egg-im')!.manifest.version;

/** What a user's shell has: none of the test runner's npm, TypeScript or mocha variables. */
const USER_ENV = Object.fromEntries(Object.entries(process.env).filter(([ name ]) => !/^(npm_|NODE_OPTIONS|TS_NODE_|EGG_|MOCHA)/i.test(name)));

/**
 * What a user who installs from npm gets. `lerna publish from-package` publishes every non-private workspace
 * package to a throwaway registry (verdaccio on 127.0.0.1; each package built by its prepack, in a copy of the
 * sources, so the working tree never holds compiled files). A plain Egg app outside the monorepo then installs
 * `egg-im` by name, is built with tsc against the installed typings, started with egg-scripts (no TypeScript at
 * run time) on MySQL and Redis, and two users exchange a message through `egg-im/client`.
 */
describe('published with lerna to a registry, installed by name into a new app', function() {
  this.timeout(120000);
  let work: string;
  let registry: Registry | undefined;
  let database: { name: string; url: string } | undefined;
  let app: string;
  const redisPrefix = `${uniqueName('publish')}:`;

  before(async function() {
    this.timeout(480000);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'egg-im-publish-'));
    database = await createTestDatabase('publish');
    registry = await startRegistry(path.join(work, 'registry'));
    timed('lerna publish', () => publishAll(path.join(work, 'src'), registry!));
    app = path.join(work, 'app');
    timed('npm install', () => installApp(app, registry!));
  });

  after(async () => {
    await registry?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    if (database) await dropTestDatabase(database.name);
    await deleteKeysUnder(redisPrefix);
  });

  it('publishes every non-private workspace package, with LICENSE and README and without sources or tests', async () => {
    for (const { manifest } of PUBLISHED) {
      const meta = await packument(registry!, manifest.name);
      assert(meta?.versions?.[manifest.version], `${manifest.name}@${manifest.version} is in the registry`);
      const files = await tarballFiles(meta.versions[manifest.version].dist.tarball, path.join(work, 'tarball.tgz'));
      for (const file of [ 'package.json', 'README.md', 'LICENSE' ]) assert(files.includes(file), `${manifest.name} ships ${file}`);
      assert.deepStrictEqual(files.filter(f => /(^|\/)test\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), [], `${manifest.name} ships no tests or TypeScript sources`);
    }
  });

  it('installs every egg-im package from the registry: what was published, by name, no file: or overrides', async () => {
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/.package-lock.json'), 'utf8')).packages;
    for (const { manifest } of PUBLISHED) {
      const entry = installed[`node_modules/${manifest.name}`];
      assert(entry, `${manifest.name} is installed`);
      assert.equal(entry.version, manifest.version);
      const meta = await packument(registry!, manifest.name);
      assert.equal(entry.integrity, meta!.versions[manifest.version].dist.integrity, `${manifest.name} is the published tarball`);
    }
    assert(installed['node_modules/egg'] && !installed['node_modules/egg'].dev, 'egg is installed as egg-im\'s peer');
  });

  it('maps only files it ships (exports), and egg-im/client loads as an ES module and as CommonJS', () => {
    for (const { manifest } of PUBLISHED) {
      const dir = path.join(app, 'node_modules', manifest.name);
      const installed = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      for (const target of exportTargets(installed.exports)) assert(fs.existsSync(path.join(dir, target)), `${manifest.name} ships ${target}`);
    }
    const load = (type: string, code: string) => execFileSync(process.execPath, [ `--input-type=${type}`, '-e', code ], { cwd: app, env: USER_ENV, encoding: 'utf8', timeout: 30000 });
    assert.equal(load('module', "import { ImClient } from 'egg-im/client'; process.stdout.write(typeof ImClient)"), 'function', 'an ES module imports egg-im/client');
    assert.equal(load('commonjs', "process.stdout.write(typeof require('egg-im/client').ImClient)"), 'function', 'CommonJS requires egg-im/client');
  });

  it('ships typings that import only the packages each declares', () => {
    const undeclared: string[] = [];
    for (const { manifest } of PUBLISHED) {
      const dir = path.join(app, 'node_modules', manifest.name);
      const installed = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      const declared = new Set([ installed.name, ...Object.keys(installed.dependencies ?? {}), ...Object.keys(installed.peerDependencies ?? {}) ]);
      for (const [ name, file ] of importedPackages(dir, file => file.endsWith('.d.ts'), new Set([ 'node_modules' ]))) {
        if (!declared.has(name)) undeclared.push(`${name} (${manifest.name}/${file})`);
      }
    }
    assert.deepStrictEqual(undeclared, []);
  });

  it('lets a front end install egg-im-client alone: socket.io-client and the protocol, no server package', () => {
    const front = path.join(work, 'front');
    fs.mkdirSync(front);
    fs.writeFileSync(path.join(front, 'package.json'), JSON.stringify({ name: 'front', private: true, dependencies: { 'egg-im-client': `^${VERSION}` } }));
    fs.writeFileSync(path.join(front, '.npmrc'), `registry=${registry!.url}\n`);
    timed('npm install egg-im-client', () => run('npm', [ 'install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error' ], { cwd: front, env: USER_ENV, timeout: 180000 }));
    const installed = Object.keys(JSON.parse(fs.readFileSync(path.join(front, 'node_modules/.package-lock.json'), 'utf8')).packages)
      .map(entry => entry.replace(/^.*node_modules\//, ''));
    assert(installed.includes('socket.io-client') && installed.includes('egg-im-protocol'), installed.join(', '));
    const server = installed.filter(name => /^(egg|egg-.*|typeorm|mysql2|redis|@redis\/.*|better-sqlite3|socket\.io)$/.test(name) && !/^egg-im-(client|protocol)$/.test(name));
    assert.deepStrictEqual(server, [], 'no server package comes with the client');
    const load = (type: string, code: string) => execFileSync(process.execPath, [ `--input-type=${type}`, '-e', code ], { cwd: front, env: USER_ENV, encoding: 'utf8', timeout: 30000 });
    assert.equal(load('module', "import { ImClient } from 'egg-im-client'; process.stdout.write(typeof ImClient)"), 'function');
    assert.equal(load('commonjs', "process.stdout.write(typeof require('egg-im-client').ImClient)"), 'function');
  });

  it('builds with tsc, runs with egg-scripts on MySQL and Redis, and two users chat through egg-im/client', async () => {
    timed('tsc', () => run(process.execPath, [ 'node_modules/typescript/bin/tsc', '-p', 'tsconfig.json' ], { cwd: app, env: USER_ENV, timeout: 120000 }));
    const port = await freePort();
    const title = `egg-im-publish-${process.pid}`;
    const logDir = path.join(app, 'logs');
    const env = { ...USER_ENV, IM_DATABASE_URL: database!.url, IM_REDIS_URL: TEST_REDIS_URL, IM_REDIS_PREFIX: redisPrefix, IM_LOG_DIR: logDir };
    const scripts = path.join(app, 'node_modules', '.bin', 'egg-scripts');
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      startOrExplain(() => execFileSync(scripts, [ 'start', '--daemon', `--port=${port}`, '--workers=1', `--title=${title}`, '--env=prod', `--stdout=${logDir}/master-stdout.log`, `--stderr=${logDir}/master-stderr.log` ], { cwd: app, env, stdio: 'inherit', timeout: 90000 }), logDir);
      const ready = await waitFor(async () => {
        const res = await getJson(`${baseUrl}/readyz`);
        return res.status === 200 ? res.body : undefined;
      }, 30000, 'the installed app to be ready');
      assert.equal(ready.checks.store.driver, 'mysql');

      const out = execFileSync(process.execPath, [ 'chat.js', baseUrl, `p${randomBytes(4).toString('hex')}` ], { cwd: app, env: USER_ENV, encoding: 'utf8', timeout: 60000 });
      const chat = JSON.parse(out.trim().split('\n').pop()!);
      assert.deepStrictEqual(chat.received, { id: chat.sent, senderId: chat.alice, text: 'hello from an installed egg-im' });

      const delivery = await waitFor(async () => {
        const res = await getJson(`${baseUrl}/delivery/${encodeURIComponent(chat.sent)}`);
        return res.status === 200 && res.body.recipients.some((r: { status: string }) => r.status !== 'pending') ? res.body : undefined;
      }, 10000, 'the host route to see the delivery');
      assert.deepStrictEqual(delivery.recipients.map((r: { userId: string }) => r.userId), [ chat.bob ]);
    } finally {
      execFileSync(scripts, [ 'stop', `--title=${title}` ], { cwd: app, env, stdio: 'inherit', timeout: 60000 });
    }
  });
});

/** Copies the published packages' sources and runs `npm run release` (lerna publish from-package) there, as a maintainer would. */
function publishAll(mirror: string, registry: Registry): void {
  for (const file of [ 'package.json', 'lerna.json', 'tsconfig.json', 'tsconfig.pub.json', 'LICENSE', 'scripts' ]) {
    fs.cpSync(path.join(ROOT, file), path.join(mirror, file), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(mirror, 'node_modules'), 'dir');
  for (const { dir } of PUBLISHED) {
    fs.cpSync(path.join(ROOT, dir), path.join(mirror, dir), {
      recursive: true,
      filter: source => !/[/\\](node_modules|test|run|logs|dist)([/\\]|$)/.test(path.relative(path.join(ROOT, dir), source)),
    });
  }
  fs.writeFileSync(path.join(mirror, '.npmrc'), `${registry.url.replace(/^https?:/, '')}:_authToken=${registry.token}\n`);
  run('npm', [ 'run', 'release', '--', '--registry', registry.url, '--yes', '--no-git-reset', '--no-progress' ], {
    cwd: mirror,
    env: { ...USER_ENV, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_WORKSPACE_DATA_DIRECTORY: path.join(mirror, '.nx') },
    timeout: 300000,
  });
}

/** A new Egg app from the fixture, depending on egg-im by name from the registry. */
function installApp(app: string, registry: Registry): void {
  fs.cpSync(FIXTURE, app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'installed-app',
    private: true,
    dependencies: { 'egg-im': `^${VERSION}`, 'egg-scripts': ROOT_DEV['egg-scripts'] },
    devDependencies: { typescript: ROOT_DEV.typescript, '@types/node': ROOT_DEV['@types/node'] },
    egg: { framework: 'egg-im' },
  }, null, 2));
  fs.writeFileSync(path.join(app, '.npmrc'), `registry=${registry.url}\n`);
  // The app uses MySQL: no install script is needed (better-sqlite3's builds the embedded SQLite default).
  run('npm', [ 'install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error' ], { cwd: app, env: USER_ENV, timeout: 300000 });
}

/** Runs a command quietly; when it fails, the error carries the end of its output. */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }): string {
  try {
    return execFileSync(command, args, { ...options, encoding: 'utf8', stdio: [ 'ignore', 'pipe', 'pipe' ], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${(err as Error).message.split('\n')[0]}\n${`${stdout ?? ''}\n${stderr ?? ''}`.slice(-6000)}`);
  }
}

/** Runs a step, printing how long it took (the slow parts of this test). */
function timed(step: string, run: () => unknown): void {
  const started = Date.now();
  run();
  console.log(`    [packaging] ${step}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The files in a published tarball. */
async function tarballFiles(url: string, file: string): Promise<string[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30000) });
  assert.equal(res.status, 200, `GET ${url}`);
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return execFileSync('tar', [ 'tzf', file ], { encoding: 'utf8' }).trim().split('\n').map(f => f.replace(/^package\//, ''));
}

/** The files an exports map points to (its values, under any conditions). */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [ exports ];
  return exports && typeof exports === 'object' ? Object.values(exports).flatMap(exportTargets) : [];
}

/** Runs egg-scripts start; on failure, the error carries what the app wrote to stderr and its error log. */
function startOrExplain(run: () => unknown, logDir: string): void {
  try {
    run();
  } catch (err) {
    const read = (file: string) => (fs.existsSync(path.join(logDir, file)) ? fs.readFileSync(path.join(logDir, file), 'utf8').slice(-4000) : '');
    throw new Error(`egg-scripts start failed: ${(err as Error).message}\n--- master-stderr.log\n${read('master-stderr.log')}\n--- common-error.log\n${read('common-error.log')}`);
  }
}
