// A route's forwarding action compiled for the hot path: the cluster choice (one cluster,
// weighted clusters, or the cluster a request header names), rewrites, the hash for ring hash
// and Maglev, and the timeouts, retry policy, mirrors and upgrades the router filter applies.
import { createRequestHasher } from '@meshlet/lb';
import type { HashableRequest, HashPolicy as LbHashPolicy, MetadataValue, RequestHasher } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import type {
  ClusterChoice,
  CompiledRetryPolicy,
  CompiledRouteAction,
  ConnectionInfo,
  HeaderMap,
  MatchInput,
  RequestHead,
} from '../types.js';
import { CompiledHeaderChanges } from './header-changes.js';
import type { PathMatch } from './path-match.js';
import { stripQuery } from './path-match.js';
import { RegexRewrite } from './regex-rewrite.js';
import { RetryPolicyImpl } from './retry-policy.js';
import { at, configError, indexed } from './where.js';

/** The header Envoy keeps the path in when a route rewrites it. */
export const ORIGINAL_PATH_HEADER = 'x-envoy-original-path';

/** The metadata namespace of subset selection. */
const LB_NAMESPACE = 'envoy.lb';

/** A cluster choice, with its header changes compiled. */
export class Choice implements ClusterChoice {
  readonly name: string;
  readonly metadataMatch: Readonly<Record<string, MetadataValue>> | undefined;
  readonly headerChanges: model.HeaderChanges | undefined;
  /** The compiled form of `headerChanges`, `null` when it changes nothing. */
  readonly compiled: CompiledHeaderChanges | null;

  constructor(
    name: string,
    metadataMatch: Readonly<Record<string, MetadataValue>> | undefined,
    headerChanges: model.HeaderChanges | undefined,
    compiled: CompiledHeaderChanges | null,
  ) {
    this.name = name;
    this.metadataMatch = metadataMatch;
    this.headerChanges = headerChanges;
    this.compiled = compiled;
  }
}

/** The `envoy.lb` part of a metadata match, checked to hold only strings, numbers and booleans. */
function lbMetadata(
  metadata: model.Metadata | undefined,
  where: string,
): Record<string, MetadataValue> | undefined {
  const lb = metadata?.[LB_NAMESPACE];
  if (lb === undefined) return undefined;
  const out: Record<string, MetadataValue> = {};
  for (const [key, value] of Object.entries(lb)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw configError(
        `${where}.filter_metadata["${LB_NAMESPACE}"].${key}`,
        'subset metadata values must be strings, numbers or booleans',
      );
    out[key] = value;
  }
  return out;
}

const SINGLE = 0;
const WEIGHTED = 1;
const FROM_HEADER = 2;

/** How many clusters named by `cluster_header` keep a cached choice (header values are untrusted). */
const HEADER_CHOICE_CACHE = 64;

const NO_HEADERS: HeaderMap = Object.freeze({});

/** The parts of `createRequestHasher`'s input, filled per call into one reused object. */
class HashInput implements HashableRequest {
  headers: HeaderMap;
  sourceIp: string | undefined;
  path: string | undefined;

  constructor() {
    this.headers = NO_HEADERS;
    this.sourceIp = undefined;
    this.path = undefined;
  }
}

/** A compiled RouteAction. */
export class RouteActionImpl implements CompiledRouteAction {
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | undefined;
  readonly retryPolicy: CompiledRetryPolicy | undefined;
  readonly mirrors: readonly { readonly cluster: string; readonly fraction: number }[];
  readonly priority: 'default' | 'high';
  readonly grpcTimeoutHeaderMaxMs: number | undefined;
  readonly upgrades: ReadonlyMap<string, boolean>;
  readonly autoHostRewrite: boolean;

  private readonly kind: number;
  private readonly single: Choice | null;
  private readonly choices: readonly Choice[];
  /** Cumulative weights of `choices`: choice i takes [ends[i-1], ends[i]). */
  private readonly ends: readonly number[];
  private readonly totalWeight: number;
  private readonly clusterHeader: string;
  private readonly routeMetadata: Readonly<Record<string, MetadataValue>> | undefined;
  private readonly headerChoices: Map<string, Choice>;
  private readonly path: PathMatch;
  private readonly prefixRewrite: string | undefined;
  private readonly regexRewrite: RegexRewrite | null;
  private readonly hostLiteral: string | undefined;
  private readonly hostHeader: string | undefined;
  private readonly hasher: RequestHasher | null;
  private readonly hashInput: HashInput;

