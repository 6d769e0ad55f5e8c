export type * from './types.js';
export { compileRouteTable } from './router/index.js';
export type { RouteTableOptions } from './router/index.js';
