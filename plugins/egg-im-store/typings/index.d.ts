import 'egg';
import 'egg-im-metrics';
import type { ImStore } from '../lib/ImStore';
import type { ImStoreConfig } from '../lib/types';

declare module 'egg' {
  interface Application {
    /** egg-im's database access (plugin `imStore`); connected and migrated once the app is ready. */
    imStore: ImStore;
  }

  interface EggAppConfig {
    imStore: ImStoreConfig;
  }
}

export * from '../index';
