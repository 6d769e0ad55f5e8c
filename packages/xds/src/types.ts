// meshlet's configuration model: Envoy v3's resources with Envoy's names in camelCase, reduced
// to what meshlet applies, durations in milliseconds, wrappers unwrapped, defaults filled in and
// typed configs resolved to the types below. One field of Envoy's oneofs is set, as in Envoy.

/** Severity of an {@link Issue}. */
export type IssueSeverity = 'error' | 'warning';

/** A problem found in a resource, with the resource and the path of the field. */
export interface Issue {
  readonly severity: IssueSeverity;
  /** The resource, e.g. `cluster "carts"` or `route_config "main"`. */
  readonly resource: string;
  /** Envoy's field path inside it, e.g. `virtual_hosts[0] › routes[3] › route.cluster`. */
  readonly path: string;
  readonly message: string;
}

/** Filter metadata: namespace (`envoy.lb`, `istio`...) → its JSON struct. */
export type Metadata = Record<string, Record<string, unknown>>;

/** A percentage as Envoy's FractionalPercent: `numerator / denominator`. */
export interface FractionalPercent {
  readonly numerator: number;
  readonly denominator: 100 | 10_000 | 1_000_000;
}

/** Where a node runs. */
export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** A socket address or a Unix domain socket path. */
export type Address =
  | {
      readonly socketAddress: {
        readonly address: string;
        readonly port: number;
        readonly protocol: 'TCP' | 'UDP';
      };
    }
  | { readonly pipe: { readonly path: string } };

/** A CIDR range. */
export interface CidrRange {
  readonly addressPrefix: string;
  readonly prefixLen: number;
}

/** Envoy's StringMatcher: exactly one of exact, prefix, suffix, contains, safeRegex. */
export interface StringMatcher {
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly contains?: string;
  /** An RE2 pattern (matched with re2js, linear time), anchored to the whole value. */
  readonly safeRegex?: string;
  readonly ignoreCase: boolean;
}

/** Envoy's HeaderMatcher: a header's value matched one way, or its presence, or a range. */
export interface HeaderMatcher {
  readonly name: string;
  readonly stringMatch?: StringMatcher;
  readonly presentMatch?: boolean;
  readonly rangeMatch?: { readonly start: number; readonly end: number };
  readonly invertMatch: boolean;
  readonly treatMissingHeaderAsEmpty: boolean;
}

/** A query parameter matched by value, or by presence. */
export interface QueryParameterMatcher {
  readonly name: string;
  readonly stringMatch?: StringMatcher;
  readonly presentMatch?: boolean;
}

/** One header to add (Envoy's HeaderValueOption). */
export interface HeaderValueOption {
  readonly header: { readonly key: string; readonly value: string };
  readonly appendAction:
    'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
  readonly keepEmptyValue: boolean;
}

/** Headers added and removed on requests and responses. */
export interface HeaderChanges {
  readonly requestHeadersToAdd: readonly HeaderValueOption[];
  readonly requestHeadersToRemove: readonly string[];
  readonly responseHeadersToAdd: readonly HeaderValueOption[];
  readonly responseHeadersToRemove: readonly string[];
}

// ── bootstrap ────────────────────────────────────────────────────────────────────────────────

/** The identity this data plane presents to a control plane. */
export interface Node {
  readonly id: string;
  readonly cluster: string;
  readonly metadata: Record<string, unknown>;
  readonly locality?: Locality;
  readonly userAgentName: string;
}

/** The admin listener. */
export interface Admin {
  readonly address?: Address;
}

/** Where dynamic resources come from: one ADS server (state of the world or delta). */
export interface AdsConfig {
  readonly apiType: 'GRPC' | 'DELTA_GRPC';
  /** The static cluster that reaches the management server (`envoy_grpc.cluster_name`). */
  readonly clusterName?: string;
  /** Or a gRPC target URI (`google_grpc.target_uri`). */
  readonly targetUri?: string;
  /** Per-stream deadline, if any. */
  readonly timeoutMs?: number;
}

/** Dynamic resources: whether listeners and clusters come over ADS. */
export interface DynamicResources {
  readonly ads?: AdsConfig;
  readonly lds: boolean;
  readonly cds: boolean;
  /** How long to wait for the first response before serving without it. */
  readonly initialFetchTimeoutMs: number;
}

/** An Envoy bootstrap in the model. */
export interface Bootstrap {
  readonly node: Node;
  readonly admin?: Admin;
  readonly staticResources: {
    readonly listeners: readonly Listener[];
    readonly clusters: readonly Cluster[];
  };
  readonly dynamicResources?: DynamicResources;
  /** Envoy's `overload_manager`: resource monitors and the actions their pressure triggers. */
  readonly overloadManager?: OverloadManager;
}

