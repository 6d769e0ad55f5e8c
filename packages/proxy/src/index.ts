export type * from './types.js';
export * from './cluster/index.js';
