// Listener (LDS, or static) and its network filters to the model.
import { type IssueList, field, index } from '../issues.js';
import { TYPE_URLS } from '../type-urls.js';
import { typeOfUrl } from '../descriptor.js';
import { canonicalize } from '../proto/canonical.js';
import type {
  FilterChain,
  FilterChainMatch,
  HttpConnectionManager,
  HttpFilter,
  Listener,
  ListenerFilter,
  NetworkFilter,
  RpcProxy,
  RpcRoute,
  StringMatcher,
  TcpProxy,
} from '../types.js';
import {
  type JsonObject,
  address,
  bool,
  camelKeys,
  cidr,
  has,
  headerMatcher,
  list,
  metadata,
  num,
  obj,
  only,
  optNum,
  put,
  str,
  stringMatcher,
  strings,
} from './common.js';
import { accessLogs, httpTracing } from './access-log.js';
import { commonHttpProtocolOptions, http2 } from './cluster.js';
import { httpFilter } from './http-filters.js';
import { routeConfiguration } from './route.js';
import { downstreamTransportSocket } from './tls.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const LISTENER_FILTERS: Record<string, ListenerFilter['kind']> = {
  'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': 'tls_inspector',
  'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': 'http_inspector',
  'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst': 'original_dst',
};
const LISTENER_FILTER_NAMES: Record<string, ListenerFilter['kind']> = {
  'envoy.filters.listener.tls_inspector': 'tls_inspector',
  'envoy.filters.listener.http_inspector': 'http_inspector',
  'envoy.filters.listener.original_dst': 'original_dst',
};

export function listener(o: JsonObject, issues: IssueList, path = ''): Listener {
  only(
    o,
    issues,
    path,
    [
      'name',
      'address',
      'filterChains',
      'defaultFilterChain',
      'listenerFilters',
      'listenerFiltersTimeout',
      'continueOnListenerFiltersTimeout',
      'perConnectionBufferLimitBytes',
      'trafficDirection',
      'metadata',
    ],
    [
      'accessLog',
      'statPrefix',
      'drainType',
      'useOriginalDst',
      'bindToPort',
      'socketOptions',
      'enableReusePort',
      'reusePort',
      'tcpBacklogSize',
      'connectionBalanceConfig',
      'ignoreGlobalConnLimit',
      'maxConnectionsToAcceptPerSocketEvent',
      'enableMptcp',
      'freebind',
      'transparent',
      'tcpFastOpenQueueLength',
    ],
  );
  for (const f of [
    'filterChainMatcher',
    'udpListenerConfig',
    'apiListener',
    'internalListener',
    'additionalAddresses',
  ])
    if (has(o, f))
      issues.error(
        field(
          path,
          f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        ),
        'not supported by meshlet',
      );
  const addr = address(obj(o.address), issues, field(path, 'address'));
  const l: Mutable<Listener> = {
    name: str(o.name),
    address: addr ?? { socketAddress: { address: '0.0.0.0', port: 0, protocol: 'TCP' } },
    filterChains: list(o.filterChains).map((c, i) =>
      filterChain(c, issues, index(field(path, 'filter_chains'), i)),
    ),
    listenerFilters: list(o.listenerFilters).flatMap((f, i) => {
      const tc = obj(f.typedConfig);
      const url = str(tc['@type']);
      const here = index(field(path, 'listener_filters'), i);
      if (
        (url === TYPE_URLS.typedStruct || url === TYPE_URLS.udpaTypedStruct) &&
        str(tc.typeUrl).endsWith('meshlet.listener.v1.ProtocolInspector')
      )
        return [
          protocolInspector(str(f.name), obj(camelKeys(tc.value)), issues, field(here, 'typed_config.value')),
        ];
      const kind =
        LISTENER_FILTERS[url] ?? (has(f, 'typedConfig') ? undefined : LISTENER_FILTER_NAMES[str(f.name)]);
      if (kind) return [{ name: str(f.name), kind }];
      if (url.endsWith('.HttpInspector') || url.endsWith('.TlsInspector')) return [];
      issues.error(here, `listener filter "${str(f.name)}" (${url || 'no typed_config'}) is not supported`);
      return [];
    }),
    trafficDirection: str(o.trafficDirection, 'UNSPECIFIED') as Listener['trafficDirection'],
    metadata: metadata(o.metadata),
  };
  if (has(o, 'defaultFilterChain'))
    l.defaultFilterChain = filterChain(
      obj(o.defaultFilterChain),
      issues,
      field(path, 'default_filter_chain'),
    );
  put(l, 'perConnectionBufferLimitBytes', optNum(o.perConnectionBufferLimitBytes));
  // Envoy's default is 15 s (an absent field); a Duration of 0 turns the timeout off.
  put(l, 'listenerFiltersTimeoutMs', optNum(o.listenerFiltersTimeout));
  if (has(o, 'continueOnListenerFiltersTimeout'))
    l.continueOnListenerFiltersTimeout = bool(o.continueOnListenerFiltersTimeout);
  return l;
}

