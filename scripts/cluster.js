'use strict';
// Starts an app on the egg-im framework in production mode (egg-cluster: master, agent, N workers) in the
// foreground, straight from this monorepo's TypeScript sources: `npm start`, the production-mode tests and the
// benchmark. Published packages ship JS and start with egg-scripts.
//   node scripts/cluster.js [--baseDir examples/chat] [--workers N] [--port 7001] [--sticky]
// Workers: --workers, else WORKERS, else one per CPU with IM_REDIS_URL set and ONE without it (the embedded
// default keeps its cache in each worker's memory: workers could not see each other's sockets).
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    baseDir: { type: 'string', default: 'examples/chat' },
    workers: { type: 'string', default: process.env.WORKERS || String(process.env.IM_REDIS_URL ? os.cpus().length : 1) },
    port: { type: 'string', default: process.env.PORT || '7001' },
    sticky: { type: 'boolean', default: false },
  },
});

const register = require.resolve('ts-node/register/transpile-only');
const framework = path.dirname(require.resolve('egg-im/package.json'));
if (!process.execArgv.some(arg => arg.includes('ts-node'))) {
  // Workers inherit execArgv: restart with ts-node preloaded so every process can load .ts.
  const { spawn } = require('node:child_process');
  // The V8 flags that only take effect at start (the framework sets the others at run time); workers inherit them.
  require(register);
  const { START_FLAGS } = require(path.join(framework, 'lib/v8Flags'));
  const child = spawn(process.execPath, [ ...START_FLAGS, '--require', register, __filename, ...process.argv.slice(2) ], { stdio: 'inherit' });
  for (const signal of [ 'SIGINT', 'SIGTERM' ]) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return;
}

process.env.EGG_TYPESCRIPT = 'true';
process.env.EGG_SERVER_ENV = process.env.EGG_SERVER_ENV || 'prod';
process.env.NODE_ENV = process.env.NODE_ENV || 'production';
// egg's master SIGKILLs a worker still closing after this: room for the drain (imHealth.drainMs, 10 s by
// default) and the plugins' own close.
process.env.EGG_APP_CLOSE_TIMEOUT = process.env.EGG_APP_CLOSE_TIMEOUT || '30000';
require('egg-im').startCluster({
  baseDir: path.resolve(values.baseDir),
  framework,
  workers: Number(values.workers),
  port: Number(values.port),
  sticky: values.sticky,
});
