import type { Application } from 'egg';
import { ImCache } from './ImCache';
import { resolveOptions } from './options';
import type { ImCacheClientConfig } from './types';

/**
 * The `app.addSingleton('imCache', createImCache)` factory. An async function on purpose: Egg then
 * waits for it before the app is ready, so `app.imCache` is usable from `willReady` on.
 */
export async function createImCache(config: Partial<ImCacheClientConfig>, app: Application): Promise<ImCache> {
  return ImCache.create(resolveOptions(config), app.coreLogger);
}
