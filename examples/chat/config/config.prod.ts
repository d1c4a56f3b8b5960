import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';

/**
 * Production: the cookie-signing keys are EGG_KEYS (the same on every node), never the development key of
 * config.default.ts. Without EGG_KEYS the demo still starts, on a key made for this install: random, kept in
 * run/egg-keys (readable by the app's user only), so sessions survive a restart. A second node would make its
 * own: set EGG_KEYS before adding one.
 */
export default (appInfo: EggAppInfo) => {
  const config: PowerPartial<EggAppConfig> = {};
  config.keys = process.env.EGG_KEYS || installKey(path.join(appInfo.baseDir, 'run', 'egg-keys'));
  return config;
};

function installKey(file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file)) {
    // The agent and the workers read their config at once: each writes a whole file of its own, and the first
    // link wins (a link never shows a half-written file); the others read that one.
    const own = `${file}.${process.pid}`;
    fs.writeFileSync(own, randomBytes(32).toString('hex'), { mode: 0o600 });
    try {
      fs.linkSync(own, file);
      console.warn(`[egg-im-example-chat] EGG_KEYS is not set: cookies are signed with a random key kept in ${file} (set EGG_KEYS, the same on every node)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.unlinkSync(own);
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
}
