import fs from 'node:fs';
import path from 'node:path';

/**
 * Logs hold user ids, IP addresses and error details: readable by the app's user and group only. The folder
 * is closed to others (files made later, e.g. by log rotation, are covered by it) and the files already in
 * it lose their world-readable bit.
 */
export function makeLogsPrivate(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  fs.chmodSync(dir, fs.statSync(dir).mode & 0o750);
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    const { mode } = fs.statSync(file);
    if (mode & 0o007) fs.chmodSync(file, mode & 0o770);
  }
}
