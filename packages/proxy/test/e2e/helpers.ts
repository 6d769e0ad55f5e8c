// Builders of @meshlet/xds model objects with every field filled with Envoy's defaults, so a
// test states only what it is about; and small loopback helpers shared by the proxy's tests.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fromEnvoy, TYPE_URLS } from '@meshlet/xds';
import type * as model from '@meshlet/xds';

type Partially<T> = { -readonly [K in keyof T]?: T[K] };

/** A route action forwarding to `cluster`. */
export function routeAction(cluster: string, more: Partially<model.RouteAction> = {}): model.RouteAction {
  return action({ cluster, ...more });
}

/** A route action with Envoy's defaults and what `more` sets (no cluster unless given). */
export function action(more: Partially<model.RouteAction> = {}): model.RouteAction {
  return {
    autoHostRewrite: false,
    timeoutMs: 15_000,
    hashPolicy: [],
    requestMirrorPolicies: [],
    priority: 'DEFAULT',
    upgradeConfigs: [],
    ...more,
  };
}

/** A route match on a path prefix. */
export function match(prefix = '/', more: Partially<model.RouteMatch> = {}): model.RouteMatch {
  return {
    prefix,
    caseSensitive: true,
    headers: [],
    queryParameters: [],
    grpc: false,
    ...more,
  };
}

const noHeaderChanges: model.HeaderChanges = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};

/** A route: `match` (a prefix or a RouteMatch) and an action. */
export function route(name: string, more: Partially<model.Route> = {}): model.Route {
  return {
    name,
    match: match('/'),
    metadata: {},
    typedPerFilterConfig: {},
    ...noHeaderChanges,
    ...more,
  };
}

/** A virtual host. */
export function virtualHost(
  name: string,
  domains: string[],
  routes: model.Route[],
  more: Partially<model.VirtualHost> = {},
): model.VirtualHost {
  return {
    name,
    domains,
    routes,
    requireTls: 'NONE',
    typedPerFilterConfig: {},
    ...noHeaderChanges,
    ...more,
  };
}

/** A route configuration. */
export function routeConfig(
  name: string,
  virtualHosts: model.VirtualHost[],
  more: Partially<model.RouteConfiguration> = {},
): model.RouteConfiguration {
  return {
    name,
    virtualHosts,
    typedPerFilterConfig: {},
    ...noHeaderChanges,
    ...more,
  };
}

/** The router filter entry of a chain. */
export function routerFilter(): model.HttpFilter {
  return {
    name: 'envoy.filters.http.router',
    isOptional: false,
    disabled: false,
    config: { type: 'router', suppressEnvoyHeaders: false },
  };
}

/** A user filter entry (a TypedStruct naming `filterName`). */
export function customFilter(
  instanceName: string,
  filterName: string,
  value: Record<string, unknown> = {},
  more: Partially<model.HttpFilter> = {},
): model.HttpFilter {
  return {
    name: instanceName,
    isOptional: false,
    disabled: false,
    config: { type: 'custom', typeUrl: `type.googleapis.com/${filterName}`, value },
    ...more,
  };
}

/** An HTTP connection manager with Envoy's defaults; the router is appended to `httpFilters`. */
export function hcm(more: Partially<model.HttpConnectionManager> = {}): model.HttpConnectionManager {
  const { httpFilters = [], ...rest } = more;
  return {
    statPrefix: 'ingress_http',
    codecType: 'AUTO',
    httpFilters: [...httpFilters, routerFilter()],
    commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
    useRemoteAddress: false,
    xffNumTrustedHops: 0,
    serverName: 'envoy',
    normalizePath: false,
    mergeSlashes: false,
    generateRequestId: true,
    upgradeConfigs: [],
    ...rest,
  };
}

