export * from './lib/backoff';
export * from './lib/errors';
export * from './lib/ids';
export * from './lib/json';
export * from './lib/nodes';
export * from './lib/wire';
