// The RPC route table of one `rpc_proxy` and config version: the first route whose service,
// method and header matchers all match wins. Service and method are read from the request head
// the filters saw (`authority` = service, `method` = RPC method), so a filter can re-route.
import { ConfigError } from '@meshlet/errors';
import type { MetadataValue } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import { type CompiledHeaderMatcher, compileHeaderMatchers } from '../matchers/header-matcher.js';
import { type CompiledStringMatcher, compileStringMatcher } from '../matchers/string-matcher.js';
import type { MatcherConfigErrors, RequestHead } from '../types.js';

/** Retries of an idempotent route when the config gives no count. */
export const DEFAULT_RPC_RETRIES = 1;

/** One compiled RPC route. */
export class RpcRouteEntry {
  /** `routes[i]`, for access logs and errors. */
  readonly name: string;
  readonly source: model.RpcRoute;
  private readonly service: CompiledStringMatcher | null;
  private readonly method: CompiledStringMatcher | null;
  private readonly headers: readonly CompiledHeaderMatcher[];
  private readonly clusters: readonly string[];
  /** Cumulative weights of `clusters` (one entry for a single cluster). */
  private readonly cumulative: readonly number[];
  private readonly totalWeight: number;
  /** The `envoy.lb` subset the hosts must carry. */
  readonly metadataMatch: Readonly<Record<string, MetadataValue>> | undefined;
  /** Upstream timeout (ms), `undefined` when the route sets none. */
  readonly timeoutMs: number | undefined;
  /** Retries allowed (0 unless the route is idempotent). */
  readonly retries: number;

  constructor(route: model.RpcRoute, name: string, errors: MatcherConfigErrors) {
    this.name = name;
    this.source = route;
    this.service =
      route.match.service === undefined
        ? null
        : compileStringMatcher(errors, route.match.service, `${name}.match.service`);
    this.method =
      route.match.method === undefined
        ? null
        : compileStringMatcher(errors, route.match.method, `${name}.match.method`);
    this.headers = compileHeaderMatchers(errors, route.match.headers, `${name}.match.headers`);
    if (route.cluster !== undefined && route.cluster !== '') {
      this.clusters = [route.cluster];
      this.cumulative = [1];
      this.totalWeight = 1;
    } else {
      const weighted = route.weightedClusters ?? [];
      const cumulative: number[] = [];
      let total = 0;
      for (const c of weighted) {
        if (!(Number.isInteger(c.weight) && c.weight >= 0))
          throw errors.error(
            `${name}.weighted_clusters`,
            `weight of "${c.name}" must be a non-negative integer`,
          );
        total += c.weight;
        cumulative.push(total);
      }
      if (total === 0)
        throw errors.error(name, 'needs a cluster, or weighted_clusters with a positive total weight');
      this.clusters = weighted.map((c) => c.name);
      this.cumulative = cumulative;
      this.totalWeight = total;
    }
    this.metadataMatch = lbMetadata(route.metadataMatch, `${name}.metadata_match`, errors);
    this.timeoutMs = route.timeoutMs;
    this.retries = route.idempotent === true ? (route.numRetries ?? DEFAULT_RPC_RETRIES) : 0;
  }

  /** Whether the request matches this route. */
  matches(request: RequestHead): boolean {
    if (this.service !== null && !this.service.match(request.authority)) return false;
    if (this.method !== null && !this.method.match(request.method)) return false;
    for (const h of this.headers) if (!h.matches(request)) return false;
    return true;
  }

  /** The cluster for one request (`random` in [0, 1) draws among weighted clusters). */
  cluster(random: number): string {
    const clusters = this.clusters;
    if (clusters.length === 1) return clusters[0] as string;
    const point = random * this.totalWeight;
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++)
      if (point < (cumulative[i] as number)) return clusters[i] as string;
    return clusters[clusters.length - 1] as string;
  }

  /** Every cluster this route may send to. */
  get clusterNames(): readonly string[] {
    return this.clusters;
  }
}

function lbMetadata(
  metadata: model.Metadata | undefined,
  where: string,
  errors: MatcherConfigErrors,
): Record<string, MetadataValue> | undefined {
  const lb = metadata?.['envoy.lb'];
  if (lb === undefined) return undefined;
  const out: Record<string, MetadataValue> = {};
  for (const [key, value] of Object.entries(lb)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw errors.error(
        `${where}.filter_metadata["envoy.lb"].${key}`,
        'must be a string, number or boolean',
      );
    out[key] = value;
  }
  return out;
}

/** The routes of one RPC proxy, compiled. */
export class RpcRouteTable {
  readonly routes: readonly RpcRouteEntry[];

  constructor(routes: readonly model.RpcRoute[], where: string) {
    const errors: MatcherConfigErrors = {
      error: (field, message) => new ConfigError(`${where}: ${field}: ${message}`),
      key: (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    };
    this.routes = routes.map((r, i) => new RpcRouteEntry(r, `routes[${i}]`, errors));
  }

  /** The first matching route, or `null`. */
  match(request: RequestHead): RpcRouteEntry | null {
    for (const route of this.routes) if (route.matches(request)) return route;
    return null;
  }
}
