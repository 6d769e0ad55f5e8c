// RouteConfiguration (RDS, or inline in a connection manager) to the model.
import { type IssueList, field, index } from '../issues.js';
import type {
  HashPolicy,
  HeaderMatcher,
  QueryParameterMatcher,
  RedirectAction,
  RequestMirrorPolicy,
  RetryPolicy,
  Route,
  RouteAction,
  RouteConfiguration,
  RouteMatch,
  VirtualHost,
  WeightedCluster,
} from '../types.js';
import {
  HEADER_CHANGE_FIELDS,
  type JsonObject,
  bool,
  dataSource,
  has,
  headerChanges,
  headerMatcher,
  list,
  metadata,
  num,
  obj,
  only,
  optNum,
  put,
  queryParameterMatcher,
  regex,
  regexMatcher,
  runtimeFraction,
  str,
  strings,
} from './common.js';
import { corsPolicy, perFilterConfig } from './http-filters.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Fields that describe or observe and change no routing decision. */
const ROUTE_CONFIG_IGNORED = [
  'validateClusters',
  'maxDirectResponseBodySizeBytes',
  'ignorePortInHostMatching',
  'internalOnlyHeaders',
  'mostSpecificHeaderMutationsWins',
];

export function routeConfiguration(o: JsonObject, issues: IssueList, path = ''): RouteConfiguration {
  only(
    o,
    issues,
    path,
    ['name', 'virtualHosts', 'typedPerFilterConfig', ...HEADER_CHANGE_FIELDS],
    ROUTE_CONFIG_IGNORED,
  );
  if (has(o, 'vhds')) issues.error(field(path, 'vhds'), 'VHDS is not supported');
  const vhPath = field(path, 'virtual_hosts');
  return {
    name: str(o.name),
    virtualHosts: list(o.virtualHosts).map((v, i) => virtualHost(v, issues, index(vhPath, i))),
    typedPerFilterConfig: perFilterConfig(
      o.typedPerFilterConfig,
      issues,
      field(path, 'typed_per_filter_config'),
    ),
    ...headerChanges(o, issues, path),
  };
}

function virtualHost(o: JsonObject, issues: IssueList, path: string): VirtualHost {
  only(
    o,
    issues,
    path,
    [
      'name',
      'domains',
      'routes',
      'requireTls',
      'retryPolicy',
      'cors',
      'typedPerFilterConfig',
      ...HEADER_CHANGE_FIELDS,
    ],
    [
      'includeRequestAttemptCount',
      'includeAttemptCountInResponse',
      'metadata',
      'virtualClusters',
      'requestMirrorPolicies',
    ],
  );
  if (has(o, 'matcher'))
    issues.error(field(path, 'matcher'), 'the generic matcher tree is not supported; use routes');
  if (has(o, 'rateLimits'))
    issues.error(field(path, 'rate_limits'), 'global rate limit actions are not supported here');
  const vh: Mutable<VirtualHost> = {
    name: str(o.name),
    domains: strings(o.domains).map((d) => d.toLowerCase()),
    routes: list(o.routes).map((r, i) => route(r, issues, index(field(path, 'routes'), i))),
    requireTls: str(o.requireTls, 'NONE') as VirtualHost['requireTls'],
    typedPerFilterConfig: perFilterConfig(
      o.typedPerFilterConfig,
      issues,
      field(path, 'typed_per_filter_config'),
    ),
    ...headerChanges(o, issues, path),
  };
  if (has(o, 'retryPolicy'))
    vh.retryPolicy = retryPolicy(obj(o.retryPolicy), issues, field(path, 'retry_policy'));
  if (has(o, 'cors')) vh.cors = corsPolicy(obj(o.cors), issues, field(path, 'cors'));
  return vh;
}

function route(o: JsonObject, issues: IssueList, path: string): Route {
  only(
    o,
    issues,
    path,
    [
      'name',
      'match',
      'route',
      'redirect',
      'directResponse',
      'metadata',
      'typedPerFilterConfig',
      ...HEADER_CHANGE_FIELDS,
    ],
    ['decorator', 'tracing', 'statPrefix', 'perRequestBufferLimitBytes'],
  );
  if (has(o, 'filterAction') || has(o, 'nonForwardingAction'))
    issues.error(path, 'filter_action and non_forwarding_action are not supported');
  const r: Mutable<Route> = {
    name: str(o.name),
    match: routeMatch(obj(o.match), issues, field(path, 'match')),
    metadata: metadata(o.metadata),
    typedPerFilterConfig: perFilterConfig(
      o.typedPerFilterConfig,
      issues,
      field(path, 'typed_per_filter_config'),
    ),
    ...headerChanges(o, issues, path),
  };
  if (has(o, 'route')) r.route = routeAction(obj(o.route), issues, field(path, 'route'));
  else if (has(o, 'redirect')) r.redirect = redirect(obj(o.redirect), issues, field(path, 'redirect'));
  else if (has(o, 'directResponse')) {
    const d = obj(o.directResponse);
    const dr: { status: number; body?: ReturnType<typeof dataSource> & object } = {
      status: num(d.status, 200),
    };
    if (has(d, 'body')) {
      const body = dataSource(obj(d.body), issues, field(field(path, 'direct_response'), 'body'));
      if (body) dr.body = body;
    }
    r.directResponse = dr;
  } else issues.error(path, 'a route needs one of route, redirect, direct_response');
  return r;
}

