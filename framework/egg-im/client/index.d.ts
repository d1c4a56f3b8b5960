/**
 * `egg-im/client`: the typed client, kept here for existing users. It lives in its own package, `egg-im-client`
 * (a front end installs that one alone: it needs no server packages).
 */
export * from 'egg-im-client';
