// One RPC request frame as a stream: the HttpContext the HTTP filter chain runs on, then the RPC
// router (route, cluster, circuit breaker, host, retries) and the response written back with the
// downstream's request id. MOSN's XProtocol stream, with Envoy's filter and router semantics.
import type { PriorityResourceLimits } from '@meshlet/breaker';
import type { RpcFrame } from '@meshlet/codec';
import type { Host, MetadataValue, PickContext } from '@meshlet/lb';
import type { ChainLink, ChainStream, FilterChainPlan } from '../filters/chain.js';
import { runCompleteHooks, runRequestHooks, runResponseHooks } from '../filters/chain.js';
import { StreamInfoImpl } from '../http/stream-info.js';
import type {
  ConnectionInfo,
  HeaderMap,
  HttpContext,
  RequestHead,
  ResponseHead,
  RouteEntry,
  UpstreamCluster,
  UpstreamOutcome,
} from '../types.js';
import type { RpcConnection, RpcProxyHandler } from './handler.js';
import type { RpcRouteEntry } from './routes.js';
import { replyStatusOf } from './status.js';
import type { RpcFailure, RpcRequestHandle, RpcResponseHandler } from './types.js';

const REQUEST = 0;
const FORWARDED = 1;
const RESPONDING = 2;
const DONE = 3;

const OUTCOME_CONNECT_FAILED: UpstreamOutcome = { kind: 'connect-failed' };
const OUTCOME_RESET: UpstreamOutcome = { kind: 'reset' };
const OUTCOME_TIMEOUT: UpstreamOutcome = { kind: 'timeout' };
const OUTCOME_OK: UpstreamOutcome = { kind: 'response', status: 200 };
const OUTCOME_OVERFLOW: UpstreamOutcome = { kind: 'response', status: 503 };

/** A header map built from a frame's headers on first access. */
function headerMapOf(headers: Map<string, string>): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of headers) out[name.toLowerCase()] = value;
  return out;
}

/**
 * The request head of an RPC frame: `authority` is the service, `method` the RPC method, `path`
 * `/service/method`, `scheme` the protocol's name; `headers` the frame's header map (names
 * lower-cased), built on first access.
 */
export class RpcRequestHead implements RequestHead {
  scheme: string;
  authority: string;
  private readonly frame: RpcFrame;
  private map: HeaderMap | null = null;
  private changed = false;
  // The method and path are read on first use: a protocol may find the method in the body
  // (Bolt's Hessian SofaRequest), which routes without a method matcher never need.
  private rpcMethod: string | null = null;
  private rpcPath: string | null = null;

  constructor(frame: RpcFrame) {
    this.frame = frame;
    this.scheme = frame.protocol;
    this.authority = frame.service;
  }

  get method(): string {
    return (this.rpcMethod ??= this.frame.method);
  }

  set method(value: string) {
    this.rpcMethod = value;
  }

  get path(): string {
    return (this.rpcPath ??= `/${this.authority}/${this.method}`);
  }

  set path(value: string) {
    this.rpcPath = value;
  }

  get headers(): HeaderMap {
    return (this.map ??= headerMapOf(this.frame.headers));
  }

  /**
   * Writes the filters' header changes into the frame's header map, so the request goes upstream
   * with them. True once any header was changed (the frame must then be encoded whole). A map
   * nobody read is unchanged; names are compared lower-cased, several values joined with `, `.
   */
  syncHeaders(): boolean {
    const map = this.map;
    if (map === null) return this.changed;
    const headers = this.frame.headers;
    // The frame's own spelling of each name, by its lower-cased form.
    const spelled = new Map<string, string>();
    for (const [name] of headers) spelled.set(name.toLowerCase(), name);
    for (const [lower, name] of spelled) {
      if (map[lower] === undefined) {
        headers.delete(name);
        this.changed = true;
      }
    }
    for (const lower in map) {
      const value = map[lower];
      if (value === undefined) continue;
      const text = typeof value === 'string' ? value : value.join(', ');
      const name = spelled.get(lower) ?? lower;
      if (headers.get(name) !== text) {
        headers.set(name, text);
        this.changed = true;
      }
    }
    return this.changed;
  }
}

/** A response head: an HTTP-like status and the response frame's headers, built on first access. */
class RpcResponseHead implements ResponseHead {
  status: number;
  private readonly source: Map<string, string> | null;
  private map: HeaderMap | null;

