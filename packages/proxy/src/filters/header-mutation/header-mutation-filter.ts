// `envoy.filters.http.header_mutation`: request and response header additions and removals, in
// the order configured. A per-route config (HeaderMutationPerRoute) replaces the filter's.
import type { FilterEnvironment, HttpContext, HttpFilter } from '../../types.js';
import { ConfigReader } from '../config-reader.js';
import {
  type HeaderOp,
  applyHeaderOps,
  compileHeaderRemoval,
  compileHeaderValueOption,
} from './header-ops.js';

/** A compiled header_mutation config. */
export class HeaderMutationFilterConfig {
  readonly requestOps: readonly HeaderOp[];
  readonly responseOps: readonly HeaderOp[];

  constructor(requestOps: readonly HeaderOp[], responseOps: readonly HeaderOp[]) {
    this.requestOps = requestOps;
    this.responseOps = responseOps;
  }
}

function compileMutations(reader: ConfigReader, value: unknown, field: string): HeaderOp[] {
  const ops: HeaderOp[] = [];
  reader.list(value, field).forEach((m, i) => {
    const here = `${field}[${i}]`;
    const o = reader.object(m, here);
    if ((o.append === undefined) === (o.remove === undefined)) {
      throw reader.error(here, 'needs exactly one of append, remove');
    }
    if (o.remove !== undefined) ops.push(compileHeaderRemoval(reader, o.remove, `${here}.remove`));
    else {
      const op = compileHeaderValueOption(reader, o.append, `${here}.append`);
      if (op !== null) ops.push(op);
    }
  });
  return ops;
}

/**
 * The header mutation filter (`header_mutation`): `requestMutations` change the request before
 * it is routed onward, `responseMutations` the response head, each an `append` (Envoy's
 * `appendAction`) or a `remove`, in order.
 *
 * @example
 * ```ts
 * createProxy({ config, filters: [...builtinHttpFilters] }); // `header_mutation` in an HCM's http_filters
 * ```
 */
export const headerMutationFilter: HttpFilter<HeaderMutationFilterConfig> = {
  name: 'header_mutation',
  configure(config: unknown, env: FilterEnvironment): HeaderMutationFilterConfig {
    const reader = new ConfigReader(env);
    const o = reader.typed(config, 'header_mutation');
    return new HeaderMutationFilterConfig(
      compileMutations(reader, o.requestMutations, 'requestMutations'),
      compileMutations(reader, o.responseMutations, 'responseMutations'),
    );
  },
  onRequest(ctx: HttpContext, config: HeaderMutationFilterConfig): void {
    if (config.requestOps.length > 0) applyHeaderOps(ctx.request.headers, config.requestOps);
  },
  onResponse(ctx: HttpContext, config: HeaderMutationFilterConfig): void {
    const response = ctx.response;
    if (response !== null && config.responseOps.length > 0)
      applyHeaderOps(response.headers, config.responseOps);
  },
};