// ── overload manager ─────────────────────────────────────────────────────────────────────────

/**
 * Envoy's overload manager: every `refreshIntervalMs` each resource monitor reports a pressure
 * (a fraction of its limit, 0 to 1), and each action takes the highest state its triggers give.
 */
export interface OverloadManager {
  /** How often monitors are sampled and actions updated (Envoy's default: 1 s). */
  readonly refreshIntervalMs: number;
  readonly resourceMonitors: readonly ResourceMonitor[];
  readonly actions: readonly OverloadAction[];
}

/**
 * A resource monitor, by its Envoy name (triggers refer to it by that name):
 * - `fixed_heap` (`envoy.resource_monitors.fixed_heap`): V8 heap used / `maxHeapSizeBytes`;
 * - `global_downstream_max_connections` (`envoy.resource_monitors.global_downstream_max_connections`):
 *   downstream connections open on every listener / `maxActiveDownstreamConnections`; it is also
 *   proactive, as in Envoy: a connection beyond the maximum is closed at accept;
 * - `event_loop_delay` (meshlet's, a TypedStruct `meshlet.resource_monitors.v1.EventLoopDelay`):
 *   the event loop's delay over the last refresh interval (its `percentile`, default 99) / `maxDelayMs`.
 */
export type ResourceMonitor =
  | { readonly name: string; readonly kind: 'fixed_heap'; readonly maxHeapSizeBytes: number }
  | {
      readonly name: string;
      readonly kind: 'global_downstream_max_connections';
      readonly maxActiveDownstreamConnections: number;
    }
  | {
      readonly name: string;
      readonly kind: 'event_loop_delay';
      readonly maxDelayMs: number;
      readonly percentile: number;
    };

/** What a resource monitor measures. */
export type ResourceMonitorKind = ResourceMonitor['kind'];

/**
 * When an action fires for one resource: `threshold` saturates it at `value` and above; `scaled`
 * scales it linearly from `scalingThreshold` (0) to `saturationThreshold` (saturated).
 */
export interface OverloadTrigger {
  /** The resource monitor's name. */
  readonly name: string;
  readonly threshold?: { readonly value: number };
  readonly scaled?: { readonly scalingThreshold: number; readonly saturationThreshold: number };
}

/**
 * The overload actions meshlet applies (Envoy's `envoy.overload_actions.<kind>`):
 * - `stop_accepting_requests`: new requests get a local 503 (`x-envoy-overloaded: true`,
 *   response flag `OL`) when saturated; RPC requests get the protocol's overload error reply;
 * - `disable_http_keepalive`: HTTP/1 responses close their connection and HTTP/2 connections get
 *   a GOAWAY, with a probability equal to the action's scale (always when saturated);
 * - `reject_incoming_connections`: new downstream connections are closed at accept, a fraction
 *   equal to the action's scale (all when saturated).
 */
export type OverloadActionKind =
  'stop_accepting_requests' | 'disable_http_keepalive' | 'reject_incoming_connections';

/** One overload action and its triggers. */
export interface OverloadAction {
  /** Envoy's name, e.g. `envoy.overload_actions.stop_accepting_requests`. */
  readonly name: string;
  readonly kind: OverloadActionKind;
  readonly triggers: readonly OverloadTrigger[];
}

// ── listeners ────────────────────────────────────────────────────────────────────────────────

/** A listener: an address, listener filters and filter chains chosen by their match. */
export interface Listener {
  readonly name: string;
  readonly address: Address;
  readonly filterChains: readonly FilterChain[];
  readonly defaultFilterChain?: FilterChain;
  /** Listener filters meshlet runs (tls_inspector, http_inspector, protocol_inspector); others are rejected. */
  readonly listenerFilters: readonly ListenerFilter[];
  /**
   * `listener_filters_timeout`: how long listener filters may wait for a client's first bytes
   * (absent: Envoy's 15 s; 0: no limit).
   */
  readonly listenerFiltersTimeoutMs?: number;
  /** `continue_on_listener_filters_timeout`: on that timeout, match chains without the sniffed data instead of closing. */
  readonly continueOnListenerFiltersTimeout?: boolean;
  readonly perConnectionBufferLimitBytes?: number;
  readonly trafficDirection: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  readonly metadata: Metadata;
}

