import { ImClientError } from './errors';
import type { EndpointOptions } from './types';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under the prefix, e.g. `/auth/login` (segments already encoded). */
  path: string;
  /** Values to send; an array repeats the parameter (`?id=a&id=b`). */
  query?: Record<string, string | number | string[] | undefined>;
  body?: unknown;
  /** Bearer token, when the route needs one. */
  token?: string;
}

/** JSON over `fetch` for the contract's HTTP routes; every failure is an `ImClientError`. */
export class HttpClient {
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: EndpointOptions) {
    const prefix = normalizePrefix(options.prefix ?? '/im');
    this.#base = options.baseUrl.replace(/\/+$/, '') + prefix;
    this.#timeoutMs = options.httpTimeoutMs ?? 15_000;
    const impl = options.fetch ?? globalThis.fetch;
    if (typeof impl !== 'function') throw new Error('[egg-im-client] no fetch: pass options.fetch');
    // Called as a plain function: browsers refuse `fetch` invoked on another object ("Illegal invocation").
    this.#fetch = (input, init) => impl(input, init);
  }

  /** Resolves with the parsed JSON body (undefined for an empty one, e.g. 204). */
  async request<T>(req: HttpRequest): Promise<T> {
    const url = this.#base + req.path + queryString(req.query);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: controller.signal,
      });
      text = await response.text();
    } catch (err) {
      if (controller.signal.aborted) {
        throw new ImClientError('TIMEOUT', `[egg-im-client] ${req.method} ${req.path} took over ${this.#timeoutMs} ms`, { cause: err });
      }
      throw new ImClientError('NETWORK_ERROR', `[egg-im-client] ${req.method} ${req.path} failed: ${(err as Error)?.message ?? err}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new ImClientError('BAD_RESPONSE', `[egg-im-client] ${req.method} ${req.path}: HTTP ${response.status}, not JSON`, { status: response.status, cause: err });
      }
    }
    if (!response.ok) {
      const error = (body as { error?: unknown } | undefined)?.error;
      throw ImClientError.fromBody(error, response.status);
    }
    return body as T;
  }
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function queryString(query: HttpRequest['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [ key, value ] of Object.entries(query)) {
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Encodes one path segment (ids are strings and may hold any character). */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
