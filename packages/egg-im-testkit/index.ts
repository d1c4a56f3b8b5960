export * from './lib/services';
export * from './lib/wait';
export * from './lib/ports';
export * from './lib/mariadbServer';
export * from './lib/redisServer';
export * from './lib/im';
export * from './lib/http';
export * from './lib/redisKeys';