/** A filter chain match with nothing set (matches every connection). */
export function chainMatch(more: Partially<model.FilterChainMatch> = {}): model.FilterChainMatch {
  return {
    prefixRanges: [],
    serverNames: [],
    transportProtocol: '',
    applicationProtocols: [],
    sourceType: 'ANY',
    sourcePrefixRanges: [],
    directSourcePrefixRanges: [],
    sourcePorts: [],
    ...more,
  };
}

/** A filter chain holding one connection manager. */
export function filterChain(
  manager: model.HttpConnectionManager,
  more: Partially<model.FilterChain> = {},
): model.FilterChain {
  return {
    name: 'default',
    filterChainMatch: chainMatch(),
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        kind: 'http_connection_manager',
        config: manager,
      },
    ],
    ...more,
  };
}

/** A listener on 127.0.0.1 (port 0 unless given). */
export function listener(
  name: string,
  chains: model.FilterChain[],
  port = 0,
  more: Partially<model.Listener> = {},
): model.Listener {
  return {
    name,
    address: { socketAddress: { address: '127.0.0.1', port, protocol: 'TCP' } },
    filterChains: chains,
    listenerFilters: [],
    trafficDirection: 'UNSPECIFIED',
    metadata: {},
    ...more,
  };
}

/** An endpoint on 127.0.0.1:`port`. */
export function endpoint(port: number, more: Partially<model.LbEndpoint> = {}): model.LbEndpoint {
  return {
    address: { socketAddress: { address: '127.0.0.1', port, protocol: 'TCP' } },
    hostname: '',
    healthStatus: 'UNKNOWN',
    loadBalancingWeight: 1,
    metadata: {},
    ...more,
  };
}

/** A load assignment of endpoints in one locality. */
export function loadAssignment(
  clusterName: string,
  endpoints: model.LbEndpoint[],
): model.ClusterLoadAssignment {
  return {
    clusterName,
    endpoints: [{ locality: { region: '', zone: '', subZone: '' }, priority: 0, lbEndpoints: endpoints }],
    policy: { overprovisioningFactor: 140, dropOverloads: [] },
  };
}

/** Envoy's default thresholds. */
export function thresholds(more: Partially<model.Thresholds> = {}): model.Thresholds {
  return {
    priority: 'DEFAULT',
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    trackRemaining: false,
    ...more,
  };
}

/** A STATIC cluster of loopback ports. */
export function cluster(name: string, ports: number[], more: Partially<model.Cluster> = {}): model.Cluster {
  return {
    name,
    type: 'STATIC',
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 1000,
    circuitBreakers: { thresholds: [thresholds()] },
    healthChecks: [],
    loadAssignment: loadAssignment(
      name,
      ports.map((p) => endpoint(p)),
    ),
    upstreamHttpProtocolOptions: {
      protocol: 'http1',
      commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
      autoSni: false,
    },
    healthyPanicThreshold: 50,
    localityWeightedLb: false,
    dnsRefreshRateMs: 5000,
    dnsLookupFamily: 'AUTO',
    respectDnsTtl: false,
    metadata: {},
    ...more,
  };
}

/** A snapshot of the given resources. */
export function snapshot(parts: {
  listeners?: model.Listener[];
  routeConfigurations?: model.RouteConfiguration[];
  clusters?: model.Cluster[];
  endpoints?: model.ClusterLoadAssignment[];
}): model.XdsSnapshot {
  return {
    listeners: new Map((parts.listeners ?? []).map((l) => [l.name, l])),
    routeConfigurations: new Map((parts.routeConfigurations ?? []).map((r) => [r.name, r])),
    clusters: new Map((parts.clusters ?? []).map((c) => [c.name, c])),
    endpoints: new Map((parts.endpoints ?? []).map((e) => [e.clusterName, e])),
  };
}

