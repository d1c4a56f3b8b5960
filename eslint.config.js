'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

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
      'framework/*/{index,app,agent}.js', 'framework/*/{app,config,lib,client}/**/*.js',
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
);
