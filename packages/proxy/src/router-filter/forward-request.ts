import type { PriorityResourceLimits } from '@meshlet/breaker';
import type { Host, MetadataValue, PickContext } from '@meshlet/lb';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type {
  ClusterChoice,
  CompiledRetryPolicy,
  CompiledRouteAction,
  ConnectionInfo,
  DownstreamStream,
  HeaderMap,
  HttpContext,
  MatchInput,
  RequestHead,
  ResponseFlag,
  ResponseHead,
  RouteEntry,
  UpstreamCluster,
  UpstreamOutcome,
  UpstreamProtocol,
  UpstreamStats,
} from '../types.js';
import { parseGrpcTimeout, upstreamHeaders, withoutHopByHop } from './headers.js';
import type { RequestBodyOwner } from './request-body.js';
import { AttemptBody, RequestBody } from './request-body.js';
import { RequestTimer, TimerKind } from './timers.js';
import type { TimerOwner } from './timers.js';
import { Tunnel } from './tunnel.js';
import type { TunnelOwner } from './tunnel.js';
import type { ForwardingRouterFilter } from './router-filter.js';

// ── local replies: Envoy's bodies and details ───────────────────────────────────────────────

const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers. reset reason: ';

/** Why an attempt failed before its response head. */
type Failure = 'connect-failure' | 'reset' | 'refused-stream';

const OUTCOME_CONNECT_FAILED: UpstreamOutcome = { kind: 'connect-failed' };
const OUTCOME_TIMEOUT: UpstreamOutcome = { kind: 'timeout' };
const OUTCOME_RESET: UpstreamOutcome = { kind: 'reset' };

/** Response outcomes by status, made once: reporting allocates nothing per request. */
const RESPONSE_OUTCOMES: UpstreamOutcome[] = [];
for (let status = 100; status < 600; status++) RESPONSE_OUTCOMES[status] = { kind: 'response', status };
/** The outcome of a response with this status. */
export function responseOutcome(status: number): UpstreamOutcome {
  return RESPONSE_OUTCOMES[status] ?? { kind: 'response', status };
}

/** Error codes undici and Node give when no connection could be made. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CONNECT',
]);

/** Error codes undici gives for an upstream response it cannot parse (its parser's errors carry none). */
const PROTOCOL_ERRORS = new Set(['UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/** An upstream that answered, but not in HTTP: Envoy's `protocol error` reset reason (UPE). */
function isProtocolError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return error.name === 'HTTPParserError' || (typeof code === 'string' && PROTOCOL_ERRORS.has(code));
}

function classify(error: Error, requestStarted: boolean): Failure {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONNECT_ERRORS.has(code)) return 'connect-failure';
    if (code === 'ERR_HTTP2_STREAM_ERROR' && error.message.includes('REFUSED_STREAM'))
      return 'refused-stream';
  }
  // Not yet written to a connection: the connection never came.
  return requestStarted ? 'reset' : 'connect-failure';
}

/** The reason undici is given when the router aborts an attempt. */
class AttemptAborted extends Error {
  constructor(reason: string) {
    super(`meshlet router: upstream attempt aborted (${reason})`);
    this.name = 'AttemptAborted';
  }
}
const ABORT_CANCELLED = new AttemptAborted('cancelled');
const ABORT_RETRY = new AttemptAborted('retriable response');
const ABORT_TIMEOUT = new AttemptAborted('timeout');
const ABORT_DOWNSTREAM = new AttemptAborted('downstream went away');

// ── host selection without a closure per request ────────────────────────────────────────────

/** Hosts already tried by the request picking now: `pick()` is synchronous, so one slot serves all. */
let previousHosts: readonly Host[] = [];
function isPreviousHost(host: Host): boolean {
  return previousHosts.includes(host);
}

/** The one pick context, refilled before every pick (same reason). */
class PickScratch implements PickContext {
  hash: bigint | null = null;
  shouldSelectAnotherHost: ((host: Host) => boolean) | undefined = undefined;
  hostSelectionRetryCount = 0;
  metadataMatch: Readonly<Record<string, MetadataValue>> | undefined = undefined;
}
const PICK = new PickScratch();

/** A response head the router builds from an upstream response. */
class UpstreamHead implements ResponseHead {
  status: number;
  readonly headers: HeaderMap;
  constructor(status: number, headers: HeaderMap) {
    this.status = status;
    this.headers = headers;
  }
}