/** meshlet's protocol inspector: `{ protocols?: string[] }` (names of RPC protocols). */
function protocolInspector(name: string, o: JsonObject, issues: IssueList, path: string): ListenerFilter {
  only(o, issues, path, ['protocols']);
  const filter: Mutable<ListenerFilter> = { name, kind: 'protocol_inspector' };
  if (has(o, 'protocols')) filter.protocols = strings(o.protocols);
  return filter;
}

function filterChain(o: JsonObject, issues: IssueList, path: string): FilterChain {
  only(
    o,
    issues,
    path,
    ['name', 'filterChainMatch', 'filters', 'transportSocket'],
    ['metadata', 'transportSocketConnectTimeout'],
  );
  if (has(o, 'onDemandConfiguration'))
    issues.error(field(path, 'on_demand_configuration'), 'not supported by meshlet');
  const m = obj(o.filterChainMatch);
  const mp = field(path, 'filter_chain_match');
  only(m, issues, mp, [
    'destinationPort',
    'prefixRanges',
    'serverNames',
    'transportProtocol',
    'applicationProtocols',
    'sourceType',
    'sourcePrefixRanges',
    'directSourcePrefixRanges',
    'sourcePorts',
  ]);
  const match: Mutable<FilterChainMatch> = {
    prefixRanges: list(m.prefixRanges).map(cidr),
    serverNames: strings(m.serverNames).map((s) => s.toLowerCase()),
    transportProtocol: str(m.transportProtocol),
    applicationProtocols: strings(m.applicationProtocols),
    sourceType: str(m.sourceType, 'ANY') as FilterChainMatch['sourceType'],
    sourcePrefixRanges: list(m.sourcePrefixRanges).map(cidr),
    directSourcePrefixRanges: list(m.directSourcePrefixRanges).map(cidr),
    sourcePorts: (Array.isArray(m.sourcePorts) ? m.sourcePorts : []).filter(
      (x): x is number => typeof x === 'number',
    ),
  };
  put(match, 'destinationPort', optNum(m.destinationPort));
  const chain: Mutable<FilterChain> = {
    name: str(o.name),
    filterChainMatch: match,
    filters: list(o.filters).flatMap(
      (f, i) => networkFilter(f, issues, index(field(path, 'filters'), i)) ?? [],
    ),
  };
  if (has(o, 'transportSocket')) {
    const tls = downstreamTransportSocket(obj(o.transportSocket), issues, field(path, 'transport_socket'));
    if (tls) chain.tls = tls;
  }
  return chain;
}

/** Filters that only observe connections (stats, metadata exchange): skipped with a warning. */
const OBSERVE_ONLY_NETWORK = new Set([
  'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange',
  'type.googleapis.com/stats.PluginConfig',
]);

