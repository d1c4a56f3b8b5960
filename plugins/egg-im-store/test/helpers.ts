import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const FIXTURES = path.join(__dirname, 'fixtures/apps');

/** Everything the plugin and Egg wrote to the core log of a fixture app (read after `app.close()`, which flushes). */
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
