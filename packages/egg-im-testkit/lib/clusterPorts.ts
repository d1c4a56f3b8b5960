/**
 * Loaded before egg-mock (package.json `egg.require`). egg-mock gives each app's cluster-client leader a port it
 * picks in advance with detect-port: an ephemeral port the OS hands out and that is released at once. Until the
 * agent listens on it, an outgoing connection of the same test (Redis, MySQL, a socket.io client) can be given
 * the same number, since ephemeral ports serve both, and the app fails to start: `create "Watcher" leader
 * failed, the port:N is occupied by other`. A port asked for without a number now comes from below the
 * ephemeral range, which outgoing connections never use.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

type DetectPort = (port?: unknown, callback?: unknown) => Promise<number>;

const FLOOR = 20000;
// detect-port's index re-exports through getters: its own module's export is the one to replace.
const detectPortFile = path.join(path.dirname(require.resolve('detect-port', { paths: [ require.resolve('egg-mock') ] })), 'detect-port.js');
const detectPortModule: { detectPort: DetectPort } = require(detectPortFile);
const original = detectPortModule.detectPort;
const ceiling = ephemeralStart() - 1;

if (ceiling - FLOOR >= 1000) {
  detectPortModule.detectPort = (port?: unknown, callback?: unknown) => {
    if ((port !== undefined && port !== null && port !== 0) || callback !== undefined) return original(port, callback);
    return portBelowEphemeral();
  };
}

async function portBelowEphemeral(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = FLOOR + Math.floor(Math.random() * (ceiling - FLOOR));
    if (await free(port)) return port;
  }
  return original();
}

function free(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The first port the OS hands out to outgoing connections (Linux; elsewhere the usual 32768). */
function ephemeralStart(): number {
  try {
    const start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 0 ? start : 32768;
  } catch {
    return 32768;
  }
}
