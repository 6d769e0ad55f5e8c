export type * from './types.js';
export * from './filters/index.js';