  constructor(
    action: model.RouteAction,
    path: PathMatch,
    vhostRetry: CompiledRetryPolicy | undefined,
    where: string,
  ) {
    this.path = path;
    this.routeMetadata = lbMetadata(action.metadataMatch, at(where, 'metadata_match'));
    const targets = [action.cluster, action.weightedClusters, action.clusterHeader].filter(
      (t) => t !== undefined,
    ).length;
    if (targets !== 1)
      throw configError(
        where,
        'a route action needs exactly one of cluster, weighted_clusters, cluster_header',
      );
    this.single = null;
    this.choices = [];
    this.ends = [];
    this.totalWeight = 0;
    this.clusterHeader = '';
    this.headerChoices = new Map();
    if (action.cluster !== undefined) {
      if (action.cluster === '') throw configError(at(where, 'cluster'), 'must not be empty');
      this.kind = SINGLE;
      this.single = new Choice(action.cluster, this.routeMetadata, undefined, null);
    } else if (action.weightedClusters !== undefined) {
      this.kind = WEIGHTED;
      const wp = at(where, 'weighted_clusters');
      const choices: Choice[] = [];
      const ends: number[] = [];
      let sum = 0;
      action.weightedClusters.clusters.forEach((c, i) => {
        const cp = indexed(at(wp, 'clusters'), i, c.name);
        if (c.name === '') throw configError(at(cp, 'name'), 'must not be empty');
        if (!Number.isInteger(c.weight) || c.weight < 0)
          throw configError(at(cp, 'weight'), `${c.weight} is not a non-negative integer`);
        const own = lbMetadata(c.metadataMatch, at(cp, 'metadata_match'));
        // The weighted cluster's subset keys override the route's (Envoy merges the two).
        const metadata = own === undefined ? this.routeMetadata : { ...this.routeMetadata, ...own };
        const compiled = new CompiledHeaderChanges(c, cp);
        const changes = compiled.request.empty && compiled.response.empty ? null : compiled;
        choices.push(new Choice(c.name, metadata, changes ? c : undefined, changes));
        sum += c.weight;
        ends.push(sum);
      });
      if (sum <= 0) throw configError(at(wp, 'clusters'), 'weighted clusters need a total weight above 0');
      // total_weight (deprecated in Envoy) must be the sum of the weights when given.
      if (action.weightedClusters.totalWeight !== sum)
        throw configError(
          at(wp, 'total_weight'),
          `${action.weightedClusters.totalWeight} is not the sum of the clusters' weights (${sum})`,
        );
      this.choices = choices;
      this.ends = ends;
      this.totalWeight = sum;
    } else {
      this.kind = FROM_HEADER;
      const name = (action.clusterHeader as string).toLowerCase();
      if (name === '' || name.startsWith(':'))
        throw configError(at(where, 'cluster_header'), `${JSON.stringify(name)} is not a header name`);
      this.clusterHeader = name;
    }

    // Rewrites.
    if (action.prefixRewrite !== undefined && action.regexRewrite !== undefined)
      throw configError(where, 'prefix_rewrite and regex_rewrite cannot both be set');
    this.prefixRewrite = action.prefixRewrite;
    this.regexRewrite = action.regexRewrite
      ? new RegexRewrite(action.regexRewrite, at(where, 'regex_rewrite'))
      : null;
    const hostRewrites = [
      action.hostRewriteLiteral,
      action.hostRewriteHeader,
      action.autoHostRewrite ? true : undefined,
    ].filter((h) => h !== undefined).length;
    if (hostRewrites > 1)
      throw configError(
        where,
        'only one of host_rewrite_literal, host_rewrite_header, auto_host_rewrite may be set',
      );
    if (action.hostRewriteLiteral === '')
      throw configError(at(where, 'host_rewrite_literal'), 'must not be empty');
    this.hostLiteral = action.hostRewriteLiteral;
    this.hostHeader = action.hostRewriteHeader?.toLowerCase();
    if (this.hostHeader === '') throw configError(at(where, 'host_rewrite_header'), 'must not be empty');
    this.autoHostRewrite = action.autoHostRewrite;

    // Hashing: the policies @meshlet/lb can evaluate; filter_state has no input here.
    const policies: LbHashPolicy[] = [];
    action.hashPolicy.forEach((h, i) => {
      const hp = indexed(at(where, 'hash_policy'), i);
      const terminal = h.terminal;
      if (h.header) policies.push({ header: { headerName: h.header.headerName.toLowerCase() }, terminal });
      else if (h.cookie) policies.push({ cookie: { name: h.cookie.name }, terminal });
      else if (h.queryParameter) policies.push({ queryParameter: { name: h.queryParameter.name }, terminal });
      else if (h.connectionProperties) {
        // source_ip: false hashes nothing (Envoy's policy yields no value); drop it.
        if (h.connectionProperties.sourceIp)
          policies.push({ connectionProperties: { sourceIp: true }, terminal });
      } else if (h.filterState)
        throw configError(at(hp, 'filter_state'), 'filter state hash policies are not supported');
      else
        throw configError(
          hp,
          'a hash policy needs one of header, cookie, connection_properties, query_parameter',
        );
    });
    try {
      this.hasher = policies.length > 0 ? createRequestHasher(policies) : null;
    } catch (err) {
      throw configError(at(where, 'hash_policy'), err instanceof Error ? err.message : String(err), err);
    }
    this.hashInput = new HashInput();

    // Timeouts, retries, mirrors, priority, upgrades.
    if (!(action.timeoutMs >= 0))
      throw configError(at(where, 'timeout'), `${action.timeoutMs} must not be negative`);
    this.timeoutMs = action.timeoutMs;
    if (action.idleTimeoutMs !== undefined && !(action.idleTimeoutMs >= 0))
      throw configError(at(where, 'idle_timeout'), `${action.idleTimeoutMs} must not be negative`);
    this.idleTimeoutMs = action.idleTimeoutMs === 0 ? undefined : action.idleTimeoutMs;
    if (action.grpcTimeoutHeaderMaxMs !== undefined && !(action.grpcTimeoutHeaderMaxMs >= 0))
      throw configError(at(where, 'max_stream_duration.grpc_timeout_header_max'), 'must not be negative');
    this.grpcTimeoutHeaderMaxMs = action.grpcTimeoutHeaderMaxMs;
    // The route's retry policy replaces the virtual host's entirely (no merge), as in Envoy.
    this.retryPolicy = action.retryPolicy
      ? new RetryPolicyImpl(action.retryPolicy, at(where, 'retry_policy'))
      : vhostRetry;
    this.mirrors = action.requestMirrorPolicies.map((m, i) => {
      const mp = indexed(at(where, 'request_mirror_policies'), i, m.cluster);
      if (m.cluster === '') throw configError(at(mp, 'cluster'), 'must not be empty');
      return { cluster: m.cluster, fraction: fraction(m.runtimeFraction, at(mp, 'runtime_fraction')) };
    });
    this.priority = action.priority === 'HIGH' ? 'high' : 'default';
    const upgrades = new Map<string, boolean>();
    for (const u of action.upgradeConfigs) upgrades.set(u.upgradeType.toLowerCase(), u.enabled);
    this.upgrades = upgrades;
  }