  constructor(status: number, source: Map<string, string> | null, headers: HeaderMap | null) {
    this.status = status;
    this.source = source;
    this.map = headers;
  }

  get headers(): HeaderMap {
    return (this.map ??= this.source === null ? {} : headerMapOf(this.source));
  }
}

/** The load balancer's context for one pick: one shared object (picks are synchronous). */
class PickScratch implements PickContext {
  readonly hash = null;
  metadataMatch: Readonly<Record<string, MetadataValue>> | undefined = undefined;
  tried: readonly Host[] = [];
  readonly shouldSelectAnotherHost = (host: Host): boolean => this.tried.includes(host);
}
const PICK = new PickScratch();
const NO_HOSTS: readonly Host[] = [];

/** One request frame through the filter chain and the RPC router. */
export class RpcStream implements ChainStream, HttpContext, RpcResponseHandler {
  readonly request: RpcRequestHead;
  response: ResponseHead | null = null;
  readonly info: StreamInfoImpl;
  readonly plan: FilterChainPlan;
  readonly filterConfigs: unknown[];
  /** RPC requests are never gRPC ones. */
  readonly isGrpc = false;
  /** RPC routes are not HTTP routes: filters see `null` and their chain-level config. */
  readonly route: RouteEntry | null = null;
  requestIndex = 0;
  responseIndex = -1;
  aborted = false;
  replied = false;
  readonly frame: RpcFrame;
  readonly handler: RpcProxyHandler;
  readonly conn: RpcConnection;
  /** The request id the downstream used: every frame written back carries it. */
  readonly downstreamId: number;
  /** Links of the connection's list of streams in flight. */
  prev: RpcStream | null = null;
  next: RpcStream | null = null;
  private phase = REQUEST;
  private id: string | null = null;
  private stateMap: Map<string | symbol, unknown> | null = null;
  private localMessage: string | undefined = undefined;
  private upstreamResponse: RpcFrame | null = null;
  private rpcRoute: RpcRouteEntry | null = null;
  private cluster: UpstreamCluster | null = null;
  private limits: PriorityResourceLimits | null = null;
  private host: Host | null = null;
  private tried: Host[] | null = null;
  private handle: RpcRequestHandle | null = null;
  private attemptStart = 0;
  private timeoutMs = 0;
  private retriesLeft = 0;

  constructor(handler: RpcProxyHandler, conn: RpcConnection, frame: RpcFrame) {
    this.handler = handler;
    this.conn = conn;
    this.frame = frame;
    this.downstreamId = frame.requestId;
    this.request = new RpcRequestHead(frame);
    this.plan = handler.plan;
    this.filterConfigs = new Array<unknown>(handler.plan.links.length);
    const env = handler.env;
    this.info = new StreamInfoImpl(env.now(), env.wallNow(), conn.info.remoteAddress);
    // A request frame arrives whole.
    this.info.requestCompleteTime = this.info.startTime;
    this.info.bytesReceived = frame.raw === null ? frame.body.length : frame.raw.length;
  }

  get connection(): ConnectionInfo {
    return this.conn.info;
  }

  get protocol(): string {
    return this.frame.protocol;
  }

  /** The frame's `x-request-id` header, else one generated on first access. */
  get requestId(): string {
    if (this.id === null) {
      const own = this.frame.headers.get('x-request-id');
      this.id = own !== undefined && own !== '' ? own : this.handler.env.requestId();
    }
    return this.id;
  }

  clearRouteCache(): void {
    // The RPC route is matched after the request hooks, from the request head as they left it.
  }

  get state(): Map<string | symbol, unknown> {
    return (this.stateMap ??= new Map());
  }

  get live(): boolean {
    return this.phase !== DONE && !this.aborted;
  }

  /** The RPC route matched for this request, once forwarded. */
  get rpcRouteEntry(): RpcRouteEntry | null {
    return this.rpcRoute;
  }

  /** Runs the filter chain, then the router. */
  start(): void {
    if (this.handler.env.overload?.stopAcceptingRequests === true) {
      this.info.responseFlags.add('OL');
      this.info.responseCodeDetails = 'overload';
      this.reply(503, 'envoy overloaded');
      return;
    }
    runRequestHooks(this, 0);
  }