function routeMatch(o: JsonObject, issues: IssueList, path: string): RouteMatch {
  only(o, issues, path, [
    'prefix',
    'path',
    'safeRegex',
    'pathSeparatedPrefix',
    'caseSensitive',
    'headers',
    'queryParameters',
    'grpc',
    'runtimeFraction',
  ]);
  if (has(o, 'connectMatcher'))
    issues.error(field(path, 'connect_matcher'), 'CONNECT matching is not supported');
  if (has(o, 'pathMatchPolicy'))
    issues.error(field(path, 'path_match_policy'), 'URI template path matching is not supported');
  if (has(o, 'dynamicMetadata') || has(o, 'filterState'))
    issues.error(path, 'dynamic_metadata and filter_state matchers are not supported');
  if (has(o, 'tlsContext')) issues.error(field(path, 'tls_context'), 'TLS context matching is not supported');
  const headers: HeaderMatcher[] = [];
  list(o.headers).forEach((h, i) => {
    const m = headerMatcher(h, issues, index(field(path, 'headers'), i));
    if (m) headers.push(m);
  });
  const queryParameters: QueryParameterMatcher[] = [];
  list(o.queryParameters).forEach((q, i) => {
    const m = queryParameterMatcher(q, issues, index(field(path, 'query_parameters'), i));
    if (m) queryParameters.push(m);
  });
  const m: Mutable<RouteMatch> = {
    caseSensitive: bool(o.caseSensitive, true),
    headers,
    queryParameters,
    grpc: has(o, 'grpc'),
  };
  if (has(o, 'prefix')) m.prefix = str(o.prefix);
  else if (has(o, 'path')) m.path = str(o.path);
  else if (has(o, 'safeRegex'))
    put(m, 'safeRegex', regexMatcher(obj(o.safeRegex), issues, field(path, 'safe_regex')));
  else if (has(o, 'pathSeparatedPrefix')) m.pathSeparatedPrefix = str(o.pathSeparatedPrefix);
  else issues.error(path, 'a route match needs one of prefix, path, safe_regex, path_separated_prefix');
  if (has(o, 'runtimeFraction')) m.runtimeFraction = runtimeFraction(o.runtimeFraction);
  return m;
}

