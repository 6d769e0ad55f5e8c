// The built-in HTTP filters but the router (the forward part's), by their config type names.
import type { HttpFilter } from '../types.js';
import { corsFilter } from './cors/cors-filter.js';
import { faultFilter } from './fault/fault-filter.js';
import { headerMutationFilter } from './header-mutation/header-mutation-filter.js';
import { localRateLimitFilter } from './local-rate-limit/local-rate-limit-filter.js';
import { rbacFilter } from './rbac/rbac-filter.js';

/**
 * The built-in filters `fault`, `local_rate_limit`, `rbac`, `header_mutation` and `cors`, in the
 * order Envoy users usually chain them. The router is not among them: it is always last.
 *
 * @example
 * ```ts
 * createProxy({ config, filters: [...builtinHttpFilters, myAuthFilter] });
 * ```
 */
export const builtinHttpFilters: readonly HttpFilter[] = Object.freeze([
  faultFilter,
  localRateLimitFilter,
  rbacFilter,
  headerMutationFilter,
  corsFilter,
] as HttpFilter[]);
