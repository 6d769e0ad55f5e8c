// The router's public API: compile a RouteConfiguration into a route table, then match requests.
// Core re-exports it from the package's index.
export {
  compileRouteTable,
  CompiledRouteTable,
  DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES,
} from './route-table.js';
export type { RouteTableOptions } from './route-table.js';
export { ORIGINAL_PATH_HEADER } from './route-action.js';