function networkFilter(o: JsonObject, issues: IssueList, path: string): NetworkFilter | undefined {
  only(o, issues, path, ['name', 'typedConfig']);
  if (has(o, 'configDiscovery'))
    issues.error(field(path, 'config_discovery'), 'filter config discovery (ECDS) is not supported');
  const name = str(o.name);
  const tc = obj(o.typedConfig);
  const url = str(tc['@type']);
  const here = field(path, 'typed_config');
  switch (url) {
    case TYPE_URLS.httpConnectionManager:
      return { name, kind: 'http_connection_manager', config: httpConnectionManager(tc, issues, here) };
    case TYPE_URLS.tcpProxy:
      return { name, kind: 'tcp_proxy', config: tcpProxy(tc, issues, here) };
    case TYPE_URLS.dubboProxy:
      return { name, kind: 'rpc_proxy', config: dubboProxy(tc, issues, here) };
    case TYPE_URLS.typedStruct:
    case TYPE_URLS.udpaTypedStruct:
      if (str(tc.typeUrl).endsWith('meshlet.rpc.v1.RpcProxy'))
        return {
          name,
          kind: 'rpc_proxy',
          config: rpcProxy(obj(tc.value), issues, field(here, 'value')),
        };
      if (str(tc.typeUrl).endsWith('stats.PluginConfig') || str(tc.typeUrl).endsWith('.Wasm')) {
        issues.warn(here, `network filter "${name}" only observes traffic; meshlet skips it`);
        return undefined;
      }
      break;
    default:
      if (OBSERVE_ONLY_NETWORK.has(url)) {
        issues.warn(here, `network filter "${name}" (${url}) only observes traffic; meshlet skips it`);
        return undefined;
      }
  }
  issues.error(here, `network filter "${name}" has a type meshlet does not support: ${url || '(none)'}`);
  return undefined;
}