/**
 * A listener filter, by name. `protocol_inspector` is meshlet's (a TypedStruct
 * `meshlet.listener.v1.ProtocolInspector`): it sniffs HTTP/1.1, h2c and RPC protocols and sets
 * the application protocol filter chains match on (`http/1.1`, `h2c`, or a protocol's name).
 */
export interface ListenerFilter {
  readonly name: string;
  readonly kind: 'tls_inspector' | 'http_inspector' | 'original_dst' | 'protocol_inspector';
  /** `protocol_inspector`: the RPC protocols to recognise, by name (absent: every one the proxy knows). */
  readonly protocols?: readonly string[];
}

/** Which connections a filter chain takes (Envoy's FilterChainMatch). */
export interface FilterChainMatch {
  readonly destinationPort?: number;
  readonly prefixRanges: readonly CidrRange[];
  readonly serverNames: readonly string[];
  readonly transportProtocol: string;
  readonly applicationProtocols: readonly string[];
  readonly sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  readonly sourcePrefixRanges: readonly CidrRange[];
  readonly directSourcePrefixRanges: readonly CidrRange[];
  readonly sourcePorts: readonly number[];
}

/** A filter chain: network filters and, optionally, TLS termination. */
export interface FilterChain {
  readonly name: string;
  readonly filterChainMatch: FilterChainMatch;
  readonly filters: readonly NetworkFilter[];
  readonly tls?: DownstreamTls;
}

/** TLS accepted on a filter chain (certificates inline or by file name). */
export interface DownstreamTls {
  readonly certificates: readonly TlsCertificate[];
  readonly alpnProtocols: readonly string[];
  readonly requireClientCertificate: boolean;
  readonly validation?: CertificateValidation;
}

/** A certificate and key: a PEM file name or inline PEM. */
export interface TlsCertificate {
  readonly certificateChain: DataSource;
  readonly privateKey: DataSource;
}

/** How peer certificates are checked. */
export interface CertificateValidation {
  readonly trustedCa?: DataSource;
  readonly matchSubjectAltNames: readonly StringMatcher[];
}

/** Data inline or in a file. */
export type DataSource =
  { readonly filename: string } | { readonly inlineString: string } | { readonly inlineBytes: string };

/** A network (L4) filter. */
export type NetworkFilter = HttpConnectionManagerFilter | TcpProxyFilter | RpcProxyFilter;

/** `envoy.filters.network.http_connection_manager`. */
export interface HttpConnectionManagerFilter {
  readonly name: string;
  readonly kind: 'http_connection_manager';
  readonly config: HttpConnectionManager;
}

/** `envoy.filters.network.tcp_proxy`. */
export interface TcpProxyFilter {
  readonly name: string;
  readonly kind: 'tcp_proxy';
  readonly config: TcpProxy;
}

/** An RPC proxy (Dubbo, Bolt, user protocols) driven by a meshlet codec. */
export interface RpcProxyFilter {
  readonly name: string;
  readonly kind: 'rpc_proxy';
  readonly config: RpcProxy;
}

/** The HTTP connection manager: codec, timeouts, routes (inline or by RDS name), HTTP filters. */
export interface HttpConnectionManager {
  readonly statPrefix: string;
  readonly codecType: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** Exactly one of the two. */
  readonly routeConfig?: RouteConfiguration;
  readonly rds?: { readonly routeConfigName: string };
  readonly httpFilters: readonly HttpFilter[];
  readonly streamIdleTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly requestHeadersTimeoutMs?: number;
  readonly drainTimeoutMs?: number;
  readonly maxRequestHeadersKb?: number;
  readonly commonHttpProtocolOptions: CommonHttpProtocolOptions;
  readonly http2ProtocolOptions?: Http2ProtocolOptions;
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly serverName: string;
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly generateRequestId: boolean;
  readonly upgradeConfigs: readonly { readonly upgradeType: string; readonly enabled: boolean }[];
  /** `access_log`: absent when none. */
  readonly accessLog?: readonly AccessLog[];
  /** `tracing`: absent means no tracing (trace headers pass through untouched, as in Envoy). */
  readonly tracing?: HttpTracing;
}

/** Connection-level HTTP limits, downstream or upstream. */
export interface CommonHttpProtocolOptions {
  readonly idleTimeoutMs?: number;
  readonly maxConnectionDurationMs?: number;
  readonly maxHeadersCount?: number;
  readonly maxStreamDurationMs?: number;
  readonly maxRequestsPerConnection?: number;
  readonly headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
}

