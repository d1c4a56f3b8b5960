'use strict';
// `npm test` runs against real MariaDB/MySQL and Redis. Stop at once, naming what is missing, when one is down.
const net = require('node:net');

const services = [
  {
    name: 'MariaDB/MySQL',
    url: process.env.IM_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306',
    defaultPort: 3306,
    start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd   (or: bash .ci/run, which starts and installs what is missing)',
  },
  {
    name: 'Redis',
    url: process.env.IM_TEST_REDIS_URL || 'redis://127.0.0.1:6379',
    defaultPort: 6379,
    start: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
  },
];

function reachable({ url, defaultPort }) {
  const { hostname, port } = new URL(url);
  return new Promise(resolve => {
    const socket = net.connect({ host: hostname, port: Number(port) || defaultPort, timeout: 2000 });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

(async () => {
  const missing = [];
  for (const service of services) {
    if (!await reachable(service)) missing.push(service);
  }
  if (missing.length === 0) return;
  for (const { name, url, start } of missing) {
    console.error(`[egg-im] ${name} is not reachable at ${url.replace(/\/\/[^@/]*@/, '//')}: the tests need it.`);
    console.error(`         start it with: ${start}`);
  }
  console.error('         (set IM_TEST_MYSQL_URL / IM_TEST_REDIS_URL to use other servers)');
  process.exit(1);
})();
