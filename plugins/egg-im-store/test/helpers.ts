import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { isImError } from 'egg-im-protocol';

export const FIXTURES = path.join(__dirname, 'fixtures/apps');

/** What the plugin and Egg have written so far to the core log of a fixture app. */
export function readCoreLog(scenario: string): string {
  const logsDir = path.join(FIXTURES, scenario, 'logs');
  if (!fs.existsSync(logsDir)) return '';
  let text = '';
  for (const appDir of fs.readdirSync(logsDir)) {
    for (const file of ['egg-web.log', 'common-error.log']) {
      const full = path.join(logsDir, appDir, file);
      if (fs.existsSync(full)) text += fs.readFileSync(full, 'utf8');
    }
  }
  return text;
}

/** Every log file a fixture app has written so far (egg writes under `logs/<appname>/`), concatenated. */
export function readAllLogs(scenario: string): string {
  const walk = (dir: string): string => (fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).map(entry => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? walk(full) : fs.readFileSync(full, 'utf8');
    }).join('\n')
    : '');
  return walk(path.join(FIXTURES, scenario, 'logs'));
}

/**
 * The core log of a fixture app once it shows every pattern, or as it is after timeoutMs (so the caller's assertion
 * fails with the text). Egg's file logger writes through a stream that `app.close()` ends without waiting for it,
 * so the last lines of a run can land a moment after close() returns.
 */
export async function coreLogShowing(scenario: string, patterns: RegExp[], timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readCoreLog(scenario);
    if (patterns.every(p => p.test(text)) || Date.now() >= deadline) return text;
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

/** Removes what booting a fixture app leaves in its folder (logs, run). */
export function cleanFixture(scenario: string): void {
  for (const dir of ['logs', 'run']) fs.rmSync(path.join(FIXTURES, scenario, dir), { recursive: true, force: true });
}

export function makeTempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `egg-im-store-${label}-`));
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Fails unless the promise rejects with an ImError of this code. */
export async function expectImError(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await rejectionOf(promise);
  assert.ok(isImError(err), `expected ImError ${code}, got ${err}`);
  assert.equal(err.code, code);
}