/** HTTP/2 settings. */
export interface Http2ProtocolOptions {
  readonly maxConcurrentStreams?: number;
  readonly initialStreamWindowSize?: number;
  readonly initialConnectionWindowSize?: number;
}

/** One HTTP filter in a connection manager's chain. */
export interface HttpFilter {
  readonly name: string;
  readonly isOptional: boolean;
  readonly disabled: boolean;
  readonly config: HttpFilterConfig;
}

/** The typed config of an HTTP filter meshlet knows, or a user filter's. */
export type HttpFilterConfig =
  | RouterConfig
  | FaultConfig
  | LocalRateLimitConfig
  | RbacConfig
  | CorsConfig
  | HeaderMutationConfig
  | CustomFilterConfig;

/** `envoy.filters.http.router`: always last. */
export interface RouterConfig {
  readonly type: 'router';
  readonly suppressEnvoyHeaders: boolean;
}

/** `envoy.filters.http.fault`. */
export interface FaultConfig {
  readonly type: 'fault';
  readonly delay?: {
    readonly fixedDelayMs?: number;
    /** Delay taken from the `x-envoy-fault-delay-request` header. */
    readonly headerDelay: boolean;
    readonly percentage: FractionalPercent;
  };
  readonly abort?: {
    readonly httpStatus?: number;
    readonly grpcStatus?: number;
    /** Abort taken from the `x-envoy-fault-abort-request` header. */
    readonly headerAbort: boolean;
    readonly percentage: FractionalPercent;
  };
  readonly headers: readonly HeaderMatcher[];
  readonly upstreamCluster: string;
  readonly downstreamNodes: readonly string[];
  readonly maxActiveFaults?: number;
}

