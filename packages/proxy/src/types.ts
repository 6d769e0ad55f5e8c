// The contracts between the proxy's parts, in the order a request meets them:
// listener/ + http/ (the connection manager) → filters/ (the chain) → router/ (route table) →
// the router filter (forwarding) → cluster/ + upstream/ (hosts and pools).
//
// Each part implements its side in its own folder; what crosses a folder boundary is declared here.
import type { Host, MetadataValue, PickContext } from '@meshlet/lb';
import type { PriorityResourceLimits } from '@meshlet/breaker';
import type * as model from '@meshlet/xds';
import type { Duplex, Readable } from 'node:stream';
import type { Protocol } from '@meshlet/codec';
import type { Dispatcher } from 'undici';
import type { Scope } from '@meshlet/stats';

// ── requests and responses ───────────────────────────────────────────────────────────────────

/**
 * A header map: lower-case names, one value or several (the shape of node:http's
 * `IncomingHttpHeaders`). Pseudo-headers (`:path`...) and hop-by-hop headers are never in it.
 */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** The downstream protocol of a stream. */
export type DownstreamProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

/** The request as filters and the router see it, and change it in place. */
export interface RequestHead {
  method: string;
  /** `http` or `https` (as received: TLS or `x-forwarded-proto` from a trusted hop). */
  scheme: string;
  /** `:authority`, or `Host` on HTTP/1. */
  authority: string;
  /** Path and query. Route rewrites change it; the original goes to `x-envoy-original-path`. */
  path: string;
  readonly headers: HeaderMap;
}

/** The response head as response hooks see it, and change it in place. */
export interface ResponseHead {
  status: number;
  readonly headers: HeaderMap;
}

/** The downstream connection a stream arrived on. */
export interface ConnectionInfo {
  /** Unique per process, increasing. */
  readonly id: number;
  readonly listenerName: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** TLS terminated here. */
  readonly tls: boolean;
  /** The SNI the client asked for, if TLS. */
  readonly serverName: string | undefined;
  /** The negotiated ALPN protocol, if TLS. */
  readonly alpnProtocol: string | undefined;
}

/**
 * Envoy's response flags, for access logs and stats: why a stream ended the way it did.
 * `UH` no healthy upstream, `UF` upstream connection failure, `UO` upstream overflow (circuit
 * breaker), `NR` no route, `URX` retry limit exceeded, `UT` upstream timeout, `UC` upstream
 * connection termination, `UR` upstream reset, `LR` local reset, `DC` downstream connection
 * termination, `RL` rate limited, `DI` delay injected, `FI` fault injected, `UAEX`
 * unauthorized (RBAC), `DPE` downstream protocol error, `UPE` upstream protocol error, `SI`
 * stream idle timeout, `UMSDR` upstream max stream duration reached, `NC` no cluster found (the
 * route names a cluster that does not exist), `OL` overload manager (a request shed by
 * `stop_accepting_requests`).
 */
export type ResponseFlag =
  | 'UH'
  | 'UF'
  | 'UO'
  | 'NR'
  | 'URX'
  | 'UT'
  | 'UC'
  | 'UR'
  | 'LR'
  | 'DC'
  | 'RL'
  | 'DI'
  | 'FI'
  | 'UAEX'
  | 'DPE'
  | 'UPE'
  | 'SI'
  | 'UMSDR'
  | 'NC'
  | 'OL';

/** What happened to a stream, filled in as it goes: the source of access logs and stats. */
export interface StreamInfo {
  /** `performance.now()` when the request headers were complete. */
  readonly startTime: number;
  /** Wall clock (ms since the epoch) at the same moment. */
  readonly startTimeUnixMs: number;
  readonly responseFlags: Set<ResponseFlag>;
  /** Why a local reply was sent (`x-envoy-` style detail), e.g. `no_healthy_upstream`. */
  responseCodeDetails: string;
  /** The cluster the router chose. */
  upstreamCluster: string | undefined;
  /** `address:port` of the last upstream host tried. */
  upstreamHost: string | undefined;
  /** Attempts made upstream (1 + retries). */
  attempts: number;
  bytesReceived: number;
  bytesSent: number;
  /** `performance.now()` when the stream ended (response finished or reset). */
  endTime: number;
  /**
   * `performance.now()` when the whole request (head and body) had arrived, once it has: Envoy's
   * `%REQUEST_DURATION%` is this minus `startTime`. Set by the router filter.
   */
  requestCompleteTime?: number | undefined;
  /**
   * `performance.now()` when the upstream response head that was sent downstream arrived:
   * `%RESPONSE_DURATION%` is this minus `startTime`, `%RESPONSE_TX_DURATION%` `endTime` minus this.
   */
  firstUpstreamByteTime?: number | undefined;
  /**
   * The client address the connection manager trusts (Envoy's downstream remote address): the
   * peer, or an `x-forwarded-for` entry per `useRemoteAddress` and `xffNumTrustedHops`.
   */
  readonly downstreamRemoteAddress?: string;
}

