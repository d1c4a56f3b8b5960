'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

/** The folders of the packages, and what counts as a test there. */
const PACKAGE_FILES = [ '{plugins,framework,packages,examples}/**/*.{ts,js}' ];
const TEST_FILES = [ '{plugins,framework,packages,examples}/**/test/**' ];

/** A package is used through its entry point and typings, never through its files (`egg-im-cache/lib/...`). */
const internals = (allowed = []) => ({
  patterns: [{
    group: [ 'egg-im-*/lib', 'egg-im-*/lib/**', 'egg-im-*/app', 'egg-im-*/app/**', ...allowed ],
    message: 'Use the package\'s own API (its entry point, typings and app.* object), not its files.',
  }],
});

/** The cache's Redis client is its own: other packages use the cache's API (`app.imCache.*`). */
const CACHE_CLIENT = 'The Redis client belongs to egg-im-cache: use the cache\'s API (leases, socketAdapter, limiter, ...).';
const cacheClient = [
  { selector: "MemberExpression[property.name='redis'][object.name=/^(imCache|cache)$/]", message: CACHE_CLIENT },
  { selector: "MemberExpression[property.name='redis'][object.property.name=/^(imCache|cache)$/]", message: CACHE_CLIENT },
  { selector: "MemberExpression[property.value='redis'][object.property.name=/^(imCache|cache)$/]", message: CACHE_CLIENT },
  { selector: "VariableDeclarator[init.name=/^(imCache|cache)$/] > ObjectPattern > Property[key.name='redis']", message: CACHE_CLIENT },
  { selector: "VariableDeclarator[init.property.name=/^(imCache|cache)$/] > ObjectPattern > Property[key.name='redis']", message: CACHE_CLIENT },
];

/**
 * Inside the message path (the router's lib/), every part is given its collaborators by `Im`: none looks up the
 * app (`app.im.*`, `app.imStore`, ...) at run time, so the imports say how a message flows.
 */
const APP_LOOKUP = 'The router\'s parts get their collaborators in their constructors (see lib/Im.ts), not from the app.';
const appLookups = [
  { selector: "MemberExpression[object.type='Identifier'][object.name='app']", message: APP_LOOKUP },
  { selector: "MemberExpression[object.type='ThisExpression'][property.name='app']", message: APP_LOOKUP },
];

module.exports = tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/*.d.ts',
      '**/run/**',
      '**/logs/**',
      '**/test/fixtures/apps/ts/**/*.js',
      // compiled output (only present between prepack and postpack)
      'packages/*/index.js', 'packages/*/lib/**/*.js',
      'plugins/*/{app,agent}.js', 'plugins/*/{app,config,lib}/**/*.js',
      'framework/*/{app,agent}.js', 'framework/*/{app,config,lib}/**/*.js',
      // built by the client package's `prepare` (esbuild, tsc)
      'packages/*/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  // The plugins meet through narrow ports: no package reaches into another's files, and none but the cache
  // touches its Redis client. Tests may use the testkit's own modules (egg-im-testkit/lib/...).
  {
    files: PACKAGE_FILES,
    ignores: TEST_FILES,
    rules: { '@typescript-eslint/no-restricted-imports': ['error', internals()] },
  },
  {
    files: TEST_FILES,
    rules: { '@typescript-eslint/no-restricted-imports': ['error', internals([ '!egg-im-testkit/lib', '!egg-im-testkit/lib/**' ])] },
  },
  {
    files: PACKAGE_FILES,
    ignores: [ ...TEST_FILES, 'plugins/egg-im-cache/**' ],
    rules: { 'no-restricted-syntax': ['error', ...cacheClient] },
  },
  {
    files: [ 'plugins/egg-im-router/lib/**/*.ts' ],
    rules: { 'no-restricted-syntax': ['error', ...cacheClient, ...appLookups] },
  },
);
