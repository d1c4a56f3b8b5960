import type { IncomingHttpHeaders } from 'node:http';

/** The parts of Egg's config that decide `ctx.ip`. */
export interface AddressConfig {
  proxy?: boolean;
  ipHeaders?: string;
  maxIpsCount?: number;
  maxProxyCount?: number;
}

/**
 * A socket's client address, read as Egg reads `ctx.ip` for an HTTP request (app/extend/request.js): behind a
 * trusted proxy (`config.proxy`) the first address of the first of `config.ipHeaders` present, keeping only the
 * last `maxIpsCount`; else the connection's own address. An IPv4-mapped IPv6 address is given as its IPv4.
 */
export function clientAddress(config: AddressConfig, headers: IncomingHttpHeaders, remoteAddress: string): string {
  let ips: string[] = [];
  if (config.proxy) {
    for (const name of (config.ipHeaders ?? '').split(/\s*,\s*/)) {
      const value = name ? headers[name.toLowerCase()] : undefined;
      const text = Array.isArray(value) ? value.join(',') : value;
      if (text) {
        ips = text.split(/\s*,\s*/);
        break;
      }
    }
    const maxIpsCount = config.maxIpsCount || (config.maxProxyCount ? config.maxProxyCount + 1 : 0);
    if (maxIpsCount > 0) ips = ips.slice(-maxIpsCount);
  }
  const ip = ips[0] || remoteAddress;
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