  selectCluster(input: MatchInput): ClusterChoice | null {
    switch (this.kind) {
      case SINGLE:
        return this.single;
      case WEIGHTED: {
        // Envoy: value % total_weight, then the cluster whose [begin, end) holds it.
        const value = Math.floor(input.random() * this.totalWeight);
        const ends = this.ends;
        for (let i = 0; i < ends.length; i++)
          if (value < (ends[i] as number)) return this.choices[i] as Choice;
        return this.choices[this.choices.length - 1] as Choice;
      }
      default: {
        const raw = input.request.headers[this.clusterHeader];
        const name = typeof raw === 'string' ? raw : raw?.[0];
        if (name === undefined || name === '') return null;
        let choice = this.headerChoices.get(name);
        if (choice === undefined) {
          choice = new Choice(name, this.routeMetadata, undefined, null);
          if (this.headerChoices.size < HEADER_CHOICE_CACHE) this.headerChoices.set(name, choice);
        }
        return choice;
      }
    }
  }

  rewrite(request: RequestHead): void {
    const path = rewritePath(request.path, this.path, this.prefixRewrite, this.regexRewrite);
    if (path !== null) {
      // Envoy keeps the path the client sent, for logs and for the upstream.
      request.headers[ORIGINAL_PATH_HEADER] = request.path;
      request.path = path;
    }
    if (this.hostLiteral !== undefined) request.authority = this.hostLiteral;
    else if (this.hostHeader !== undefined) {
      // Envoy takes the header's first value.
      const raw = request.headers[this.hostHeader];
      const value = typeof raw === 'string' ? raw : raw?.[0];
      if (value !== undefined && value !== '') request.authority = value;
    }
  }

  hash(request: RequestHead, connection: ConnectionInfo): bigint | null {
    if (this.hasher === null) return null;
    const input = this.hashInput;
    input.headers = request.headers;
    input.sourceIp = connection.remoteAddress;
    input.path = request.path;
    const hash = this.hasher(input);
    input.headers = NO_HEADERS;
    input.sourceIp = undefined;
    input.path = undefined;
    return hash;
  }
}

/** Applies a prefix or regex rewrite to a `:path`; `null` when there is none to apply. */
export function rewritePath(
  path: string,
  matcher: PathMatch,
  prefixRewrite: string | undefined,
  regexRewrite: RegexRewrite | null,
): string | null {
  if (prefixRewrite !== undefined) return matcher.rewritePrefix(path, prefixRewrite);
  if (regexRewrite !== null) {
    // The regex sees the path without its query; the query is kept as it was.
    const noQuery = stripQuery(path);
    return regexRewrite.replaceAll(noQuery) + path.slice(noQuery.length);
  }
  return null;
}

/** A FractionalPercent as a fraction in [0, 1]; absent is 100%. */
export function fraction(percent: model.FractionalPercent | undefined, where: string): number {
  if (percent === undefined) return 1;
  const numerator = percent.numerator;
  // A hand-written config is not checked by the type system: test the denominator anyway.
  const denominator: number = percent.denominator;
  if (denominator !== 100 && denominator !== 10_000 && denominator !== 1_000_000)
    throw configError(where, `denominator ${String(denominator)} is not HUNDRED, TEN_THOUSAND or MILLION`);
  if (!Number.isInteger(numerator) || numerator < 0)
    throw configError(where, `numerator ${numerator} is not a non-negative integer`);
  // Envoy caps a numerator above its denominator at 100%.
  return Math.min(numerator / denominator, 1);
}