// ── filters ──────────────────────────────────────────────────────────────────────────────────

/**
 * The per-request context every HTTP filter hook receives (and the RPC proxy builds for its
 * frames, so one filter serves every protocol).
 */
export interface HttpContext {
  readonly request: RequestHead;
  /** The response head once known (upstream or local reply); `null` before. */
  readonly response: ResponseHead | null;
  readonly connection: ConnectionInfo;
  readonly protocol: DownstreamProtocol | (string & {});
  /** `x-request-id`: the client's, or generated. */
  readonly requestId: string;
  /** A gRPC request (`content-type: application/grpc*`): local replies become gRPC statuses. */
  readonly isGrpc: boolean;
  /** The route matched for this request, `null` if none. Recomputed after `clearRouteCache()`. */
  readonly route: RouteEntry | null;
  /** Forget the matched route (after changing the path or authority) so it is matched again. */
  clearRouteCache(): void;
  /** Per-request state shared among filters (Envoy's filter state). */
  readonly state: Map<string | symbol, unknown>;
  readonly info: StreamInfo;
  /** The client went away. */
  readonly aborted: boolean;
  /** True once a local reply was made. */
  readonly replied: boolean;
  /**
   * Stop the chain and answer locally. On a gRPC request the status maps to a gRPC status in
   * trailers-only form. Response hooks of the filters that already ran still see the reply.
   */
  reply(status: number, body?: string | Buffer, headers?: HeaderMap): void;
  /**
   * Read the whole request body, at most `limitBytes`. Over the limit the proxy replies 413 and
   * the promise resolves to `null`. The body is then forwarded from the buffer.
   */
  readBody(limitBytes: number): Promise<Buffer | null>;
}

/** What `configure` gets besides its config: the proxy's clock and randomness. */
export interface FilterEnvironment {
  /** Milliseconds, monotonic (`performance.now()` unless injected). */
  now(): number;
  /** A float in [0, 1). */
  random(): number;
  /** The name of the filter instance in config (`HttpFilter.name`). */
  readonly filterName: string;
  /**
   * The proxy's stats, for a filter's own counters (made here, at configure time, and kept);
   * absent when stats are off. Built-ins name theirs as Envoy does (`<stat_prefix>.http_local_rate_limit.ok`).
   */
  readonly stats?: Scope;
}

/** A hook's return: nothing to continue (sync), or a promise of nothing (async). */
export type HookResult = void | Promise<void>;

/**
 * An HTTP filter: a config factory validated once per config version and cheap per-request
 * hooks. Built with `defineHttpFilter`.
 */
export interface HttpFilter<Config = unknown> {
  /**
   * The filter's name. Built-ins use the model's config type (`fault`, `local_rate_limit`,
   * `rbac`, `cors`, `header_mutation`, `router`); a user filter is found by the part after the
   * last `/` of its TypedStruct's `type_url` (`type.googleapis.com/acme.auth` → `acme.auth`).
   */
  readonly name: string;
  /**
   * Validates and compiles a config (the model's typed config for built-ins, the TypedStruct
   * `value` for user filters, or a per-route override of either). Throws a `ConfigError`.
   */
  configure(config: unknown, env: FilterEnvironment): Config;
  onRequest?(ctx: HttpContext, config: Config): HookResult;
  /** Runs in reverse order, once the response head is known (upstream or local). */
  onResponse?(ctx: HttpContext, config: Config): HookResult;
  /** Runs once when the stream is over (finished, reset or aborted), for every filter whose `onRequest` ran. */
  onComplete?(ctx: HttpContext, config: Config): void;
  /** Releases what a compiled config holds (timers...) when its config version is retired. */
  destroy?(config: Config): void;
}

// ── matchers ─────────────────────────────────────────────────────────────────────────────────

/**
 * How a part of the proxy reports a bad matcher config: the filters' `ConfigReader`
 * (`fault: headers[0].name must not be empty`) or the route table (Envoy's snake_case field
 * names after the route's path).
 */
export interface MatcherConfigErrors {
  /** The error for the field at `field` (a path the caller started, extended with `.key`). */
  error(field: string, message: string): Error;
  /** Spells a model key (`safeRegex`) as the caller names fields (`safe_regex`); as is when absent. */
  key?(name: string): string;
}