function routeAction(o: JsonObject, issues: IssueList, path: string): RouteAction {
  only(
    o,
    issues,
    path,
    [
      'cluster',
      'weightedClusters',
      'clusterHeader',
      'metadataMatch',
      'prefixRewrite',
      'regexRewrite',
      'hostRewriteLiteral',
      'autoHostRewrite',
      'hostRewriteHeader',
      'timeout',
      'idleTimeout',
      'retryPolicy',
      'hashPolicy',
      'requestMirrorPolicies',
      'priority',
      'maxStreamDuration',
      'upgradeConfigs',
      'clusterNotFoundResponseCode',
      'maxGrpcTimeout',
    ],
    [
      'includeVhRateLimits',
      'internalRedirectPolicy',
      'appendXForwardedHost',
      'hedgePolicy',
      'maxInternalRedirects',
      'grpcTimeoutOffset',
    ],
  );
  for (const unsupported of [
    'clusterSpecifierPlugin',
    'inlineClusterSpecifierPlugin',
    'hostRewritePathRegex',
    'pathRewritePolicy',
    'rateLimits',
    'earlyDataPolicy',
  ])
    if (has(o, unsupported))
      issues.error(
        field(
          path,
          unsupported.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        ),
        'not supported by meshlet',
      );
  const a: Mutable<RouteAction> = {
    autoHostRewrite: bool(o.autoHostRewrite),
    timeoutMs: num(o.timeout, 15_000),
    hashPolicy: list(o.hashPolicy).flatMap(
      (h, i) => hashPolicy(h, issues, index(field(path, 'hash_policy'), i)) ?? [],
    ),
    requestMirrorPolicies: list(o.requestMirrorPolicies).map((m, i): RequestMirrorPolicy => {
      const here = index(field(path, 'request_mirror_policies'), i);
      only(
        m,
        issues,
        here,
        ['cluster', 'runtimeFraction', 'traceSampled'],
        ['disableShadowHostSuffixAppend'],
      );
      if (has(m, 'clusterHeader'))
        issues.error(
          field(here, 'cluster_header'),
          'mirroring to a cluster named by a header is not supported',
        );
      const p: Mutable<RequestMirrorPolicy> = { cluster: str(m.cluster) };
      if (has(m, 'runtimeFraction')) p.runtimeFraction = runtimeFraction(m.runtimeFraction);
      if (typeof m.traceSampled === 'boolean') p.traceSampled = m.traceSampled;
      return p;
    }),
    priority: o.priority === 'HIGH' ? 'HIGH' : 'DEFAULT',
    upgradeConfigs: list(o.upgradeConfigs).map((u) => ({
      upgradeType: str(u.upgradeType).toLowerCase(),
      enabled: bool(u.enabled, true),
    })),
  };
  if (has(o, 'cluster')) a.cluster = str(o.cluster);
  else if (has(o, 'weightedClusters')) {
    const w = obj(o.weightedClusters);
    const here = field(path, 'weighted_clusters');
    only(w, issues, here, ['clusters', 'totalWeight'], ['runtimeKeyPrefix']);
    if (has(w, 'headerName'))
      issues.error(field(here, 'header_name'), 'choosing by a header value is not supported');
    const clusters = list(w.clusters).map((c, i): WeightedCluster => {
      const at = index(field(here, 'clusters'), i);
      only(
        c,
        issues,
        at,
        ['name', 'weight', 'metadataMatch', 'typedPerFilterConfig', ...HEADER_CHANGE_FIELDS],
        ['hostRewriteLiteral'],
      );
      const wc: Mutable<WeightedCluster> = {
        name: str(c.name),
        weight: num(c.weight, 0),
        typedPerFilterConfig: perFilterConfig(
          c.typedPerFilterConfig,
          issues,
          field(at, 'typed_per_filter_config'),
        ),
        ...headerChanges(c, issues, at),
      };
      if (has(c, 'metadataMatch')) wc.metadataMatch = metadata(c.metadataMatch);
      if (has(c, 'clusterHeader')) issues.error(field(at, 'cluster_header'), 'not supported by meshlet');
      return wc;
    });
    a.weightedClusters = {
      clusters,
      totalWeight: optNum(w.totalWeight) ?? clusters.reduce((s, c) => s + c.weight, 0),
    };
  } else if (has(o, 'clusterHeader')) a.clusterHeader = str(o.clusterHeader).toLowerCase();
  else issues.error(path, 'a route action needs one of cluster, weighted_clusters, cluster_header');
  if (has(o, 'clusterNotFoundResponseCode') && o.clusterNotFoundResponseCode !== 'SERVICE_UNAVAILABLE')
    issues.error(field(path, 'cluster_not_found_response_code'), 'only SERVICE_UNAVAILABLE is supported');
  if (has(o, 'metadataMatch')) a.metadataMatch = metadata(o.metadataMatch);
  if (has(o, 'prefixRewrite')) a.prefixRewrite = str(o.prefixRewrite);
  if (has(o, 'regexRewrite')) {
    const rr = obj(o.regexRewrite);
    const p = regexMatcher(obj(rr.pattern), issues, field(field(path, 'regex_rewrite'), 'pattern'));
    if (p !== undefined) a.regexRewrite = { pattern: p, substitution: str(rr.substitution) };
  }
  if (has(o, 'hostRewriteLiteral')) a.hostRewriteLiteral = str(o.hostRewriteLiteral);
  if (has(o, 'hostRewriteHeader')) a.hostRewriteHeader = str(o.hostRewriteHeader).toLowerCase();
  put(a, 'idleTimeoutMs', optNum(o.idleTimeout));
  if (has(o, 'retryPolicy'))
    a.retryPolicy = retryPolicy(obj(o.retryPolicy), issues, field(path, 'retry_policy'));
  if (has(o, 'maxStreamDuration')) {
    const msd = obj(o.maxStreamDuration);
    put(a, 'maxStreamDurationMs', optNum(msd.maxStreamDuration));
    put(a, 'grpcTimeoutHeaderMaxMs', optNum(msd.grpcTimeoutHeaderMax));
  }
  put(a, 'grpcTimeoutHeaderMaxMs', optNum(o.maxGrpcTimeout) ?? a.grpcTimeoutHeaderMaxMs);
  return a;
}