function httpConnectionManager(o: JsonObject, issues: IssueList, path: string): HttpConnectionManager {
  only(
    o,
    issues,
    path,
    [
      'statPrefix',
      'codecType',
      'rds',
      'routeConfig',
      'httpFilters',
      'streamIdleTimeout',
      'requestTimeout',
      'requestHeadersTimeout',
      'drainTimeout',
      'maxRequestHeadersKb',
      'commonHttpProtocolOptions',
      'http2ProtocolOptions',
      'useRemoteAddress',
      'xffNumTrustedHops',
      'serverName',
      'normalizePath',
      'mergeSlashes',
      'generateRequestId',
      'upgradeConfigs',
      'httpProtocolOptions',
      'accessLog',
      'tracing',
    ],
    [
      'forwardClientCertDetails',
      'setCurrentClientCertDetails',
      'internalAddressConfig',
      'skipXffAppend',
      'via',
      'preserveExternalRequestId',
      'alwaysSetRequestIdInResponse',
      'delayedCloseTimeout',
      'serverHeaderTransformation',
      'schemeHeaderTransformation',
      'pathWithEscapedSlashesAction',
      'proxy100Continue',
      'streamErrorOnInvalidHttpMessage',
      'localReplyConfig',
      'requestIdExtension',
      'originalIpDetectionExtensions',
      'earlyHeaderMutationExtensions',
      'accessLogOptions',
      'requestHeadersForTags',
      'stripMatchingHostPort',
      'stripAnyHostPort',
      'appendXForwardedPort',
      'addProxyProtocolConnectionState',
      'representIpv4RemoteAddressAsIpv4MappedIpv6',
      'userAgent',
      'maxRequestHeadersCount',
    ],
  );
  if (has(o, 'scopedRoutes'))
    issues.error(field(path, 'scoped_routes'), 'scoped routes (SRDS) are not supported');
  if (has(o, 'http3ProtocolOptions'))
    issues.error(field(path, 'http3_protocol_options'), 'HTTP/3 is not supported');
  const codec = str(o.codecType, 'AUTO');
  if (codec !== 'AUTO' && codec !== 'HTTP1' && codec !== 'HTTP2')
    issues.error(field(path, 'codec_type'), `codec ${codec} is not supported`);
  const filters: HttpFilter[] = [];
  list(o.httpFilters).forEach((f, i) => {
    const hf = httpFilter(f, issues, index(field(path, 'http_filters'), i));
    if (hf) filters.push(hf);
  });
  const last = filters[filters.length - 1];
  if (filters.length && last?.config.type !== 'router')
    issues.error(field(path, 'http_filters'), 'the last HTTP filter must be the router');
  const h: Mutable<HttpConnectionManager> = {
    statPrefix: str(o.statPrefix),
    codecType: codec === 'HTTP1' || codec === 'HTTP2' ? codec : 'AUTO',
    httpFilters: filters,
    commonHttpProtocolOptions: commonHttpProtocolOptions(
      obj(o.commonHttpProtocolOptions),
      issues,
      field(path, 'common_http_protocol_options'),
    ),
    useRemoteAddress: bool(o.useRemoteAddress),
    xffNumTrustedHops: num(o.xffNumTrustedHops, 0),
    serverName: str(o.serverName, 'envoy'),
    normalizePath: bool(o.normalizePath),
    mergeSlashes: bool(o.mergeSlashes),
    generateRequestId: bool(o.generateRequestId, true),
    upgradeConfigs: list(o.upgradeConfigs).map((u) => ({
      upgradeType: str(u.upgradeType).toLowerCase(),
      enabled: bool(u.enabled, true),
    })),
  };
  if (has(o, 'rds')) {
    const r = obj(o.rds);
    only(r, issues, field(path, 'rds'), ['routeConfigName', 'configSource']);
    h.rds = { routeConfigName: str(r.routeConfigName) };
  } else if (has(o, 'routeConfig'))
    h.routeConfig = routeConfiguration(obj(o.routeConfig), issues, field(path, 'route_config'));
  else if (!has(o, 'scopedRoutes')) issues.error(path, 'a connection manager needs rds or route_config');
  put(h, 'streamIdleTimeoutMs', optNum(o.streamIdleTimeout));
  put(h, 'requestTimeoutMs', optNum(o.requestTimeout));
  put(h, 'requestHeadersTimeoutMs', optNum(o.requestHeadersTimeout));
  put(h, 'drainTimeoutMs', optNum(o.drainTimeout));
  put(h, 'maxRequestHeadersKb', optNum(o.maxRequestHeadersKb));
  put(h, 'accessLog', accessLogs(o.accessLog, issues, field(path, 'access_log')));
  if (has(o, 'tracing')) h.tracing = httpTracing(obj(o.tracing), issues, field(path, 'tracing'));
  if (has(o, 'http2ProtocolOptions'))
    h.http2ProtocolOptions = http2(
      obj(o.http2ProtocolOptions),
      issues,
      field(path, 'http2_protocol_options'),
    );
  return h;
}

function tcpProxy(o: JsonObject, issues: IssueList, path: string): TcpProxy {
  only(
    o,
    issues,
    path,
    ['statPrefix', 'cluster', 'weightedClusters', 'idleTimeout', 'maxConnectAttempts', 'accessLog'],
    ['accessLogOptions', 'hashPolicy', 'metadataMatch', 'upstreamConnectTimeout'],
  );
  if (has(o, 'tunnelingConfig'))
    issues.error(field(path, 'tunneling_config'), 'tunneling over HTTP is not supported');
  if (has(o, 'onDemand')) issues.error(field(path, 'on_demand'), 'on-demand clusters are not supported');
  const t: Mutable<TcpProxy> = {
    statPrefix: str(o.statPrefix),
    maxConnectAttempts: num(o.maxConnectAttempts, 1),
  };
  if (has(o, 'cluster')) t.cluster = str(o.cluster);
  else if (has(o, 'weightedClusters'))
    t.weightedClusters = list(obj(o.weightedClusters).clusters).map((c) => ({
      name: str(c.name),
      weight: num(c.weight, 0),
    }));
  else issues.error(path, 'a TCP proxy needs cluster or weighted_clusters');
  // Envoy's default idle timeout for TCP proxy is 1 hour; an explicit 0 disables it.
  t.idleTimeoutMs = num(o.idleTimeout, 3_600_000);
  put(t, 'accessLog', accessLogs(o.accessLog, issues, field(path, 'access_log')));
  return t;
}

