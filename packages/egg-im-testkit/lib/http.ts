import type { TestLogin, TestUser } from './im';

/** Test helpers for an app in another process, over fetch (what `im.ts` does through egg-mock's supertest). */

export interface JsonResponse {
  status: number;
  body: any;
}

/** One JSON request; `token` goes in `Authorization: Bearer`. */
export async function httpJson(baseUrl: string, method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function expectStatus(res: JsonResponse, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
}

let counter = 0;

export async function remoteRegister(baseUrl: string, label = 'user'): Promise<TestUser> {
  const username = `${label}_${process.pid}_${++counter}`.slice(0, 32);
  const password = `pw-${username}-secret`;
  const res = await httpJson(baseUrl, 'POST', '/im/auth/register', { body: { username, password } });
  expectStatus(res, 201, 'register');
  return { userId: res.body.userId, username, password };
}

export async function remoteLogin(baseUrl: string, user: TestUser, deviceId?: string): Promise<TestLogin> {
  const res = await httpJson(baseUrl, 'POST', '/im/auth/login', { body: { username: user.username, password: user.password, deviceId } });
  expectStatus(res, 200, 'login');
  return { ...user, ...res.body };
}