const Phase = {
  /** Waiting for an upstream response head (attempts, retries). */
  waiting: 0,
  /** The head went to `stream.respond`; the response hooks are running. */
  responding: 1,
  /** Streaming the body downstream. */
  streaming: 2,
  /** Upgraded: bytes piped both ways. */
  tunnel: 3,
  /** Over: replied, ended, reset or aborted. */
  done: 4,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

const RETRY = 0;
const NO_RETRY_EXHAUSTED = 1;
const NO_RETRY_OVERFLOW = 2;
const NO_RETRY = 3;
type RetryDecision = typeof RETRY | typeof NO_RETRY_EXHAUSTED | typeof NO_RETRY_OVERFLOW | typeof NO_RETRY;

/**
 * One upstream attempt: the undici dispatch handler. One object per attempt, every field set in
 * the constructor; callbacks of an attempt the request gave up on are ignored.
 */
export class Attempt implements Dispatcher.DispatchHandler {
  readonly request: ForwardRequest;
  readonly host: Host;
  readonly startTime: number;
  controller: Dispatcher.DispatchController | null = null;
  /** The request was written to a connection (`onRequestStart`). */
  started = false;
  /** A response head arrived. */
  responded = false;
  /** Released: ended, failed or cancelled. Later callbacks are ignored. */
  finished = false;
  /** Why the router aborted it, if it did. */
  abortReason: Error | null = null;
  /** Holds a `pendingRequests` unit until the request is on a connection. */
  pendingHeld = true;
  /** Clock time of the last byte from upstream. */
  lastActivity: number;
  body: AttemptBody | null;
  /** The cluster's stats, told once when the attempt is released. */
  readonly stats: UpstreamStats;
  /** How it ended, for stats: set on a response head, a failure or a timeout; a reset when none. */
  outcome: UpstreamOutcome | null = null;

  constructor(
    request: ForwardRequest,
    host: Host,
    body: AttemptBody | null,
    now: number,
    stats: UpstreamStats,
  ) {
    this.request = request;
    this.host = host;
    this.startTime = now;
    this.lastActivity = now;
    this.body = body;
    this.stats = stats;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.started = true;
    this.#releasePending();
    if (this.abortReason !== null) controller.abort(this.abortReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (this.finished) return;
    this.controller = controller;
    this.responded = true;
    this.outcome = responseOutcome(statusCode);
    this.request.onAttemptHead(this, statusCode, headers, statusMessage ?? '');
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    this.request.onAttemptData(this, controller, chunk);
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.finished) return;
    this.request.onAttemptEnd(this, trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.finished) return;
    this.request.onAttemptError(this, error);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    socket: Duplex,
  ): void {
    if (this.finished) {
      socket.destroy();
      return;
    }
    this.controller = controller;
    this.responded = true;
    this.outcome = responseOutcome(statusCode);
    this.request.onAttemptUpgrade(this, statusCode, headers, socket);
  }

  /** Releases the attempt's resources (once). */
  finish(limits: PriorityResourceLimits): void {
    if (this.finished) return;
    this.finished = true;
    this.#releasePending(limits);
    limits.requests.release();
    this.host.activeRequests--;
    if (this.body !== null && !this.body.destroyed) this.body.destroy();
    this.body = null;
    this.stats.requestEnded(
      this.host,
      this.outcome ?? OUTCOME_RESET,
      this.request.filter.now() - this.startTime,
    );
  }

  /** Aborts the upstream request and releases the attempt. */
  cancel(limits: PriorityResourceLimits, reason: Error): void {
    if (this.finished) return;
    this.abortReason = reason;
    this.finish(limits);
    // Before `onRequestStart` there is no controller yet: it aborts as soon as it gets one.
    if (this.controller !== null) this.controller.abort(reason);
  }

  #releasePending(limits: PriorityResourceLimits = this.request.limits): void {
    if (!this.pendingHeld) return;
    this.pendingHeld = false;
    limits.pendingRequests.release();
  }
}

/**
 * One downstream request forwarded upstream: host selection, admission, attempts, retries with
 * backoff, timeouts, mirrors, upgrades and the response streamed back with backpressure.
 */
export class ForwardRequest implements MatchInput, TimerOwner, RequestBodyOwner, TunnelOwner {
  readonly filter: ForwardingRouterFilter;
  readonly stream: DownstreamStream;
  readonly ctx: HttpContext;
  readonly request: RequestHead;
  readonly connection: ConnectionInfo;
  route: RouteEntry | null = null;
  action: CompiledRouteAction | null = null;
  choice: ClusterChoice | null = null;
  cluster: UpstreamCluster | null = null;
  // Set in `start()` before any use; the placeholder keeps the shape fixed.
  limits: PriorityResourceLimits = PLACEHOLDER_LIMITS;
  policy: CompiledRetryPolicy | undefined = undefined;
  protocol: UpstreamProtocol = 'http1';
  dispatcher: Dispatcher | null = null;
  phase: Phase = Phase.waiting;
  attempt: Attempt | null = null;
  attempts = 0;
  readonly triedHosts: Host[] = [];
  hash: bigint | null = null;
  /** A `retries` unit held for the retry in progress. */
  retryHeld = false;
  /** The request body: streamed (replay-buffered), a buffer, or none. */
  body: RequestBody | Buffer | null = null;
  globalTimeoutMs = 0;
  lastActivity = 0;
  /** Mirrors drawn for this request, sent once the body is complete. */
  mirrors: string[] | null = null;
  upgradeType: string | null = null;
  /** The upstream socket of a 101, while the response hooks run. */
  upgradedSocket: Duplex | null = null;
  tunnel: Tunnel | null = null;
  // The response while the response hooks run: chunks that arrived meanwhile, and its end.
  queued: Buffer[] | null = null;
  ended = false;
  trailers: HeaderMap | null = null;
  waitingDrain = false;
  #globalTimer: RequestTimer | null = null;
  #perTryTimer: RequestTimer | null = null;
  #perTryIdleTimer: RequestTimer | null = null;
  #idleTimer: RequestTimer | null = null;
  #backoffTimer: RequestTimer | null = null;
  // Callbacks the stream API takes as functions: bound once, on first need.
  #proceedFn: ((send: boolean) => void) | null = null;
  #drainFn: (() => void) | null = null;

