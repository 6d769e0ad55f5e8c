// The built-in HTTP filters (fault, local_rate_limit, rbac, header_mutation, cors) and the
// config reader they share. Core re-exports this file from the package's index.
export { builtinHttpFilters } from './builtin.js';
export {
  faultFilter,
  createFaultFilter,
  FaultFilterConfig,
  FAULT_HEADERS,
  FAULT_ABORT_BODY,
} from './fault/fault-filter.js';
export type { FaultFilterOptions, FaultStats, FaultTimers } from './fault/fault-filter.js';
export {
  localRateLimitFilter,
  LocalRateLimitFilterConfig,
  LOCAL_RATE_LIMIT_DESCRIPTORS,
  LOCAL_RATE_LIMITED_BODY,
  MAX_CONNECTION_LIMITERS,
} from './local-rate-limit/local-rate-limit-filter.js';
export type { LocalRateLimitFilterStats } from './local-rate-limit/local-rate-limit-filter.js';
export {
  rbacFilter,
  RbacFilterConfig,
  RbacMetadata,
  RBAC_METADATA,
  RBAC_DENIED_BODY,
} from './rbac/rbac-filter.js';
export type { RbacStats } from './rbac/rbac-filter.js';
export { RbacEngine, RbacPolicy } from './rbac/rbac-engine.js';
export type { RbacMatcher } from './rbac/rbac-engine.js';
export { CidrRange, IpAddress, compileCidr, parseIp } from './rbac/cidr.js';
export {
  headerMutationFilter,
  HeaderMutationFilterConfig,
} from './header-mutation/header-mutation-filter.js';
export { HeaderOp, applyHeaderOps } from './header-mutation/header-ops.js';
export { corsFilter, CorsFilterConfig, CompiledCorsPolicy } from './cors/cors-filter.js';
export { ConfigReader } from './config-reader.js';
