import type { Application, IBoot } from 'egg';
import { closeStores, createImStore } from './lib/createImStore';

/**
 * egg-im-store boot: `app.imStore` is created in `didLoad` through `app.addSingleton` with an async
 * creator, so Egg waits until the database is connected and migrated before the app is ready; other
 * plugins may use `app.imStore` from `willReady` on. It is closed in `beforeClose` (Egg closes in reverse
 * order of opening, so the store closes after the plugins that use it).
 */
export default class ImStoreBoot implements IBoot {
  constructor(private readonly app: Application) {}

  async didLoad(): Promise<void> {
    this.app.addSingleton('imStore', createImStore);
  }

  async beforeClose(): Promise<void> {
    await closeStores(this.app);
    this.app.coreLogger.info('[egg-im-store] closed');
  }
}
