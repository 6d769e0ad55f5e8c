// The router's public API: compile a RouteConfiguration into a route table, then match requests.
export {
  compileRouteTable,
  CompiledRouteTable,
  CompiledVirtualHost,
  DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES,
} from './route-table.js';
export type { RouteTableOptions } from './route-table.js';
export { RouteEntryImpl, isGrpc } from './route-entry.js';
export { RouteActionImpl, Choice, ORIGINAL_PATH_HEADER } from './route-action.js';
export { RetryPolicyImpl, PREVIOUS_HOSTS, DEFAULT_BASE_INTERVAL_MS } from './retry-policy.js';