  reply(status: number, body?: string | Buffer, headers?: HeaderMap): void {
    if (this.phase === DONE) return;
    this.cancelAttempt();
    this.replied = true;
    this.localMessage = body === undefined ? undefined : body.toString();
    this.response = new RpcResponseHead(status, null, headers ?? {});
    if (this.info.responseCodeDetails === '') this.info.responseCodeDetails = 'via_local_reply';
    if (this.phase === RESPONDING) return;
    this.phase = RESPONDING;
    this.responseIndex = this.requestIndex - 1;
    runResponseHooks(this);
  }

  readBody(limitBytes: number): Promise<Buffer | null> {
    const body = this.frame.body;
    if (body.length <= limitBytes) return Promise.resolve(body);
    this.reply(413, 'payload too large');
    return Promise.resolve(null);
  }

  hookFailed(error: unknown, link: ChainLink): void {
    this.handler.env.onError(error, `${this.handler.where}: http filter "${link.instanceName}"`);
    if (this.phase === DONE) return;
    this.info.responseCodeDetails = 'filter_error';
    this.reply(500, 'internal error');
  }

  // ── the router ─────────────────────────────────────────────────────────────────────────────

  forward(): void {
    this.phase = FORWARDED;
    const handler = this.handler;
    const route = handler.routes.match(this.request);
    if (route === null) {
      this.info.responseFlags.add('NR');
      this.info.responseCodeDetails = 'route_not_found';
      this.reply(404, `no route for ${this.request.authority}/${this.request.method}`);
      return;
    }
    this.rpcRoute = route;
    const name = route.cluster(handler.env.random());
    this.info.upstreamCluster = name;
    const cluster = handler.clusters.get(name);
    if (cluster === undefined) {
      this.info.responseFlags.add('NC');
      this.info.responseCodeDetails = 'cluster_not_found';
      this.reply(503, `cluster ${name} not found`);
      return;
    }
    const limits = cluster.limits('default');
    if (!limits.requests.tryAcquire()) {
      cluster.stats.overflow();
      this.info.responseFlags.add('UO');
      this.info.responseCodeDetails = 'upstream_overflow';
      this.reply(503, 'upstream overflow');
      return;
    }
    this.cluster = cluster;
    this.limits = limits;
    const frameTimeout = this.frame.timeout;
    this.timeoutMs = route.timeoutMs ?? (frameTimeout > 0 ? frameTimeout : handler.requestTimeoutMs);
    this.retriesLeft = route.retries;
    this.attempt();
  }

  private attempt(): void {
    const cluster = this.cluster as UpstreamCluster;
    const route = this.rpcRoute as RpcRouteEntry;
    PICK.metadataMatch = route.metadataMatch;
    PICK.tried = this.tried ?? NO_HOSTS;
    let host: Host | null;
    try {
      host = cluster.pick(PICK);
    } finally {
      PICK.metadataMatch = undefined;
      PICK.tried = NO_HOSTS;
    }
    if (host === null) {
      this.info.responseFlags.add('UH');
      this.info.responseCodeDetails = 'no_healthy_upstream';
      this.reply(503, 'no healthy upstream');
      return;
    }
    this.host = host;
    this.info.upstreamHost = host.key;
    this.info.attempts++;
    cluster.stats.requestStarted(host);
    const handler = this.handler;
    this.attemptStart = handler.env.now();
    const frame = this.frame;
    frame.requestId = this.downstreamId;
    const oneway = frame.kind === 'oneway';
    let options = oneway ? handler.onewayOptions(this.timeoutMs) : handler.requestOptions(this.timeoutMs);
    // A filter changed a header: the frame goes out encoded whole (rare; allocates).
    if (this.request.syncHeaders()) options = { ...options, reencode: true };
    this.handle = handler.upstreams.send(cluster, host, handler.protocol, frame, options, this);
    if (oneway) {
      // Nothing comes back: the request is done once handed over.
      this.handle = null;
      cluster.stats.requestEnded(host, OUTCOME_OK, 0);
      this.complete();
    }
  }

