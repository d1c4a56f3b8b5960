// `egg-im/client` for ES modules: egg-im-client's own ES module build, named exports and all.
export * from 'egg-im-client';
