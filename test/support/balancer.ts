import net from 'node:net';
import { getJson } from './process';

/** How often the balancer asks each node's /readyz (a real balancer: every few seconds; here the test is short). */
const HEALTH_POLL_MS = 50;

/**
 * A TCP load balancer for tests, on 127.0.0.1: each new connection goes to the next node (round robin) whose
 * /readyz last answered 200, and to the following one when that node refuses the TCP connection. It keeps every
 * /readyz status it saw per node.
 */
export class Balancer {
  readonly statusesSeen = new Map<number, Set<string>>();
  /** The node port each connection went to, in order. */
  readonly routedTo: number[] = [];
  private readonly healthy = new Set<number>();
  private readonly connections = new Set<net.Socket>();
  private next = 0;
  private polling = true;
  private readonly server = net.createServer(client => this.forward(client));

  private constructor(private readonly ports: number[]) {
    for (const port of ports) {
      this.healthy.add(port);
      this.statusesSeen.set(port, new Set());
      void this.poll(port);
    }
  }

  static async start(ports: number[]): Promise<Balancer> {
    const balancer = new Balancer(ports);
    await new Promise<void>(resolve => balancer.server.listen(0, '127.0.0.1', resolve));
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.polling = false;
    for (const socket of this.connections) socket.destroy();
    await new Promise(resolve => this.server.close(resolve));
  }

  private async poll(port: number): Promise<void> {
    while (this.polling) {
      try {
        const { status, body } = await getJson(`http://127.0.0.1:${port}/readyz`);
        this.statusesSeen.get(port)!.add(String(body?.status));
        if (status === 200) this.healthy.add(port);
        else this.healthy.delete(port);
      } catch {
        this.statusesSeen.get(port)!.add('unreachable');
        this.healthy.delete(port);
      }
      await new Promise(resolve => setTimeout(resolve, HEALTH_POLL_MS));
    }
  }

  private forward(client: net.Socket, tried = 0): void {
    const candidates = this.ports.filter(port => this.healthy.has(port));
    if (candidates.length === 0 || tried >= candidates.length) {
      client.destroy();
      return;
    }
    const port = candidates[this.next++ % candidates.length];
    const upstream = net.connect(port, '127.0.0.1');
    let connected = false;
    client.pause();
    upstream.once('connect', () => {
      connected = true;
      this.routedTo.push(port);
      this.track(client, upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (!connected) {
        this.healthy.delete(port);
        this.forward(client, tried + 1);
      } else {
        client.destroy();
      }
    });
  }

  private track(client: net.Socket, upstream: net.Socket): void {
    for (const socket of [ client, upstream ]) {
      this.connections.add(socket);
      socket.once('close', () => {
        this.connections.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('error', () => client.destroy());
  }
}