function hashPolicy(o: JsonObject, issues: IssueList, path: string): HashPolicy | undefined {
  const h: Mutable<HashPolicy> = { terminal: bool(o.terminal) };
  if (has(o, 'header')) {
    const x = obj(o.header);
    if (has(x, 'regexRewrite'))
      issues.error(field(field(path, 'header'), 'regex_rewrite'), 'not supported by meshlet');
    h.header = { headerName: str(x.headerName).toLowerCase() };
  } else if (has(o, 'cookie')) {
    const c = obj(o.cookie);
    const cookie: { name: string; ttlMs?: number; path: string } = { name: str(c.name), path: str(c.path) };
    put(cookie, 'ttlMs', optNum(c.ttl));
    h.cookie = cookie;
  } else if (has(o, 'connectionProperties'))
    h.connectionProperties = { sourceIp: bool(obj(o.connectionProperties).sourceIp) };
  else if (has(o, 'queryParameter')) h.queryParameter = { name: str(obj(o.queryParameter).name) };
  else if (has(o, 'filterState')) h.filterState = { key: str(obj(o.filterState).key) };
  else {
    issues.error(
      path,
      'a hash policy needs one of header, cookie, connection_properties, query_parameter, filter_state',
    );
    return undefined;
  }
  return h;
}

export function retryPolicy(o: JsonObject, issues: IssueList, path: string): RetryPolicy {
  only(
    o,
    issues,
    path,
    [
      'retryOn',
      'numRetries',
      'perTryTimeout',
      'perTryIdleTimeout',
      'retriableStatusCodes',
      'retriableHeaders',
      'retryBackOff',
      'hostSelectionRetryMaxAttempts',
      'retryHostPredicate',
    ],
    ['retriableRequestHeaders'],
  );
  if (has(o, 'retryPriority'))
    issues.error(field(path, 'retry_priority'), 'retry priority plugins are not supported');
  if (has(o, 'rateLimitedRetryBackOff'))
    issues.error(field(path, 'rate_limited_retry_back_off'), 'not supported by meshlet');
  const p: Mutable<RetryPolicy> = {
    retryOn: str(o.retryOn)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    numRetries: num(o.numRetries, 1),
    retriableStatusCodes: (Array.isArray(o.retriableStatusCodes) ? o.retriableStatusCodes : []).filter(
      (x): x is number => typeof x === 'number',
    ),
    retriableHeaders: list(o.retriableHeaders).flatMap(
      (h, i) => headerMatcher(h, issues, index(field(path, 'retriable_headers'), i)) ?? [],
    ),
    hostSelectionRetryMaxAttempts: num(o.hostSelectionRetryMaxAttempts, 1),
    retryHostPredicates: list(o.retryHostPredicate).map((x) => str(x.name)),
  };
  put(p, 'perTryTimeoutMs', optNum(o.perTryTimeout));
  put(p, 'perTryIdleTimeoutMs', optNum(o.perTryIdleTimeout));
  if (has(o, 'retryBackOff')) {
    const b = obj(o.retryBackOff);
    const backOff: { baseIntervalMs: number; maxIntervalMs?: number } = {
      baseIntervalMs: num(b.baseInterval, 25),
    };
    put(backOff, 'maxIntervalMs', optNum(b.maxInterval));
    p.retryBackOff = backOff;
  }
  return p;
}

function redirect(o: JsonObject, issues: IssueList, path: string): RedirectAction {
  only(o, issues, path, [
    'httpsRedirect',
    'schemeRedirect',
    'hostRedirect',
    'portRedirect',
    'pathRedirect',
    'prefixRewrite',
    'regexRewrite',
    'responseCode',
    'stripQuery',
  ]);
  const codes: Record<string, RedirectAction['responseCode']> = {
    MOVED_PERMANENTLY: 301,
    FOUND: 302,
    SEE_OTHER: 303,
    TEMPORARY_REDIRECT: 307,
    PERMANENT_REDIRECT: 308,
  };
  const r: Mutable<RedirectAction> = {
    httpsRedirect: bool(o.httpsRedirect),
    responseCode: codes[str(o.responseCode, 'MOVED_PERMANENTLY')] ?? 301,
    stripQuery: bool(o.stripQuery),
  };
  if (has(o, 'schemeRedirect')) r.schemeRedirect = str(o.schemeRedirect);
  if (has(o, 'hostRedirect')) r.hostRedirect = str(o.hostRedirect);
  put(r, 'portRedirect', optNum(o.portRedirect));
  if (has(o, 'pathRedirect')) r.pathRedirect = str(o.pathRedirect);
  if (has(o, 'prefixRewrite')) r.prefixRewrite = str(o.prefixRewrite);
  if (has(o, 'regexRewrite')) {
    const rr = obj(o.regexRewrite);
    const p = regex(str(obj(rr.pattern).regex), issues, field(field(path, 'regex_rewrite'), 'pattern'));
    if (p !== undefined) r.regexRewrite = { pattern: p, substitution: str(rr.substitution) };
  }
  return r;
}