  onResponse(response: RpcFrame): void {
    this.handle = null;
    const now = this.handler.env.now();
    this.info.firstUpstreamByteTime = now;
    const cluster = this.cluster as UpstreamCluster;
    const host = this.host as Host;
    const status = this.handler.statuses.httpStatus(response);
    // Outcomes are read-only values: the common one is shared, not allocated per response.
    const outcome: UpstreamOutcome = status === 200 ? OUTCOME_OK : { kind: 'response', status };
    cluster.report(host, outcome);
    cluster.stats.requestEnded(host, outcome, now - this.attemptStart);
    if (!this.live || this.phase !== FORWARDED) return;
    this.upstreamResponse = response;
    this.response = new RpcResponseHead(status, response.headers, null);
    this.phase = RESPONDING;
    this.responseIndex = this.requestIndex - 1;
    runResponseHooks(this);
  }

  onFailure(failure: RpcFailure, message: string): void {
    this.handle = null;
    const cluster = this.cluster as UpstreamCluster;
    const host = this.host as Host;
    const elapsed = this.handler.env.now() - this.attemptStart;
    const info = this.info;
    switch (failure) {
      case 'connect-failed':
        cluster.report(host, OUTCOME_CONNECT_FAILED);
        cluster.stats.requestEnded(host, OUTCOME_CONNECT_FAILED, elapsed);
        break;
      case 'reset':
        cluster.report(host, OUTCOME_RESET);
        cluster.stats.requestEnded(host, OUTCOME_RESET, elapsed);
        break;
      case 'timeout':
        cluster.report(host, OUTCOME_TIMEOUT);
        cluster.stats.requestEnded(host, OUTCOME_TIMEOUT, elapsed);
        cluster.stats.timeout(false);
        break;
      default:
        cluster.stats.overflow();
        cluster.stats.requestEnded(host, OUTCOME_OVERFLOW, elapsed);
    }
    if (!this.live || this.phase !== FORWARDED) return;
    if (failure !== 'overflow' && this.retriesLeft > 0) {
      this.retriesLeft--;
      cluster.stats.retry();
      (this.tried ??= []).push(host);
      this.attempt();
      return;
    }
    if (this.tried !== null) info.responseFlags.add('URX');
    switch (failure) {
      case 'connect-failed':
        info.responseFlags.add('UF');
        info.responseCodeDetails = 'upstream_connect_failure';
        this.reply(503, `upstream connect failure: ${message}`);
        return;
      case 'reset':
        info.responseFlags.add('UC');
        info.responseCodeDetails = 'upstream_reset_before_response_started';
        this.reply(503, `upstream reset: ${message}`);
        return;
      case 'timeout':
        info.responseFlags.add('UT');
        info.responseCodeDetails = 'upstream_response_timeout';
        this.reply(504, 'upstream request timeout');
        return;
      default:
        info.responseFlags.add('UO');
        info.responseCodeDetails = 'upstream_overflow';
        this.reply(503, 'upstream overflow');
    }
  }

  /** The response hooks are done: write the upstream response, or the local reply, downstream. */
  sendResponse(): void {
    const conn = this.conn;
    if (this.replied) {
      const frame = this.frame;
      frame.requestId = this.downstreamId;
      const status = (this.response as ResponseHead).status;
      const reply = this.handler.protocol.errorReply(frame, replyStatusOf(status), this.localMessage);
      reply.requestId = this.downstreamId;
      this.info.bytesSent = conn.write(conn.codec.encode(reply));
    } else {
      const response = this.upstreamResponse as RpcFrame;
      this.info.bytesSent = conn.write(conn.codec.withRequestId(response, this.downstreamId));
    }
    this.complete();
  }

  /** The downstream connection went away with this request in flight. */
  abort(): void {
    if (this.phase === DONE) return;
    this.aborted = true;
    this.info.responseFlags.add('DC');
    this.cancelAttempt();
    this.complete();
  }

  private cancelAttempt(): void {
    const handle = this.handle;
    if (handle === null) return;
    this.handle = null;
    handle.cancel();
    (this.cluster as UpstreamCluster).stats.requestEnded(
      this.host as Host,
      OUTCOME_RESET,
      this.handler.env.now() - this.attemptStart,
    );
  }

  private complete(): void {
    if (this.phase === DONE) return;
    this.phase = DONE;
    this.info.endTime = this.handler.env.now();
    if (this.limits !== null) {
      this.limits.requests.release();
      this.limits = null;
    }
    runCompleteHooks(this, (error, link) => {
      this.handler.env.onError(error, `${this.handler.where}: http filter "${link.instanceName}" onComplete`);
    });
    this.handler.streamEnded(this);
    this.conn.streamDone(this);
  }
}