/** A token bucket. */
export interface TokenBucket {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** `envoy.filters.http.local_ratelimit`. */
export interface LocalRateLimitConfig {
  readonly type: 'local_rate_limit';
  readonly statPrefix: string;
  readonly tokenBucket?: TokenBucket;
  /** Share of requests the filter looks at; absent = none (Envoy's default). */
  readonly filterEnabled?: FractionalPercent;
  /** Share of looked-at requests it enforces; absent = none. */
  readonly filterEnforced?: FractionalPercent;
  readonly status: number;
  readonly responseHeadersToAdd: readonly HeaderValueOption[];
  readonly descriptors: readonly {
    readonly entries: readonly { readonly key: string; readonly value: string }[];
    readonly tokenBucket: TokenBucket;
  }[];
  readonly localRateLimitPerDownstreamConnection: boolean;
  /** `DRAFT_VERSION_03`: `x-ratelimit-limit/-remaining/-reset` on responses the filter checked. Default `OFF`. */
  readonly enableXRatelimitHeaders: 'OFF' | 'DRAFT_VERSION_03';
}

/** An RBAC permission (what a request does); exactly one field set. */
export interface RbacPermission {
  readonly any?: true;
  readonly header?: HeaderMatcher;
  readonly urlPath?: StringMatcher;
  readonly destinationIp?: CidrRange;
  readonly destinationPort?: number;
  readonly destinationPortRange?: { readonly start: number; readonly end: number };
  readonly requestedServerName?: StringMatcher;
  readonly andRules?: readonly RbacPermission[];
  readonly orRules?: readonly RbacPermission[];
  readonly notRule?: RbacPermission;
}

/** An RBAC principal (who sends it); exactly one field set. */
export interface RbacPrincipal {
  readonly any?: true;
  readonly authenticated?: { readonly principalName?: StringMatcher };
  readonly sourceIp?: CidrRange;
  readonly directRemoteIp?: CidrRange;
  readonly remoteIp?: CidrRange;
  readonly header?: HeaderMatcher;
  readonly urlPath?: StringMatcher;
  readonly andIds?: readonly RbacPrincipal[];
  readonly orIds?: readonly RbacPrincipal[];
  readonly notId?: RbacPrincipal;
}

/** RBAC rules: an action and named policies. */
export interface RbacRules {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  readonly policies: Record<
    string,
    { readonly permissions: readonly RbacPermission[]; readonly principals: readonly RbacPrincipal[] }
  >;
}

/** `envoy.filters.http.rbac`. */
export interface RbacConfig {
  readonly type: 'rbac';
  /** Absent: every request allowed. */
  readonly rules?: RbacRules;
  readonly shadowRules?: RbacRules;
}

/** A CORS policy (virtual host or route, per-filter config). */
export interface CorsPolicy {
  readonly allowOriginStringMatch: readonly StringMatcher[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  readonly allowPrivateNetworkAccess: boolean;
  readonly forwardNotMatchingPreflights: boolean;
}

/** `envoy.filters.http.cors`: policies come from virtual hosts and routes. */
export interface CorsConfig {
  readonly type: 'cors';
}

/** A header mutation: append a header or remove one. */
export interface HeaderMutation {
  readonly append?: HeaderValueOption;
  readonly remove?: string;
}

/** `envoy.filters.http.header_mutation`. */
export interface HeaderMutationConfig {
  readonly type: 'header_mutation';
  readonly requestMutations: readonly HeaderMutation[];
  readonly responseMutations: readonly HeaderMutation[];
}

/**
 * A filter meshlet does not build in: a user filter (`defineHttpFilter`) configured through an
 * `xds.type.v3.TypedStruct` whose `type_url` names it. The proxy rejects names it has no filter for.
 */
export interface CustomFilterConfig {
  readonly type: 'custom';
  readonly typeUrl: string;
  readonly value: Record<string, unknown>;
}

/** Per-route (or per virtual host) override of an HTTP filter's config, by filter name. */
export type FilterConfigOverride =
  | { readonly type: 'disabled' }
  | { readonly type: 'cors'; readonly policy: CorsPolicy }
  | FaultConfig
  | LocalRateLimitConfig
  | RbacConfig
  | HeaderMutationConfig
  | CustomFilterConfig;

/** `envoy.filters.network.tcp_proxy`. */
export interface TcpProxy {
  readonly statPrefix: string;
  readonly cluster?: string;
  readonly weightedClusters?: readonly { readonly name: string; readonly weight: number }[];
  readonly idleTimeoutMs?: number;
  readonly maxConnectAttempts: number;
  /** `access_log`: one entry per connection; absent when none. */
  readonly accessLog?: readonly AccessLog[];
}

/** An RPC route: service/method/header match → cluster(s). */
export interface RpcRoute {
  readonly match: {
    readonly service?: StringMatcher;
    readonly method?: StringMatcher;
    readonly headers: readonly HeaderMatcher[];
  };
  readonly cluster?: string;
  readonly weightedClusters?: readonly { readonly name: string; readonly weight: number }[];
  /** Subset selection: the `envoy.lb` metadata the chosen hosts must carry. */
  readonly metadataMatch?: Metadata;
  /** Upstream timeout of a request on this route; the frame's own timeout, then the proxy's default, when absent. 0 = none. */
  readonly timeoutMs?: number;
  /** Requests on this route may be retried on another host (connect failure, reset, timeout). */
  readonly idempotent?: boolean;
  /** Retries of an idempotent route (default 1 when `idempotent`; ignored otherwise). */
  readonly numRetries?: number;
}

/** The RPC proxy: a codec protocol by name, its HTTP filters and its routes. */
export interface RpcProxy {
  readonly statPrefix: string;
  /** A codec protocol name: `dubbo`, `bolt`, or a user protocol's. */
  readonly protocol: string;
  readonly routes: readonly RpcRoute[];
  /** `access_log`: one entry per request; absent when none. */
  readonly accessLog?: readonly AccessLog[];
  /**
   * The HTTP filters run on every request frame, as in a connection manager (local rate limit,
   * fault, RBAC, user filters); the router is implicit and must not be listed. Absent: none.
   */
  readonly httpFilters?: readonly HttpFilter[];
  /** Upstream timeout of requests whose route and frame give none (ms). Absent: 15 s; 0 = none. */
  readonly requestTimeoutMs?: number;
  /** Largest frame accepted from clients (bytes). Absent: the protocol's default. */
  readonly maxFrameSize?: number;
  /** A frame begun by a client must arrive whole within it, else the connection closes (ms). Absent: 60 s; 0 = none. */
  readonly frameTimeoutMs?: number;
}

// ── access logs and tracing ─────────────────────────────────────────────────────────────────

/** One access logger (Envoy's `AccessLog`): where lines go, their format, and which entries pass. */
export interface AccessLog {
  readonly name: string;
  readonly sink: AccessLogSinkRef;
  readonly format: AccessLogFormat;
  /** `filter`: absent logs every entry. */
  readonly filter?: AccessLogFilter;
}

/**
 * Where an access logger writes: `envoy.access_loggers.file` (a path, appended), `stdout`,
 * `stderr`, or a sink the application registered by name (`meshlet.access_loggers.v1.Sink`).
 */
export type AccessLogSinkRef =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stdout' }
  | { readonly kind: 'stderr' }
  | { readonly kind: 'sink'; readonly name: string };

/** A `json_format` value: a format string (command operators), a constant, or a nested object. */
export type JsonFormatValue = string | number | boolean | null | { readonly [key: string]: JsonFormatValue };

/**
 * Envoy's `SubstitutionFormatString`: a text format (`text_format_source.inline_string` or
 * `text_format`), a JSON object (`json_format`), or Envoy's default format.
 */
export type AccessLogFormat =
  | { readonly kind: 'default' }
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'json';
      readonly json: Readonly<Record<string, JsonFormatValue>>;
      readonly omitEmptyValues: boolean;
    };

/** A comparison of Envoy's `ComparisonFilter`. */
export interface AccessLogComparison {
  readonly op: 'EQ' | 'GE' | 'LE';
  readonly value: number;
}

/** Envoy's `AccessLogFilter`, the common kinds. */
export type AccessLogFilter =
  | { readonly kind: 'status_code'; readonly comparison: AccessLogComparison }
  | { readonly kind: 'duration'; readonly comparison: AccessLogComparison }
  /** Any of `flags`; an empty list: any flag at all. */
  | { readonly kind: 'response_flag'; readonly flags: readonly string[] }
  | { readonly kind: 'not_health_check' }
  | { readonly kind: 'header'; readonly header: HeaderMatcher }
  | { readonly kind: 'and'; readonly filters: readonly AccessLogFilter[] }
  | { readonly kind: 'or'; readonly filters: readonly AccessLogFilter[] };

/** The connection manager's `tracing`: sampling percentages in [0, 100]. */
export interface HttpTracing {
  /** `client_sampling`: requests with `x-client-trace-id` traced at this rate. Default 100. */
  readonly clientSampling: number;
  /** `random_sampling`: requests starting a trace, traced at this rate. Default 100. */
  readonly randomSampling: number;
  /** `overall_sampling`: a cap applied after the other two. Default 100. */
  readonly overallSampling: number;
}

// ── routes ───────────────────────────────────────────────────────────────────────────────────

/** A route table (RDS resource, or inline in a connection manager). */
export interface RouteConfiguration extends HeaderChanges {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  readonly typedPerFilterConfig: Record<string, FilterConfigOverride>;
}

/** A virtual host: domains and routes. */
export interface VirtualHost extends HeaderChanges {
  readonly name: string;
  /** `example.com`, `*.example.com`, `example.*`, `*`. */
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
  readonly requireTls: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  readonly retryPolicy?: RetryPolicy;
  readonly cors?: CorsPolicy;
  readonly typedPerFilterConfig: Record<string, FilterConfigOverride>;
}

/** A route: a match and exactly one action (route, redirect, directResponse). */
export interface Route extends HeaderChanges {
  readonly name: string;
  readonly match: RouteMatch;
  readonly route?: RouteAction;
  readonly redirect?: RedirectAction;
  readonly directResponse?: DirectResponseAction;
  readonly metadata: Metadata;
  readonly typedPerFilterConfig: Record<string, FilterConfigOverride>;
}

/** Which requests a route takes: exactly one path matcher, and headers and query parameters. */
export interface RouteMatch {
  readonly prefix?: string;
  readonly path?: string;
  /** An RE2 pattern matched against the whole path (without the query). */
  readonly safeRegex?: string;
  readonly pathSeparatedPrefix?: string;
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatcher[];
  readonly queryParameters: readonly QueryParameterMatcher[];
  /** Only gRPC requests (content-type application/grpc*). */
  readonly grpc: boolean;
  readonly runtimeFraction?: FractionalPercent;
}

/** One cluster of a weighted set. */
export interface WeightedCluster extends HeaderChanges {
  readonly name: string;
  readonly weight: number;
  readonly metadataMatch?: Metadata;
  readonly typedPerFilterConfig: Record<string, FilterConfigOverride>;
}

/** A retry policy. */
export interface RetryPolicy {
  /** Envoy's retry_on conditions: `5xx`, `gateway-error`, `reset`, `connect-failure`, `retriable-4xx`, `refused-stream`, `retriable-status-codes`, `retriable-headers`, gRPC's `cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`, `unavailable`. */
  readonly retryOn: readonly string[];
  readonly numRetries: number;
  readonly perTryTimeoutMs?: number;
  readonly perTryIdleTimeoutMs?: number;
  readonly retriableStatusCodes: readonly number[];
  readonly retriableHeaders: readonly HeaderMatcher[];
  readonly retryBackOff?: { readonly baseIntervalMs: number; readonly maxIntervalMs?: number };
  readonly hostSelectionRetryMaxAttempts: number;
  /** `envoy.retry_host_predicates.previous_hosts` and friends, by name. */
  readonly retryHostPredicates: readonly string[];
}

/** How a request is hashed for ring hash and Maglev: exactly one source. */
export interface HashPolicy {
  readonly header?: { readonly headerName: string };
  readonly cookie?: { readonly name: string; readonly ttlMs?: number; readonly path: string };
  readonly connectionProperties?: { readonly sourceIp: boolean };
  readonly queryParameter?: { readonly name: string };
  readonly filterState?: { readonly key: string };
  readonly terminal: boolean;
}

/** A request mirror. */
export interface RequestMirrorPolicy {
  readonly cluster: string;
  readonly runtimeFraction?: FractionalPercent;
  readonly traceSampled?: boolean;
}

/** Forward to a cluster. Exactly one of cluster, weightedClusters, clusterHeader. */
export interface RouteAction {
  readonly cluster?: string;
  readonly weightedClusters?: { readonly clusters: readonly WeightedCluster[]; readonly totalWeight: number };
  readonly clusterHeader?: string;
  /** Subset selection: the `envoy.lb` namespace of the route's metadata match. */
  readonly metadataMatch?: Metadata;
  readonly prefixRewrite?: string;
  readonly regexRewrite?: { readonly pattern: string; readonly substitution: string };
  readonly hostRewriteLiteral?: string;
  readonly autoHostRewrite: boolean;
  readonly hostRewriteHeader?: string;
  /** Upstream timeout; 0 disables it. Envoy's default is 15 s. */
  readonly timeoutMs: number;
  readonly idleTimeoutMs?: number;
  readonly retryPolicy?: RetryPolicy;
  readonly hashPolicy: readonly HashPolicy[];
  readonly requestMirrorPolicies: readonly RequestMirrorPolicy[];
  readonly priority: 'DEFAULT' | 'HIGH';
  readonly maxStreamDurationMs?: number;
  readonly grpcTimeoutHeaderMaxMs?: number;
  readonly upgradeConfigs: readonly { readonly upgradeType: string; readonly enabled: boolean }[];
}

/** Reply with a redirect. */
export interface RedirectAction {
  readonly httpsRedirect: boolean;
  readonly schemeRedirect?: string;
  readonly hostRedirect?: string;
  readonly portRedirect?: number;
  readonly pathRedirect?: string;
  readonly prefixRewrite?: string;
  readonly regexRewrite?: { readonly pattern: string; readonly substitution: string };
  readonly responseCode: 301 | 302 | 303 | 307 | 308;
  readonly stripQuery: boolean;
}

/** Reply directly. */
export interface DirectResponseAction {
  readonly status: number;
  readonly body?: DataSource;
}

// ── clusters ─────────────────────────────────────────────────────────────────────────────────

/** Envoy's load balancing policy names. */
export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

/** Circuit breaker thresholds for one priority. */
export interface Thresholds {
  readonly priority: 'DEFAULT' | 'HIGH';
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  readonly maxConnectionPools?: number;
  readonly retryBudget?: { readonly budgetPercent: number; readonly minRetryConcurrency: number };
  readonly trackRemaining: boolean;
}

/** Outlier detection (passive health). Percentages are 0..100. */
export interface OutlierDetection {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly enforcingConsecutive5xx: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  readonly enforcingSuccessRate: number;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  readonly successRateStdevFactor: number;
  readonly failurePercentageThreshold: number;
  readonly enforcingFailurePercentage: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
  readonly splitExternalLocalOriginErrors: boolean;
}

/** An active health check. Exactly one of http, tcp, grpc. */
export interface HealthCheck {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly intervalJitterMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  readonly noTrafficIntervalMs: number;
  readonly unhealthyIntervalMs?: number;
  readonly healthyEdgeIntervalMs?: number;
  readonly unhealthyEdgeIntervalMs?: number;
  readonly http?: {
    readonly host: string;
    readonly path: string;
    readonly expectedStatuses: readonly { readonly start: number; readonly end: number }[];
    readonly requestHeadersToAdd: readonly HeaderValueOption[];
    readonly codecClientType: 'HTTP1' | 'HTTP2';
  };
  /** Payloads as hex strings; empty send = connect only. */
  readonly tcp?: { readonly send?: string; readonly receive: readonly string[] };
  readonly grpc?: { readonly serviceName: string; readonly authority: string };
}

/** How the cluster speaks HTTP to its hosts. */
export interface UpstreamHttpProtocolOptions {
  /** `http1`, `http2`, or `downstream` (whatever the client used); `auto` negotiates by ALPN. */
  readonly protocol: 'http1' | 'http2' | 'auto' | 'downstream';
  readonly commonHttpProtocolOptions: CommonHttpProtocolOptions;
  readonly http2ProtocolOptions?: Http2ProtocolOptions;
  readonly autoSni: boolean;
}

/** TLS to the hosts. */
export interface UpstreamTls {
  readonly sni: string;
  readonly alpnProtocols: readonly string[];
  readonly certificates: readonly TlsCertificate[];
  readonly validation?: CertificateValidation;
}

/** A cluster: how hosts are found, balanced, limited and checked. */
export interface Cluster {
  readonly name: string;
  readonly type: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';
  /** EDS: the name to ask endpoints for (default: the cluster name). */
  readonly edsServiceName?: string;
  readonly lbPolicy: LbPolicy;
  readonly ringHashLbConfig?: {
    readonly minimumRingSize: number;
    readonly maximumRingSize: number;
    readonly hashFunction: 'XX_HASH' | 'MURMUR_HASH_2';
  };
  readonly maglevLbConfig?: { readonly tableSize: number };
  readonly leastRequestLbConfig?: { readonly choiceCount: number; readonly activeRequestBias?: number };
  readonly connectTimeoutMs: number;
  readonly perConnectionBufferLimitBytes?: number;
  readonly circuitBreakers: { readonly thresholds: readonly Thresholds[] };
  readonly outlierDetection?: OutlierDetection;
  readonly healthChecks: readonly HealthCheck[];
  /** Hosts of STATIC and DNS clusters. */
  readonly loadAssignment?: ClusterLoadAssignment;
  readonly upstreamHttpProtocolOptions: UpstreamHttpProtocolOptions;
  readonly tls?: UpstreamTls;
  /** Below this share of healthy hosts (0..100) all hosts are used. Default 50. */
  readonly healthyPanicThreshold: number;
  readonly localityWeightedLb: boolean;
  readonly lbSubsetConfig?: {
    readonly fallbackPolicy: 'NO_FALLBACK' | 'ANY_ENDPOINT' | 'DEFAULT_SUBSET';
    readonly defaultSubset: Record<string, unknown>;
    readonly subsetSelectors: readonly { readonly keys: readonly string[] }[];
  };
  readonly dnsRefreshRateMs: number;
  readonly dnsLookupFamily: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  readonly respectDnsTtl: boolean;
  readonly metadata: Metadata;
}

// ── endpoints ────────────────────────────────────────────────────────────────────────────────

/** The health a control plane reports for an endpoint. */
export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

/** One endpoint. */
export interface LbEndpoint {
  readonly address: Address;
  readonly hostname: string;
  readonly healthCheckPort?: number;
  readonly healthStatus: HealthStatus;
  readonly loadBalancingWeight: number;
  readonly metadata: Metadata;
}

/** The endpoints of one locality at one priority. */
export interface LocalityLbEndpoints {
  readonly locality: Locality;
  readonly priority: number;
  readonly loadBalancingWeight?: number;
  readonly lbEndpoints: readonly LbEndpoint[];
}

/** A cluster's endpoints (EDS resource, or a static cluster's load assignment). */
export interface ClusterLoadAssignment {
  readonly clusterName: string;
  readonly endpoints: readonly LocalityLbEndpoints[];
  readonly policy: {
    readonly overprovisioningFactor: number;
    readonly dropOverloads: readonly {
      readonly category: string;
      readonly dropPercentage: FractionalPercent;
    }[];
  };
}

// ── snapshots ────────────────────────────────────────────────────────────────────────────────

/** A complete, consistent set of resources: what the proxy applies at once. */
export interface XdsSnapshot {
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly routeConfigurations: ReadonlyMap<string, RouteConfiguration>;
  readonly clusters: ReadonlyMap<string, Cluster>;
  /** By cluster name (or EDS service name). */
  readonly endpoints: ReadonlyMap<string, ClusterLoadAssignment>;
}

/** The resource kinds, as the model names them. */
export type ResourceKind = 'listener' | 'route_config' | 'cluster' | 'cluster_load_assignment';

/** A translated resource of any kind. */
export type TranslatedResource =
  | { readonly kind: 'listener'; readonly name: string; readonly value: Listener }
  | { readonly kind: 'route_config'; readonly name: string; readonly value: RouteConfiguration }
  | { readonly kind: 'cluster'; readonly name: string; readonly value: Cluster }
  | {
      readonly kind: 'cluster_load_assignment';
      readonly name: string;
      readonly value: ClusterLoadAssignment;
    };
