'use strict';
// `egg-im/client`: the typed client of egg-im-client, kept here for existing users (typings: index.d.ts beside).
// Plain JavaScript, not compiled, so the package's `exports` map finds it in the sources as in the tarball.
module.exports = require('egg-im-client');
