export { createRouterFilter, ForwardingRouterFilter } from './router-filter.js';
export type { RouterFilterOptions, RouterFilterStats } from './router-filter.js';
export { parseGrpcTimeout } from './headers.js';
