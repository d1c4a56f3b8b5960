import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Exposition } from './cluster';
import type { ImMetricsConfig, MetricsLogger } from './types';

/** True when no token is configured, or the request's `Authorization: Bearer <token>` has it (compared in constant time). */
export function authorized(header: string | undefined, token: string): boolean {
  if (!token) return true;
  const given = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The answer to a request of the metrics path: the metrics, 401 without the token, 503 when they could not be gathered. */
export async function respond(authorization: string | undefined, token: string, scrape: () => Promise<Exposition>, logger: MetricsLogger):
  Promise<{ status: number; headers: Record<string, string>; body: string }> {
  if (!authorized(authorization, token)) {
    return { status: 401, headers: { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' }, body: 'unauthorized\n' };
  }
  try {
    const { contentType, text } = await scrape();
    return { status: 200, headers: { 'content-type': contentType }, body: text };
  } catch (err) {
    logger.error(new Error('[egg-im-metrics] metrics not served', { cause: err }));
    return { status: 503, headers: { 'content-type': 'text/plain' }, body: 'metrics unavailable\n' };
  }
}

/** The agent's own HTTP server for the metrics (`imMetrics.port`): the metrics path only. */
export async function serveMetrics(config: Pick<ImMetricsConfig, 'path' | 'token' | 'port' | 'host'>, scrape: () => Promise<Exposition>,
  logger: MetricsLogger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== config.path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    void respond(req.headers.authorization, config.token, scrape, logger).then(({ status, headers, body }) => {
      res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => reject(new Error(`[egg-im-metrics] cannot serve the metrics on ${config.host}:${config.port} (imMetrics.port): ${err.message}`, { cause: err }));
    server.once('error', fail);
    server.listen(config.port, config.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  logger.info('[egg-im-metrics] serving %s on http://%s:%d (not on the app\'s port)', config.path, address, port);
  return server;
}
