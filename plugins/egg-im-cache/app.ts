import type { Application, IBoot } from 'egg';
import { createImCache } from './lib/createImCache';
import { ImCache } from './lib/ImCache';

/** egg-im-cache: `app.imCache` (see README.md). */
export default class ImCacheBoot implements IBoot {
  private readonly app: Application;

  constructor(app: Application) {
    this.app = app;
  }

  async didLoad(): Promise<void> {
    this.app.addSingleton('imCache', createImCache);
  }

  async beforeClose(): Promise<void> {
    // `client` config: app.imCache is the cache; `clients` config: a singleton holding them
    const holder = this.app.imCache as unknown;
    const caches: ImCache[] = holder instanceof ImCache
      ? [ holder ]
      : [ ...((holder as { clients?: Map<string, ImCache> } | undefined)?.clients?.values() ?? []) ];
    await Promise.all(caches.map(cache => cache.close()));
    this.app.coreLogger.info('[egg-im-cache] closed');
  }
}