function dubboProxy(o: JsonObject, issues: IssueList, path: string): RpcProxy {
  only(o, issues, path, ['statPrefix', 'protocolType', 'serializationType', 'routeConfig'], []);
  if (
    has(o, 'dubboFilters') &&
    list(o.dubboFilters).some((f) => str(f.name) !== 'envoy.filters.dubbo.router')
  )
    issues.error(
      field(path, 'dubbo_filters'),
      'Dubbo filters other than the router are not supported (use meshlet filters)',
    );
  if (has(o, 'drds') || has(o, 'multipleRouteConfig'))
    issues.error(path, 'Dubbo RDS and multiple route configs are not supported');
  if (has(o, 'serializationType') && o.serializationType !== 'Hessian2')
    issues.error(field(path, 'serialization_type'), 'only Hessian2 is supported');
  const routes: RpcRoute[] = [];
  list(o.routeConfig).forEach((rc, i) => {
    const here = index(field(path, 'route_config'), i);
    const service: StringMatcher | undefined = has(rc, 'interface')
      ? { exact: str(rc.interface), ignoreCase: false }
      : undefined;
    list(rc.routes).forEach((r, j) => {
      const at = index(field(here, 'routes'), j);
      const m = obj(r.match);
      const method = obj(m.method);
      const route: { -readonly [K in keyof RpcRoute]: RpcRoute[K] } = {
        match: {
          headers: list(m.headers).flatMap(
            (h, k) => headerMatcher(h, issues, index(field(field(at, 'match'), 'headers'), k)) ?? [],
          ),
        },
      };
      const mm = route.match as { service?: StringMatcher; method?: StringMatcher };
      if (service) mm.service = service;
      if (has(method, 'name')) {
        const s = stringMatcher(obj(method.name), issues, field(field(field(at, 'match'), 'method'), 'name'));
        if (s) mm.method = s;
      }
      if (has(method, 'paramsMatch'))
        issues.error(
          field(field(field(at, 'match'), 'method'), 'params_match'),
          'parameter matching is not supported',
        );
      const a = obj(r.route);
      if (has(a, 'metadataMatch')) route.metadataMatch = metadata(a.metadataMatch);
      if (has(a, 'cluster')) route.cluster = str(a.cluster);
      else
        route.weightedClusters = list(obj(a.weightedClusters).clusters).map((c) => ({
          name: str(c.name),
          weight: num(c.weight, 0),
        }));
      routes.push(route);
    });
  });
  return { statPrefix: str(o.statPrefix), protocol: 'dubbo', routes };
}

/** The type of one entry of a TypedStruct-carried `http_filters` list. */
const HTTP_FILTER_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter';

/** A non-negative integer field of a Struct, or undefined (with an error when present and bad). */
function count(o: JsonObject, key: string, issues: IssueList, path: string): number | undefined {
  if (!has(o, key)) return undefined;
  const v = o[key];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  issues.error(path, 'must be a non-negative integer');
  return undefined;
}

/**
 * meshlet's own RPC proxy config, carried in a TypedStruct (`meshlet.rpc.v1.RpcProxy`). Keys in
 * snake_case or camelCase; `http_filters` entries are Envoy HTTP filters (typed configs as in a
 * connection manager, the router left out: it is implicit).
 */