/** A node:http server on loopback port 0, closed with `close()`. */
export async function startHttpServer(
  handler: http.RequestListener,
): Promise<{ server: http.Server; port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A proxy config with one listener `ingress` routing `/` (or given routes) of any host. */
export function gateway(options: {
  routes: model.Route[];
  clusters: model.Cluster[];
  httpFilters?: model.HttpFilter[];
  hcm?: Partially<model.HttpConnectionManager>;
  endpoints?: model.ClusterLoadAssignment[];
}): model.XdsSnapshot {
  const manager = hcm({
    routeConfig: routeConfig('local', [virtualHost('all', ['*'], options.routes)]),
    httpFilters: options.httpFilters ?? [],
    ...options.hcm,
  });
  return snapshot({
    listeners: [listener('ingress', [filterChain(manager)])],
    clusters: options.clusters,
    endpoints: options.endpoints ?? [],
  });
}

/** The `http://127.0.0.1:port` of a started proxy's listener. */
export function origin(proxy: { address(name: string): AddressInfo | undefined }, name = 'ingress'): string {
  const address = proxy.address(name);
  if (address === undefined) throw new Error(`listener ${name} is not bound`);
  return `http://127.0.0.1:${address.port}`;
}

/** A model cluster from Envoy JSON (as a bootstrap would give it), 1 s connect timeout unless set. */
export function envoyCluster(json: Record<string, unknown>): model.Cluster {
  return fromEnvoy({ '@type': TYPE_URLS.cluster, connect_timeout: '1s', ...json }).value as model.Cluster;
}

/** Envoy JSON of a loopback lb endpoint, with `envoy.lb` metadata when given. */
export function envoyEndpoint(port: number, lb?: Record<string, string>): Record<string, unknown> {
  return {
    endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
    ...(lb !== undefined ? { metadata: { filter_metadata: { 'envoy.lb': lb } } } : {}),
  };
}

/** Envoy JSON of a STATIC cluster's load assignment. */
export function envoyAssignment(name: string, endpoints: Record<string, unknown>[]): Record<string, unknown> {
  return { cluster_name: name, endpoints: [{ lb_endpoints: endpoints }] };
}

/** A retry policy with Envoy's defaults. */
export function retryPolicy(more: Partially<model.RetryPolicy> = {}): model.RetryPolicy {
  return {
    retryOn: ['5xx'],
    numRetries: 1,
    retriableStatusCodes: [],
    retriableHeaders: [],
    hostSelectionRetryMaxAttempts: 1,
    retryHostPredicates: [],
    ...more,
  };
}

/** A loopback HTTP/1.1 upstream started by `namedUpstream`. */
export interface NamedUpstream {
  readonly name: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: http.IncomingMessage[];
  /** The connections open now. */
  readonly sockets: Set<Socket>;
  readonly server: http.Server;
  readonly close: () => Promise<void>;
}

/** A loopback HTTP/1.1 upstream answering `name` (or via `handler`), counting requests and open sockets. */
export async function namedUpstream(name: string, handler?: http.RequestListener): Promise<NamedUpstream> {
  const requests: http.IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const started = await startHttpServer((req, res) => {
    requests.push(req);
    if (handler !== undefined) {
      handler(req, res);
      return;
    }
    req.resume();
    res.setHeader('x-upstream', name);
    res.end(name);
  });
  started.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { name, port: started.port, requests, sockets, server: started.server, close: started.close };
}

/** Envoy's outlier detection defaults, with `consecutive5xx` and others as given (1: one 5xx ejects). */
export function outlierDetection(more: Partial<model.OutlierDetection> = {}): model.OutlierDetection {
  return {
    consecutive5xx: 5,
    consecutiveGatewayFailure: 5,
    consecutiveLocalOriginFailure: 5,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 10,
    enforcingConsecutive5xx: 100,
    enforcingConsecutiveGatewayFailure: 0,
    enforcingSuccessRate: 100,
    successRateMinimumHosts: 5,
    successRateRequestVolume: 100,
    successRateStdevFactor: 1900,
    failurePercentageThreshold: 85,
    enforcingFailurePercentage: 0,
    failurePercentageMinimumHosts: 5,
    failurePercentageRequestVolume: 50,
    splitExternalLocalOriginErrors: false,
    ...more,
  };
}
