import type { EggPlugin } from 'egg';

/** The egg-im plugins, bundled: a host app selecting the framework gets all of them. */
const plugin: EggPlugin = {
  imMetrics: { enable: true, package: 'egg-im-metrics' },
  imStore: { enable: true, package: 'egg-im-store' },
  imCache: { enable: true, package: 'egg-im-cache' },
  imConnection: { enable: true, package: 'egg-im-connection' },
  im: { enable: true, package: 'egg-im-router' },
};

export default plugin;