function rpcProxy(raw: JsonObject, issues: IssueList, path: string): RpcProxy {
  const { httpFilters, http_filters: snakeFilters, ...rest } = raw;
  const rawFilters = httpFilters ?? snakeFilters;
  const o = obj(camelKeys(rest));
  const protocol = str(o.protocol);
  if (!protocol) issues.error(field(path, 'protocol'), 'an RPC proxy needs a protocol name');
  const routes = list(o.routes).map((r, i): RpcRoute => {
    const at = index(field(path, 'routes'), i);
    const m = obj(r.match);
    const match: {
      service?: StringMatcher;
      method?: StringMatcher;
      headers: ReturnType<typeof headerMatcher>[];
    } = {
      headers: list(m.headers).map((h, k) =>
        headerMatcher(h, issues, index(field(field(at, 'match'), 'headers'), k)),
      ),
    };
    if (has(m, 'service'))
      put(match, 'service', stringMatcher(obj(m.service), issues, field(field(at, 'match'), 'service')));
    if (has(m, 'method'))
      put(match, 'method', stringMatcher(obj(m.method), issues, field(field(at, 'match'), 'method')));
    const route: { -readonly [K in keyof RpcRoute]: RpcRoute[K] } = {
      match: { ...match, headers: match.headers.filter((h) => h !== undefined) },
    };
    if (has(r, 'cluster')) route.cluster = str(r.cluster);
    else if (has(r, 'weightedClusters'))
      route.weightedClusters = list(r.weightedClusters).map((c) => ({
        name: str(c.name),
        weight: num(c.weight, 0),
      }));
    else issues.error(at, 'an RPC route needs cluster or weighted_clusters');
    if (has(r, 'metadataMatch')) route.metadataMatch = metadata(r.metadataMatch);
    put(route, 'timeoutMs', count(r, 'timeoutMs', issues, field(at, 'timeout_ms')));
    if (has(r, 'idempotent')) route.idempotent = bool(r.idempotent);
    put(route, 'numRetries', count(r, 'numRetries', issues, field(at, 'num_retries')));
    return route;
  });
  const out: { -readonly [K in keyof RpcProxy]: RpcProxy[K] } = {
    statPrefix: str(o.statPrefix),
    protocol,
    routes,
  };
  if (rawFilters !== undefined && rawFilters !== null) {
    const type = typeOfUrl(`type.googleapis.com/${HTTP_FILTER_TYPE}`);
    const filters: HttpFilter[] = [];
    const items: unknown[] = Array.isArray(rawFilters) ? rawFilters : [];
    if (!Array.isArray(rawFilters)) issues.error(field(path, 'http_filters'), 'must be a list');
    items.forEach((f, i) => {
      const fp = index(field(path, 'http_filters'), i);
      const json = type === undefined ? undefined : canonicalize(type, f, issues, fp);
      if (json === undefined) return;
      const hf = httpFilter(json, issues, fp);
      if (hf === undefined) return;
      if (hf.config.type === 'router') {
        issues.error(fp, 'the router is implicit in an RPC proxy; leave it out of http_filters');
        return;
      }
      filters.push(hf);
    });
    out.httpFilters = filters;
  }
  put(out, 'requestTimeoutMs', count(o, 'requestTimeoutMs', issues, field(path, 'request_timeout_ms')));
  const maxFrameSize = count(o, 'maxFrameSize', issues, field(path, 'max_frame_size'));
  if (maxFrameSize === 0) issues.error(field(path, 'max_frame_size'), 'must be positive');
  else put(out, 'maxFrameSize', maxFrameSize);
  put(out, 'frameTimeoutMs', count(o, 'frameTimeoutMs', issues, field(path, 'frame_timeout_ms')));
  put(out, 'accessLog', accessLogs(o.accessLog, issues, field(path, 'access_log')));
  return out;
}
