export type * from './types.js';
export { defineHttpFilter } from './filters/define-http-filter.js';
export { ConfigError, InvalidArgumentError, MeshletError } from './errors.js';
export * from './filters/index.js';