// ── routes ───────────────────────────────────────────────────────────────────────────────────

/** What the route table matches on: the request and its connection. */
export interface MatchInput {
  readonly request: RequestHead;
  readonly connection: ConnectionInfo;
  /** For runtime fractions and weighted clusters: a float in [0, 1). */
  random(): number;
}

/** A compiled route table: one per route configuration and config version. */
export interface RouteTable {
  readonly name: string;
  /** The first matching route of the most specific virtual host, or `null`. */
  match(input: MatchInput): RouteEntry | null;
}

/** The cluster a route action chose for one request. */
export interface ClusterChoice {
  readonly name: string;
  /** Subset selection (`envoy.lb` metadata match of the route merged with the weighted cluster's). */
  readonly metadataMatch: Readonly<Record<string, MetadataValue>> | undefined;
  /** Header changes of the chosen weighted cluster, applied before the route's. */
  readonly headerChanges: model.HeaderChanges | undefined;
}

/** A retry policy compiled for the hot path. */
export interface CompiledRetryPolicy {
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
  readonly perTryIdleTimeoutMs: number | undefined;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly hostSelectionRetryMaxAttempts: number;
  /** `envoy.retry_host_predicates.previous_hosts` given: avoid hosts already tried. */
  readonly avoidPreviousHosts: boolean;
  /** Whether this upstream response status calls for a retry (5xx, gateway-error, retriable-4xx, retriable-status-codes, retriable-headers, gRPC statuses). */
  retriableResponse(status: number, headers: HeaderMap): boolean;
  /** Whether this local failure calls for a retry. */
  retriableFailure(failure: 'reset' | 'connect-failure' | 'refused-stream'): boolean;
}

/** A route action compiled for the hot path. */
export interface CompiledRouteAction {
  /** Choose the cluster for this request (weighted clusters draw with `random`), or `null` when a cluster header names none. */
  selectCluster(input: MatchInput): ClusterChoice | null;
  /** Apply prefix, regex and host rewrites to the request in place. */
  rewrite(request: RequestHead): void;
  /** The request's hash for ring hash and Maglev, from the hash policies; `null` when none applies. */
  hash(request: RequestHead, connection: ConnectionInfo): bigint | null;
  /** 0 = none. */
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | undefined;
  /** The route's retry policy, else the virtual host's. */
  readonly retryPolicy: CompiledRetryPolicy | undefined;
  readonly mirrors: readonly { readonly cluster: string; readonly fraction: number }[];
  readonly priority: 'default' | 'high';
  /** `grpc-timeout` honoured up to this many ms (0 = unbounded); undefined: the header is ignored. */
  readonly grpcTimeoutHeaderMaxMs: number | undefined;
  /** Upgrade types enabled on this route (lower-case, e.g. `websocket`), on top of the connection manager's. */
  readonly upgrades: ReadonlyMap<string, boolean>;
  /**
   * `auto_host_rewrite`: the router filter sets the upstream request's authority to the chosen
   * host's hostname (`rewrite` cannot, the host is not picked yet). Absent means false.
   */
  readonly autoHostRewrite?: boolean;
}

/** A matched route, compiled. */
export interface RouteEntry {
  readonly name: string;
  readonly virtualHostName: string;
  readonly source: model.Route;
  /** Exactly one of `action`, `redirect`, `directResponse`. */
  readonly action: CompiledRouteAction | undefined;
  /** The redirect for this request: status and `location`. */
  readonly redirect: ((request: RequestHead) => { status: number; location: string }) | undefined;
  readonly directResponse: { readonly status: number; readonly body: Buffer | undefined } | undefined;
  /** Per-filter overrides by filter name, most specific first resolved: route › virtual host › route configuration. */
  readonly perFilterConfig: ReadonlyMap<string, model.FilterConfigOverride>;
  /** The CORS policy in effect: the route's, else the virtual host's. */
  readonly cors: model.CorsPolicy | undefined;
  /**
   * Request header changes (route, then virtual host, then route configuration, as Envoy orders
   * them). `connection` feeds `%DOWNSTREAM_...%` values; without it they format as empty.
   */
  applyRequestHeaders(request: RequestHead, choice: ClusterChoice | null, connection?: ConnectionInfo): void;
  /** Response header changes, same order; `request` feeds `%REQ(...)%` values, `connection` `%DOWNSTREAM_...%`. */
  applyResponseHeaders(
    response: ResponseHead,
    choice: ClusterChoice | null,
    request?: RequestHead,
    connection?: ConnectionInfo,
  ): void;
}

