import type { Application, IBoot } from 'egg';
import { closeStores, createImStore } from './lib/createImStore';
import type { ImStoreClientConfigInput } from './lib/types';

/**
 * egg-im-store boot: `app.imStore` is created in `didLoad` through `app.addSingleton` with an async
 * creator, so Egg waits until the database is connected and migrated before the app is ready; other
 * plugins may use `app.imStore` from `willReady` on. It is closed in `beforeClose` (Egg closes in reverse
 * order of opening, so the store closes after the plugins that use it).
 */
export default class ImStoreBoot implements IBoot {
  constructor(private readonly app: Application) {}

  async didLoad(): Promise<void> {
    // egg-im-metrics, when it is there, learns of each committed batch of messages and of each receipt flush. (An async function: Egg
    // waits for an async creator only.)
    const observer = this.app.imMetrics?.store;
    const timers = this.app.imMetrics?.timers;
    this.app.addSingleton('imStore', async (config: ImStoreClientConfigInput, app: Application) => createImStore(config, app, observer, timers));
  }

  async beforeClose(): Promise<void> {
    await closeStores(this.app);
    this.app.coreLogger.info('[egg-im-store] closed');
  }
}
