import fs from 'node:fs';
import net from 'node:net';

/**
 * Where the ports a test asks for come from: below the range the OS hands out to outgoing connections. A port
 * picked from that range and released at once (listen on 0, close) can be given to an outgoing connection of the
 * same machine (Redis, MySQL, a client, another node's egg master picking its cluster port) before its server
 * listens there; the server then fails to start with EADDRINUSE. Below the range only another explicit bind can
 * take it.
 */
const FLOOR = 20000;

/** A TCP port on 127.0.0.1 nothing listens on right now, from below the ephemeral range when it has room. */
export async function freeTcpPort(): Promise<number> {
  const ceiling = ephemeralStart() - 1;
  if (ceiling - FLOOR >= 1000) {
    for (let tries = 0; tries < 50; tries++) {
      const port = FLOOR + Math.floor(Math.random() * (ceiling - FLOOR));
      if (await isFree(port)) return port;
    }
  }
  return osPickedPort();
}

function isFree(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(err => (err || !port ? reject(err ?? new Error('[egg-im-testkit] no free port')) : resolve(port)));
    });
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