// ── clusters ─────────────────────────────────────────────────────────────────────────────────

/** How a request to a host ended, for outlier detection. */
export type UpstreamOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'connect-failed' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'reset' };

/** The HTTP protocol to speak to a host for one request. */
export type UpstreamProtocol = 'http1' | 'http2';

/** A cluster as the router uses it. */
export interface UpstreamCluster {
  readonly name: string;
  readonly config: model.Cluster;
  /** Circuit breaker thresholds of one routing priority. */
  limits(priority: 'default' | 'high'): PriorityResourceLimits;
  /** A host from the load balancer, or `null` when none is available. */
  pick(context: PickContext): Host | null;
  /** The undici dispatcher (a kept-alive pool) for a host, for this protocol. */
  dispatcher(host: Host, protocol: UpstreamProtocol): Dispatcher;
  /** The protocol to use upstream, given the downstream one (`upstreamHttpProtocolOptions`). */
  protocolFor(downstream: DownstreamProtocol | (string & {})): UpstreamProtocol;
  /** Feed outlier detection. */
  report(host: Host, outcome: UpstreamOutcome): void;
  /** Where every data path (HTTP router, RPC proxy, TCP proxy) records this cluster's upstream stats. */
  readonly stats: UpstreamStats;
}

/** All clusters of a config version; unchanged clusters keep their pools, health and outlier state across `update`. */
export interface ClusterManager {
  get(name: string): UpstreamCluster | undefined;
  update(
    clusters: ReadonlyMap<string, model.Cluster>,
    endpoints: ReadonlyMap<string, model.ClusterLoadAssignment>,
  ): void;
  /** Closes every pool and stops health checks and DNS refreshes. */
  close(): Promise<void>;
}

// ── the router filter ────────────────────────────────────────────────────────────────────────

/**
 * One request as the connection manager hands it to the router filter once the chain's request
 * hooks have run: the body to send upstream and the response to write downstream. The connection
 * manager implements it for HTTP/1 and HTTP/2 (and the RPC proxy for its frames).
 */
export interface DownstreamStream {
  readonly ctx: HttpContext;
  /** The request body: a stream, a buffer (after `readBody`), or `null` when there is none. */
  readonly body: Readable | Buffer | null;
  /** HTTP/1.1 `Upgrade` (WebSocket...): the raw client socket and the bytes read past the head. */
  readonly upgrade: { readonly socket: Duplex; readonly head: Buffer } | null;
  /**
   * Begin the response: the response hooks run (they may change the head, or replace it with a
   * local reply), then the head is sent. `proceed(true)`: send the body with `write`/`end`;
   * `proceed(false)`: a filter replied instead, drop the upstream response.
   */
  respond(head: ResponseHead, proceed: (send: boolean) => void): void;
  /** A body chunk; `false`: wait for the `onDrain` callback before writing more. */
  write(chunk: Buffer): boolean;
  /** Called when the downstream can take more after `write` returned false. */
  onDrain(callback: () => void): void;
  /** Ends the response, with trailers on HTTP/2 (gRPC status). */
  end(trailers?: HeaderMap): void;
  /** Resets the stream: a failure after the head went out (HTTP/1: the socket is destroyed). */
  reset(): void;
  /** Called once if the client goes away before the response ended. */
  onAbort(callback: () => void): void;
}

/** The router filter: always last, forwards what the chain let through. */
export interface RouterFilter {
  /**
   * Serve a stream: 404 when no route matched, a redirect or direct response, or the upstream
   * request (with retries, timeouts, mirrors and upgrades) streamed back through `stream`.
   */
  handle(stream: DownstreamStream): void;
}

// ── network filters (L4): the TCP proxy and the RPC proxy ───────────────────────────────────

/** A downstream connection as a network filter sees it. */
export interface NetworkConnection {
  readonly info: ConnectionInfo;
  /** True once the listener drains: finish what is in flight, take no new requests, then close. */
  readonly draining: boolean;
  /**
   * The handler of this connection's filter chain in the config version now in effect, or
   * `null` when the chain is gone. Long-lived connections (RPC) re-resolve it per request, so a
   * config update applies without reconnecting; requests in flight finish on their own version.
   */
  current(): ConnectionHandler | null;
  /** Called once when the listener starts draining (removed by an update, or `drain()`). */
  onDrain(callback: () => void): void;
  /**
   * What the whole connection did, for the chain's observer (TCP access logs are per
   * connection). The listener creates it and, when the socket closes, sets `bytesReceived` /
   * `bytesSent` from the socket and `endTime`, then calls the observer's `connectionClosed`
   * once (as it calls `connectionOpened` when it hands the socket over): handlers never call
   * those two. A handler fills the rest before the socket closes (the TCP proxy: upstream
   * cluster and host, attempts, response flags). Absent when a handler runs outside a listener.
   */
  readonly streamInfo?: StreamInfo;
}