  constructor(filter: ForwardingRouterFilter, stream: DownstreamStream) {
    this.filter = filter;
    this.stream = stream;
    this.ctx = stream.ctx;
    this.request = stream.ctx.request;
    this.connection = stream.ctx.connection;
  }

  /** For weighted clusters and mirrors. */
  random(): number {
    return this.filter.random();
  }

  /** Serves the stream. */
  start(): void {
    const ctx = this.ctx;
    if (ctx.aborted || ctx.replied) {
      this.phase = Phase.done;
      return;
    }
    const route = ctx.route;
    const stats = this.filter.stats;
    if (route === null) {
      stats.noRoute++;
      this.#localReply(404, undefined, 'NR', 'route_not_found');
      return;
    }
    this.route = route;
    const direct = route.directResponse;
    if (direct !== undefined) {
      this.#localReply(direct.status, direct.body, null, 'direct_response');
      return;
    }
    if (route.redirect !== undefined) {
      const { status, location } = route.redirect(this.request);
      this.ctx.info.responseCodeDetails = 'direct_response';
      this.phase = Phase.done;
      ctx.reply(status, undefined, { location });
      return;
    }
    const action = route.action;
    if (action === undefined) {
      stats.noRoute++;
      this.#localReply(404, undefined, 'NR', 'route_not_found');
      return;
    }
    this.action = action;
    // A missing cluster header gives an empty cluster name in Envoy: "cluster not found" too.
    const choice = action.selectCluster(this);
    const cluster = choice === null ? undefined : this.filter.clusters.get(choice.name);
    if (choice === null || cluster === undefined) {
      stats.noCluster++;
      this.#localReply(503, undefined, 'NC', 'cluster_not_found');
      return;
    }
    this.choice = choice;
    this.cluster = cluster;
    ctx.info.upstreamCluster = cluster.name;
    this.limits = cluster.limits(action.priority);
    this.policy = action.retryPolicy;
    this.protocol = cluster.protocolFor(ctx.protocol);

    const upgrade = this.stream.upgrade;
    if (upgrade !== null) {
      const header = this.request.headers.upgrade;
      const type = (typeof header === 'string' ? header : 'websocket').toLowerCase();
      if (action.upgrades.get(type) === false) {
        this.#localReply(403, undefined, null, 'upgrade_failed');
        return;
      }
      this.upgradeType = type;
    }

    // Envoy's order: header changes (weighted cluster's, then route's...), then rewrites.
    const request = this.request;
    route.applyRequestHeaders(request, choice, this.connection);
    action.rewrite(request);
    this.hash = action.hash(request, this.connection);

    this.globalTimeoutMs = this.#globalTimeout(action);
    const suppress = this.filter.suppressEnvoyHeaders;
    if (!suppress) {
      const expected =
        this.policy?.perTryTimeoutMs !== undefined && this.policy.perTryTimeoutMs > 0
          ? Math.min(this.policy.perTryTimeoutMs, this.globalTimeoutMs || Infinity)
          : this.globalTimeoutMs;
      if (expected > 0) request.headers['x-envoy-expected-rq-timeout-ms'] = String(expected);
    }

    this.stream.onAbort(this.#downstreamAborted.bind(this));

    const now = this.filter.now();
    this.lastActivity = now;
    const body = this.stream.body;
    let complete = true;
    if (body === null || Buffer.isBuffer(body)) {
      this.body = body;
      ctx.info.bytesReceived = body === null ? 0 : body.length;
    } else {
      this.body = new RequestBody(body, this, this.filter.retryBufferLimitBytes);
      complete = false;
    }
    if (action.idleTimeoutMs !== undefined && action.idleTimeoutMs > 0) {
      this.#idleTimer = new RequestTimer(this, TimerKind.idle);
      this.filter.wheel.schedule(this.#idleTimer, action.idleTimeoutMs);
    }
    if (action.mirrors.length > 0 && upgrade === null) this.#drawMirrors(action);
    this.#attempt();
    // Envoy starts the route timeout once the downstream request is complete; mirrors go after
    // the main request, and not at all when it could not be sent (no host, overflow).
    if (complete) this.onRequestEnd();
  }

  // ── attempts ──────────────────────────────────────────────────────────────────────────────

  #attempt(): void {
    const cluster = this.cluster as UpstreamCluster;
    const limits = this.limits;
    const stats = this.filter.stats;
    if (!limits.requests.tryAcquire()) {
      stats.overflow++;
      cluster.stats.overflow();
      this.#overflow();
      return;
    }
    const host = this.#pick(cluster);
    if (host === null) {
      limits.requests.release();
      stats.noHealthyUpstream++;
      this.#localReply(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
      return;
    }
    if (!limits.pendingRequests.tryAcquire()) {
      limits.requests.release();
      stats.overflow++;
      cluster.stats.overflow();
      this.#overflow();
      return;
    }
    let body: Buffer | AttemptBody | null;
    const source = this.body;
    if (source instanceof RequestBody) {
      body = source.attach();
      if (body === null) {
        // Cannot happen for a first attempt; a retry checks `replayable` before.
        limits.pendingRequests.release();
        limits.requests.release();
        this.#localReply(
          503,
          RESET_BEFORE_HEADERS + 'connection termination',
          'UC',
          'upstream_reset_before_response_started{connection termination}',
        );
        return;
      }
    } else {
      body = source;
    }
    const now = this.filter.now();
    const attempt = new Attempt(this, host, body instanceof AttemptBody ? body : null, now, cluster.stats);
    this.attempt = attempt;
    this.attempts++;
    this.triedHosts.push(host);
    host.activeRequests++;
    cluster.stats.requestStarted(host);
    stats.upstreamRequests++;
    const info = this.ctx.info;
    info.attempts = this.attempts;
    info.upstreamHost = host.key;

    const request = this.request;
    const headers = request.headers;
    if ((this.action as CompiledRouteAction).autoHostRewrite === true) {
      const hostname = host.hostname; // the endpoint's hostname, else its DNS name (src/cluster)
      if (hostname !== undefined) request.authority = hostname;
    }
    headers.host = request.authority;
    if (this.policy !== undefined && !this.filter.suppressEnvoyHeaders) {
      headers['x-envoy-attempt-count'] = String(this.attempts);
    }
    const http2 = this.protocol === 'http2';
    if (http2 && this.ctx.isGrpc && headers.te === undefined) headers.te = 'trailers';

    const policy = this.policy;
    if (policy !== undefined) {
      const wheel = this.filter.wheel;
      if (policy.perTryTimeoutMs !== undefined && policy.perTryTimeoutMs > 0) {
        this.#perTryTimer ??= new RequestTimer(this, TimerKind.perTry);
        wheel.schedule(this.#perTryTimer, policy.perTryTimeoutMs);
      }
      if (policy.perTryIdleTimeoutMs !== undefined && policy.perTryIdleTimeoutMs > 0) {
        this.#perTryIdleTimer ??= new RequestTimer(this, TimerKind.perTryIdle);
        wheel.schedule(this.#perTryIdleTimer, policy.perTryIdleTimeoutMs);
      }
    }

    const dispatcher = cluster.dispatcher(host, this.protocol);
    this.dispatcher = dispatcher;
    try {
      dispatcher.dispatch(
        {
          path: request.path,
          method: request.method,
          headers: upstreamHeaders(headers, http2) as NonNullable<Dispatcher.DispatchOptions['headers']>,
          body,
          upgrade: this.upgradeType,
          // The router's own timers govern (route, per-try, idle); undici's would cut gRPC streams.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        attempt,
      );
    } catch (error) {
      // undici refused the request itself (a header it cannot send): a protocol error, not a crash.
      attempt.finish(this.limits);
      this.attempt = null;
      this.filter.stats.upstreamProtocolErrors++;
      this.#localReply(
        502,
        RESET_BEFORE_HEADERS + 'protocol error',
        'UPE',
        `upstream_reset_before_response_started{protocol error: ${(error as Error).message}}`,
      );
    }
  }

  #pick(cluster: UpstreamCluster): Host | null {
    const policy = this.policy;
    PICK.hash = this.hash;
    PICK.metadataMatch = (this.choice as ClusterChoice).metadataMatch;
    if (policy !== undefined && policy.avoidPreviousHosts && this.triedHosts.length > 0) {
      previousHosts = this.triedHosts;
      PICK.shouldSelectAnotherHost = isPreviousHost;
      PICK.hostSelectionRetryCount = policy.hostSelectionRetryMaxAttempts;
    } else {
      PICK.shouldSelectAnotherHost = undefined;
      PICK.hostSelectionRetryCount = 0;
    }
    try {
      return cluster.pick(PICK);
    } finally {
      previousHosts = NO_HOSTS;
      PICK.shouldSelectAnotherHost = undefined;
      PICK.metadataMatch = undefined;
      PICK.hash = null;
    }
  }

  #overflow(): void {
    this.#localReply(
      503,
      RESET_BEFORE_HEADERS + 'overflow',
      'UO',
      'upstream_reset_before_response_started{overflow}',
      true,
    );
  }

  /** Whether (and how) to retry now; on `RETRY` the retry is scheduled. */
  #retry(): RetryDecision {
    const policy = this.policy;
    if (policy === undefined || this.phase !== Phase.waiting) return NO_RETRY;
    if (this.attempts > policy.numRetries) return NO_RETRY_EXHAUSTED;
    const body = this.body;
    if (body instanceof RequestBody && !body.replayable) {
      this.filter.stats.retriesNotReplayable++;
      return NO_RETRY;
    }
    const limits = this.limits;
    if (this.retryHeld) {
      this.retryHeld = false;
      limits.retries.release();
    }
    if (!limits.retries.tryAcquire()) {
      this.filter.stats.retryOverflow++;
      return NO_RETRY_OVERFLOW;
    }
    this.retryHeld = true;
    this.filter.stats.retries++;
    (this.cluster as UpstreamCluster).stats.retry();
    // Envoy's fully jittered exponential backoff: the n-th retry waits random [0, (2^n - 1) * base), capped.
    const ceiling = Math.min((2 ** this.attempts - 1) * policy.baseIntervalMs, policy.maxIntervalMs);
    const delay = Math.floor(this.filter.random() * ceiling);
    this.#backoffTimer ??= new RequestTimer(this, TimerKind.backoff);
    this.filter.wheel.schedule(this.#backoffTimer, delay);
    return RETRY;
  }

  #noRetry(decision: RetryDecision): void {
    if (decision === NO_RETRY_EXHAUSTED) this.ctx.info.responseFlags.add('URX');
    else if (decision === NO_RETRY_OVERFLOW) this.ctx.info.responseFlags.add('UO');
  }

  #cancelAttemptTimers(): void {
    const wheel = this.filter.wheel;
    if (this.#perTryTimer !== null) wheel.cancel(this.#perTryTimer);
    if (this.#perTryIdleTimer !== null) wheel.cancel(this.#perTryIdleTimer);
  }

  // ── attempt callbacks ─────────────────────────────────────────────────────────────────────

  /** @internal */
  onAttemptHead(attempt: Attempt, status: number, headers: HeaderMap, statusText: string): void {
    if (attempt !== this.attempt || this.phase !== Phase.waiting) {
      attempt.cancel(this.limits, ABORT_CANCELLED);
      return;
    }
    const cluster = this.cluster as UpstreamCluster;
    cluster.report(attempt.host, responseOutcome(status));
    attempt.lastActivity = this.filter.now();
    const policy = this.policy;
    if (policy !== undefined && status !== 101 && policy.retriableResponse(status, headers)) {
      const decision = this.#retry();
      if (decision === RETRY) {
        // The retriable response's body is not wanted: abort it (Envoy resets the upstream stream).
        this.#cancelAttemptTimers();
        attempt.cancel(this.limits, ABORT_RETRY);
        this.attempt = null;
        return;
      }
      this.#noRetry(decision);
    }
    this.#cancelAttemptTimers();
    if (this.stream.upgrade !== null && status === 101) {
      // An HTTP/1 upstream answers 101 through onRequestUpgrade; anything else here is a bug of the peer.
      attempt.cancel(this.limits, ABORT_CANCELLED);
      this.#resetAfterHead('UPE');
      return;
    }
    this.#sendHead(attempt, status, headers, statusText);
  }

  #sendHead(attempt: Attempt, status: number, upstream: HeaderMap, _statusText: string): void {
    const headers = withoutHopByHop(upstream);
    if (!this.filter.suppressEnvoyHeaders) {
      headers['x-envoy-upstream-service-time'] = String(Math.round(this.filter.now() - attempt.startTime));
    }
    if (this.ctx.isGrpc && headers['grpc-status'] !== undefined) this.#splitTrailersOnly(headers);
    const head = new UpstreamHead(status, headers);
    (this.route as RouteEntry).applyResponseHeaders(head, this.choice, this.request, this.connection);
    this.ctx.info.responseCodeDetails = 'via_upstream';
    this.ctx.info.firstUpstreamByteTime = this.filter.now();
    this.phase = Phase.responding;
    this.queued = [];
    this.stream.respond(head, (this.#proceedFn ??= this.#proceed.bind(this)));
  }

  #proceed(send: boolean): void {
    if (this.phase !== Phase.responding) return;
    const attempt = this.attempt;
    const upgraded = this.upgradedSocket;
    if (upgraded !== null) {
      this.upgradedSocket = null;
      if (send) {
        this.#openTunnel(upgraded);
      } else {
        upgraded.destroy();
        this.#complete();
      }
      return;
    }
    if (!send) {
      // A response hook replied instead: drop the upstream response.
      if (attempt !== null) attempt.cancel(this.limits, ABORT_CANCELLED);
      this.#complete();
      return;
    }
    this.phase = Phase.streaming;
    const queued = this.queued;
    this.queued = null;
    let writable = true;
    if (queued !== null) {
      for (const chunk of queued) writable = this.#write(chunk);
    }
    if (this.ended) {
      this.#end();
      return;
    }
    if (!writable) this.#waitDrain();
    else if (attempt?.controller?.paused === true) attempt.controller.resume();
  }

  /** @internal */
  onAttemptData(attempt: Attempt, controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (attempt !== this.attempt) return;
    const now = this.filter.now();
    attempt.lastActivity = now;
    this.lastActivity = now;
    if (this.phase === Phase.responding) {
      (this.queued as Buffer[]).push(chunk);
      controller.pause();
      return;
    }
    if (this.phase !== Phase.streaming) return;
    if (!this.#write(chunk)) {
      controller.pause();
      this.#waitDrain();
    }
  }

  #write(chunk: Buffer): boolean {
    // `bytesSent` is the connection manager's to count, as it writes.
    return this.stream.write(chunk);
  }

  #waitDrain(): void {
    if (this.waitingDrain) return;
    this.waitingDrain = true;
    this.stream.onDrain((this.#drainFn ??= this.#drained.bind(this)));
  }

  #drained(): void {
    this.waitingDrain = false;
    this.lastActivity = this.filter.now();
    const controller = this.attempt?.controller;
    if (this.phase === Phase.streaming && controller?.paused === true) controller.resume();
  }

  /**
   * A gRPC "trailers-only" response carries its status in the one header block. undici cannot
   * tell that the head also ended the stream, and a downstream that sends head and end apart
   * would leave the client without a status: move the status into trailers (valid gRPC either way).
   */
  #splitTrailersOnly(headers: HeaderMap): void {
    const trailers: HeaderMap = {};
    for (const name of GRPC_STATUS_HEADERS) {
      const value = headers[name];
      if (value === undefined) continue;
      trailers[name] = value;
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a header map is a dictionary
      delete headers[name];
    }
    this.trailers = trailers;
  }

  /** @internal */
  onAttemptEnd(attempt: Attempt, trailers: HeaderMap): void {
    if (attempt !== this.attempt) return;
    attempt.finish(this.limits);
    const split = this.trailers;
    if (split !== null) {
      for (const name in trailers) split[name] = trailers[name];
    } else {
      this.trailers = hasKeys(trailers) ? trailers : null;
    }
    this.ended = true;
    if (this.phase === Phase.streaming) this.#end();
  }

  #end(): void {
    const trailers = this.trailers;
    this.#complete();
    if (trailers === null) this.stream.end();
    else this.stream.end(trailers);
  }

  /** @internal */
  onAttemptError(attempt: Attempt, error: Error): void {
    if (attempt !== this.attempt) return;
    const failure = attempt.responded ? 'reset' : classify(error, attempt.started);
    if (!attempt.responded)
      attempt.outcome = failure === 'connect-failure' ? OUTCOME_CONNECT_FAILED : OUTCOME_RESET;
    attempt.finish(this.limits);
    this.attempt = null;
    this.#cancelAttemptTimers();
    const cluster = this.cluster as UpstreamCluster;
    if (!attempt.responded)
      cluster.report(attempt.host, failure === 'connect-failure' ? OUTCOME_CONNECT_FAILED : OUTCOME_RESET);
    if (this.phase !== Phase.waiting) {
      // After the head went out, a failure can only reset the downstream stream.
      this.#resetAfterHead(failure === 'connect-failure' ? 'UF' : 'UR');
      return;
    }
    if (this.policy?.retriableFailure(failure) === true) {
      const decision = this.#retry();
      if (decision === RETRY) return;
      this.#noRetry(decision);
    }
    if (failure === 'connect-failure') {
      this.filter.stats.connectFailures++;
      this.#localReply(
        503,
        RESET_BEFORE_HEADERS + 'connection failure',
        'UF',
        'upstream_reset_before_response_started{connection_failure}',
      );
    } else if (isProtocolError(error)) {
      this.filter.stats.resets++;
      this.#localReply(
        503,
        RESET_BEFORE_HEADERS + 'protocol error',
        'UPE',
        'upstream_reset_before_response_started{protocol_error}',
      );
    } else {
      this.filter.stats.resets++;
      this.#localReply(
        503,
        RESET_BEFORE_HEADERS + 'connection termination',
        'UC',
        'upstream_reset_before_response_started{connection_termination}',
      );
    }
  }

  /** @internal */
  onAttemptUpgrade(attempt: Attempt, status: number, headers: HeaderMap, socket: Duplex): void {
    const upgrade = this.stream.upgrade;
    if (attempt !== this.attempt || this.phase !== Phase.waiting || upgrade === null) {
      socket.destroy();
      attempt.cancel(this.limits, ABORT_CANCELLED);
      return;
    }
    (this.cluster as UpstreamCluster).report(attempt.host, responseOutcome(status));
    this.#cancelAttemptTimers();
    const wheel = this.filter.wheel;
    // A tunnel has no route timeout: it lives as long as both ends want.
    if (this.#globalTimer !== null) wheel.cancel(this.#globalTimer);
    if (this.#idleTimer !== null) wheel.cancel(this.#idleTimer);
    if (!this.filter.suppressEnvoyHeaders) {
      headers['x-envoy-upstream-service-time'] = String(Math.round(this.filter.now() - attempt.startTime));
    }
    const head = new UpstreamHead(status, headers);
    (this.route as RouteEntry).applyResponseHeaders(head, this.choice, this.request, this.connection);
    this.ctx.info.responseCodeDetails = 'via_upstream';
    // undici is done with this request: nothing to abort later, only to release.
    attempt.controller = null;
    // The request's resources stay held (it is an active stream) until the tunnel closes.
    this.upgradedSocket = socket;
    this.phase = Phase.responding;
    // The connection manager writes the raw 101 head (after the response hooks), then the tunnel opens.
    this.stream.respond(head, (this.#proceedFn ??= this.#proceed.bind(this)));
  }

  #openTunnel(socket: Duplex): void {
    const upgrade = this.stream.upgrade as { readonly socket: Duplex; readonly head: Buffer };
    this.phase = Phase.tunnel;
    this.filter.stats.upgrades++;
    this.tunnel = new Tunnel(upgrade.socket, socket, this);
    this.tunnel.open(upgrade.head);
  }

  /** @internal */
  onTunnelClosed(): void {
    this.#complete();
  }

  // ── request body ──────────────────────────────────────────────────────────────────────────

  /** @internal */
  onRequestData(bytes: number): void {
    this.ctx.info.bytesReceived += bytes;
    this.lastActivity = this.filter.now();
  }

  /** @internal The downstream request is complete: the route timeout starts, mirrors go. */
  onRequestEnd(): void {
    if (this.phase === Phase.done) return;
    this.ctx.info.requestCompleteTime ??= this.filter.now();
    if (this.globalTimeoutMs > 0) {
      this.#globalTimer = new RequestTimer(this, TimerKind.global);
      this.filter.wheel.schedule(this.#globalTimer, this.globalTimeoutMs);
    }
    const mirrors = this.mirrors;
    if (mirrors !== null) {
      this.mirrors = null;
      const body = this.body;
      const bytes = body instanceof RequestBody ? body.buffered() : body;
      if (body instanceof RequestBody && bytes === null) {
        this.filter.stats.mirrorsSkipped += mirrors.length;
        return;
      }
      for (const name of mirrors) this.filter.mirror(name, this, bytes);
    }
  }

  #drawMirrors(action: CompiledRouteAction): void {
    let drawn: string[] | null = null;
    for (const mirror of action.mirrors) {
      if (mirror.fraction >= 1 || this.filter.random() < mirror.fraction) (drawn ??= []).push(mirror.cluster);
    }
    this.mirrors = drawn;
  }

  // ── timers ────────────────────────────────────────────────────────────────────────────────

  /** @internal */
  onTimer(kind: TimerKind): void {
    if (this.phase === Phase.done) return;
    switch (kind) {
      case TimerKind.backoff:
        if (this.phase === Phase.waiting) this.#attempt();
        return;
      case TimerKind.global:
        this.#globalTimeout_();
        return;
      case TimerKind.perTry:
        this.#perTryTimeout('upstream_per_try_timeout');
        return;
      case TimerKind.perTryIdle: {
        const attempt = this.attempt;
        const idle = this.policy?.perTryIdleTimeoutMs ?? 0;
        if (attempt === null || this.phase !== Phase.waiting) return;
        const left = attempt.lastActivity + idle - this.filter.now();
        if (left > 0) this.filter.wheel.schedule(this.#perTryIdleTimer as RequestTimer, left);
        else this.#perTryTimeout('upstream_per_try_idle_timeout');
        return;
      }
      case TimerKind.idle: {
        const idle = (this.action as CompiledRouteAction).idleTimeoutMs ?? 0;
        if (this.phase === Phase.tunnel) return;
        const left = this.lastActivity + idle - this.filter.now();
        if (left > 0) {
          this.filter.wheel.schedule(this.#idleTimer as RequestTimer, left);
          return;
        }
        this.filter.stats.idleTimeouts++;
        if (this.attempt !== null && !this.attempt.responded) this.attempt.outcome = OUTCOME_TIMEOUT;
        if (this.phase === Phase.waiting) {
          this.#abortAttempt(ABORT_TIMEOUT);
          this.#localReply(408, 'stream timeout', 'SI', 'stream_idle_timeout');
        } else {
          this.#abortAttempt(ABORT_TIMEOUT);
          this.#resetAfterHead('SI');
        }
        return;
      }
    }
  }

  /** @internal */
  onTimerError(error: unknown): void {
    this.filter.onError(error);
    const waiting = this.phase === Phase.waiting;
    this.#abortAttempt(ABORT_CANCELLED);
    this.#complete();
    try {
      if (waiting && !this.ctx.replied) this.ctx.reply(500, 'internal error');
      else this.stream.reset();
    } catch (again) {
      this.filter.onError(again);
      // The stream could not be answered: at least do not leave the client hanging.
      try {
        this.stream.reset();
      } catch (last) {
        this.filter.onError(last);
      }
    }
  }

  #globalTimeout_(): void {
    this.filter.stats.timeouts++;
    const cluster = this.cluster as UpstreamCluster;
    cluster.stats.timeout(false);
    const attempt = this.attempt;
    if (attempt !== null && !attempt.responded) {
      attempt.outcome = OUTCOME_TIMEOUT;
      cluster.report(attempt.host, OUTCOME_TIMEOUT);
    }
    this.#abortAttempt(ABORT_TIMEOUT);
    if (this.phase === Phase.waiting) {
      this.#localReply(504, 'upstream request timeout', 'UT', 'upstream_response_timeout');
    } else {
      this.#resetAfterHead('UT');
    }
  }

  #perTryTimeout(details: string): void {
    const attempt = this.attempt;
    if (attempt === null || this.phase !== Phase.waiting) return;
    this.filter.stats.perTryTimeouts++;
    const cluster = this.cluster as UpstreamCluster;
    cluster.stats.timeout(true);
    attempt.outcome = OUTCOME_TIMEOUT;
    cluster.report(attempt.host, OUTCOME_TIMEOUT);
    this.#cancelAttemptTimers();
    attempt.cancel(this.limits, ABORT_TIMEOUT);
    this.attempt = null;
    const policy = this.policy as CompiledRetryPolicy;
    // Envoy retries a per-try timeout under 5xx, gateway-error and reset.
    if (policy.retriableFailure('reset') || policy.retriableResponse(504, NO_HEADERS)) {
      const decision = this.#retry();
      if (decision === RETRY) return;
      this.#noRetry(decision);
    }
    this.#localReply(504, 'upstream request timeout', 'UT', details);
  }

  #globalTimeout(action: CompiledRouteAction): number {
    let timeout = action.timeoutMs;
    const max = action.grpcTimeoutHeaderMaxMs;
    if (max !== undefined && this.ctx.isGrpc) {
      const grpc = parseGrpcTimeout(this.request.headers['grpc-timeout']);
      if (grpc !== undefined) timeout = max > 0 ? Math.min(grpc, max) : grpc;
    }
    return timeout;
  }

  // ── endings ───────────────────────────────────────────────────────────────────────────────

  #abortAttempt(reason: Error): void {
    const attempt = this.attempt;
    if (attempt === null) return;
    this.attempt = null;
    attempt.cancel(this.limits, reason);
  }

  #downstreamAborted(): void {
    if (this.phase === Phase.done) return;
    this.filter.stats.downstreamAborts++;
    this.ctx.info.responseFlags.add('DC');
    this.#abortAttempt(ABORT_DOWNSTREAM);
    if (this.upgradedSocket !== null) {
      this.upgradedSocket.destroy();
      this.upgradedSocket = null;
    }
    if (this.tunnel !== null) this.tunnel.close();
    this.#complete();
  }

  #resetAfterHead(flag: ResponseFlag): void {
    this.ctx.info.responseFlags.add(flag);
    this.#complete();
    this.stream.reset();
  }

  #localReply(
    status: number,
    body: string | Buffer | undefined,
    flag: ResponseFlag | null,
    details: string,
    overloaded = false,
  ): void {
    const info = this.ctx.info;
    if (flag !== null) info.responseFlags.add(flag);
    info.responseCodeDetails = details;
    this.#complete();
    if (this.ctx.aborted || this.ctx.replied) return;
    let headers: HeaderMap | undefined;
    if (overloaded) headers = { 'x-envoy-overloaded': 'true', 'content-type': 'text/plain' };
    else if (body !== undefined && body.length > 0) headers = { 'content-type': 'text/plain' };
    this.ctx.reply(status, body, headers);
  }

  /** Stops every timer and releases what the request holds (once). */
  #complete(): void {
    if (this.phase === Phase.done) return;
    this.phase = Phase.done;
    const wheel = this.filter.wheel;
    if (this.#globalTimer !== null) wheel.cancel(this.#globalTimer);
    if (this.#idleTimer !== null) wheel.cancel(this.#idleTimer);
    if (this.#backoffTimer !== null) wheel.cancel(this.#backoffTimer);
    this.#cancelAttemptTimers();
    if (this.retryHeld) {
      this.retryHeld = false;
      this.limits.retries.release();
    }
    const attempt = this.attempt;
    this.attempt = null;
    // Whatever path ended the request, no upstream request outlives it.
    if (attempt !== null) attempt.cancel(this.limits, ABORT_CANCELLED);
    if (this.upgradedSocket !== null) {
      this.upgradedSocket.destroy();
      this.upgradedSocket = null;
    }
    const body = this.body;
    if (body instanceof RequestBody) body.close();
    this.queued = null;
  }
}

const NO_HOSTS: readonly Host[] = [];
const GRPC_STATUS_HEADERS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'] as const;
const NO_HEADERS: HeaderMap = {};
// A stand-in before `start()` sets the cluster's limits: never acquired from.
const PLACEHOLDER_LIMITS = undefined as unknown as PriorityResourceLimits;

function hasKeys(headers: HeaderMap): boolean {
  for (const _ in headers) return true;
  return false;
}
