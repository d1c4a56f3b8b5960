/**
 * Loaded before egg-mock (package.json `egg.require`). egg-mock gives each app's cluster-client leader a port it
 * picks in advance with detect-port: an ephemeral port the OS hands out and that is released at once. Until the
 * agent listens on it, an outgoing connection of the same test (Redis, MySQL, a socket.io client) can be given
 * the same number, since ephemeral ports serve both, and the app fails to start: `create "Watcher" leader
 * failed, the port:N is occupied by other`. A port asked for without a number now comes from below the
 * ephemeral range, which outgoing connections never use.
 */
import path from 'node:path';
import { freeTcpPort } from './ports';

type DetectPort = (port?: unknown, callback?: unknown) => Promise<number>;

// detect-port's index re-exports through getters: its own module's export is the one to replace.
const detectPortFile = path.join(path.dirname(require.resolve('detect-port', { paths: [ require.resolve('egg-mock') ] })), 'detect-port.js');
const detectPortModule: { detectPort: DetectPort } = require(detectPortFile);
const original = detectPortModule.detectPort;

detectPortModule.detectPort = (port?: unknown, callback?: unknown) => {
  if ((port !== undefined && port !== null && port !== 0) || callback !== undefined) return original(port, callback);
  return freeTcpPort();
};