/**
 * The terminal network filter of a filter chain that does not speak HTTP: `tcp_proxy` or
 * `rpc_proxy`. One handler per filter chain and config version, compiled with the config (a bad
 * config throws a ConfigError at compile time). The listener tracks the socket: it counts it,
 * and destroys it when a drain times out.
 */
export interface ConnectionHandler {
  readonly kind: 'tcp' | 'rpc';
  /**
   * Takes over one accepted connection (TLS already terminated). Bytes the listener read while
   * sniffing the protocol were put back into `socket` with `unshift`. Attach the `'data'`
   * listener (or pause the socket) before returning: a sniffed socket is resumed for it.
   */
  handle(socket: Duplex, connection: NetworkConnection): void;
  /** Releases what this version holds that the next one does not reuse (called when retired). */
  destroy?(): void;
}

/** The RPC protocols a proxy knows, by name: the built-in `bolt` and `dubbo`, plus user ones. */
export type ProtocolRegistry = ReadonlyMap<string, Protocol>;

// ── observability ────────────────────────────────────────────────────────────────────────────

/** A filter chain as observers (stats, access logs, tracing) see it. */
export interface ObservedChain {
  readonly listenerName: string;
  readonly chainName: string;
  readonly kind: 'http' | 'tcp' | 'rpc';
  /** The network filter's `stat_prefix`. */
  readonly statPrefix: string;
  /** The terminal network filter's config: access logs and tracing settings live there. */
  readonly filter: model.NetworkFilter;
}

/**
 * Sees the connections and streams of one filter chain (one per chain and config version).
 * Every call is synchronous and cheap: it records into memory, and anything slow (writing a
 * log, exporting) happens later, batched. Implementations never throw into the data path.
 */
export interface StreamObserver {
  /** A connection was accepted on this chain. */
  connectionOpened(connection: ConnectionInfo): void;
  /**
   * The connection closed. `info` covers the whole connection: bytes both ways, and for a TCP
   * proxy its upstream cluster and host and response flags (TCP access logs are per connection).
   */
  connectionClosed(connection: ConnectionInfo, info: StreamInfo): void;
  /**
   * A request's head is complete (HTTP request, RPC request frame), before the filter chain:
   * an observer may read and add request headers here (trace context, `x-request-id`).
   */
  streamStarted(ctx: HttpContext): void;
  /** The stream is over; `ctx.info` is final and `ctx.response` is what was sent (`null` if nothing). */
  streamEnded(ctx: HttpContext): void;
}

/**
 * Builds the observers of a config version. The proxy composes those it has (stats, access
 * logs, tracing); `null` means this factory does not watch that chain.
 */
export interface ObserverFactory {
  forChain(chain: ObservedChain): StreamObserver | null;
}

/**
 * Envoy's `cluster.<name>.upstream_*` events, recorded by whichever data path used the cluster.
 * Synchronous and allocation-free; a no-op unless stats are on.
 */
export interface UpstreamStats {
  /** A request (HTTP request, RPC request) went to `host`: `upstream_rq_total`, `upstream_rq_active`. */
  requestStarted(host: Host): void;
  /**
   * It ended: `upstream_rq_<status>` and `upstream_rq_<class>xx` (RPC maps its statuses to HTTP
   * ones as outlier detection does), `upstream_rq_time`, `upstream_rq_active`. Called once per
   * `requestStarted`.
   */
  requestEnded(host: Host, outcome: UpstreamOutcome, durationMs: number): void;
  /** `upstream_rq_retry`. */
  retry(): void;
  /** `upstream_rq_pending_overflow`: a circuit breaker limit refused the request. */
  overflow(): void;
  /** `upstream_rq_timeout` (`perTry`: `upstream_rq_per_try_timeout`). */
  timeout(perTry: boolean): void;
  /** `upstream_cx_total`, `upstream_cx_active` (connections the proxy opens itself: TCP and RPC). */
  connectionOpened(host: Host): void;
  /** `upstream_cx_connect_fail`. */
  connectionFailed(host: Host): void;
  /** `upstream_cx_destroy`, `upstream_cx_active`. */
  connectionClosed(host: Host): void;
  /**
   * `upstream_cx_overflow`: the cluster's `max_connections` refused a connection the proxy
   * would have opened itself (TCP proxy). Optional: absent, nothing is recorded.
   */
  connectionOverflow?(): void;
}
