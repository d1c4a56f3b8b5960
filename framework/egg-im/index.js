'use strict';
// The egg-im framework: everything egg exports, with egg-im's Application and Agent in place of egg's.
// Plain JavaScript, not compiled, so the package's `exports` map finds it in the sources as in the tarball.
const egg = require('egg');
const { Application, Agent } = require('./lib/framework');

Object.assign(exports, egg, { Application, Agent });
