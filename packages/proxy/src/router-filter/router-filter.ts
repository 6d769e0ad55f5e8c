import { TimerWheel } from '@meshlet/breaker';
import type { PriorityResourceLimits } from '@meshlet/breaker';
import { InvalidArgumentError } from '@meshlet/errors';
import type { Host } from '@meshlet/lb';
import type { RouterConfig } from '@meshlet/xds';
import type { Dispatcher } from 'undici';
import type { ClusterManager, DownstreamStream, HeaderMap, RouterFilter, UpstreamCluster } from '../types.js';
import { ForwardRequest, responseOutcome } from './forward-request.js';
import { upstreamHeaders } from './headers.js';

/** Options of {@link createRouterFilter}. */
export interface RouterFilterOptions {
  /** The clusters of the config version this filter serves. */
  readonly clusters: ClusterManager;
  /** The router's config (`envoy.filters.http.router`). */
  readonly config: RouterConfig;
  /** Monotonic milliseconds. Default `performance.now()`. */
  readonly now?: () => number;
  /** A float in [0, 1): retry jitter, mirror fractions, weighted clusters. Default `Math.random`. */
  readonly random?: () => number;
  /**
   * The timer wheel for every per-request deadline (route, per-try and idle timeouts, backoff).
   * Default: a wheel of 10 ms ticks on `now`, one underlying timer for all requests.
   */
  readonly timers?: TimerWheel;
  /**
   * Bytes of a streamed request body kept so that a retry or a mirror can replay it (Envoy's
   * per-request buffer limit). A larger body streams on but is not retried or mirrored. Default 64 KiB.
   */
  readonly retryBufferLimitBytes?: number;
  /**
   * Called with an error thrown where no caller can catch it (a timer callback). The stream it
   * belongs to gets a 500 or a reset; the process goes on. Default: a process warning.
   */
  readonly onError?: (error: unknown) => void;
}

/** Counters of a router filter (Envoy's `upstream_rq_*` family, summed over clusters). */
export interface RouterFilterStats {
  /** Upstream attempts made (first tries and retries). */
  upstreamRequests: number;
  /** Retries scheduled. */
  retries: number;
  /** Retries refused by the cluster's `maxRetries` or retry budget. */
  retryOverflow: number;
  /** Retries impossible because the streamed body outgrew the replay buffer. */
  retriesNotReplayable: number;
  /** Requests refused by `maxRequests` / `maxPendingRequests` (503 UO). */
  overflow: number;
  /** No host to pick (503 UH). */
  noHealthyUpstream: number;
  /** No route matched (404 NR). */
  noRoute: number;
  /** The cluster named by the route does not exist (503 NC). */
  noCluster: number;
  /** Route (or `grpc-timeout`) timeouts. */
  timeouts: number;
  /** Per-try (and per-try idle) timeouts. */
  perTryTimeouts: number;
  /** Stream idle timeouts. */
  idleTimeouts: number;
  /** Attempts that could not connect. */
  connectFailures: number;
  /** Attempts reset before their response head. */
  resets: number;
  /** Requests undici refused to send (a header it cannot write). */
  upstreamProtocolErrors: number;
  /** Clients that went away before the response ended. */
  downstreamAborts: number;
  /** Upgraded connections (101) tunnelled. */
  upgrades: number;
  /** Mirror requests sent. */
  mirrorsSent: number;
  /** Mirror requests that failed (no cluster, no host, overflow, upstream error): swallowed. */
  mirrorErrors: number;
  /** Mirrors not sent because the streamed body outgrew the replay buffer. */
  mirrorsSkipped: number;
}

const DEFAULT_RETRY_BUFFER_LIMIT = 64 * 1024;

function emitWarning(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : String(error), { code: 'MESHLET_ROUTER_FILTER' });
}

/**
 * Envoy's router filter: forwards a stream upstream with retries, timeouts, mirrors and upgrades.
 * Build it with {@link createRouterFilter}.
 */
export class ForwardingRouterFilter implements RouterFilter {
  readonly clusters: ClusterManager;
  readonly suppressEnvoyHeaders: boolean;
  readonly now: () => number;
  readonly random: () => number;
  readonly wheel: TimerWheel;
  readonly retryBufferLimitBytes: number;
  readonly onError: (error: unknown) => void;
  /** Counters, updated in place. */
  readonly stats: RouterFilterStats;

  constructor(options: RouterFilterOptions) {
    const { clusters, config } = options;
    if (typeof clusters !== 'object' || typeof clusters.get !== 'function') {
      throw new InvalidArgumentError('createRouterFilter: clusters must be a ClusterManager');
    }
    if (typeof config !== 'object' || (config.type as string) !== 'router') {
      throw new InvalidArgumentError(
        "createRouterFilter: config must be a router config ({ type: 'router' })",
      );
    }
    const limit = options.retryBufferLimitBytes ?? DEFAULT_RETRY_BUFFER_LIMIT;
    if (!(Number.isInteger(limit) && limit >= 0)) {
      throw new InvalidArgumentError(
        `createRouterFilter: retryBufferLimitBytes must be a non-negative integer, got ${String(limit)}`,
      );
    }
    this.clusters = clusters;
    this.suppressEnvoyHeaders = config.suppressEnvoyHeaders;
    const now = options.now ?? performance.now.bind(performance);
    this.now = now;
    this.random = options.random ?? Math.random;
    this.wheel = options.timers ?? new TimerWheel({ tickMs: 10, clock: { now } });
    this.retryBufferLimitBytes = limit;
    this.onError = options.onError ?? emitWarning;
    this.stats = {
      upstreamRequests: 0,
      retries: 0,
      retryOverflow: 0,
      retriesNotReplayable: 0,
      overflow: 0,
      noHealthyUpstream: 0,
      noRoute: 0,
      noCluster: 0,
      timeouts: 0,
      perTryTimeouts: 0,
      idleTimeouts: 0,
      connectFailures: 0,
      resets: 0,
      upstreamProtocolErrors: 0,
      downstreamAborts: 0,
      upgrades: 0,
      mirrorsSent: 0,
      mirrorErrors: 0,
      mirrorsSkipped: 0,
    };
  }

  /** Serves one stream: a local reply, or the upstream response streamed back. Never throws for data-plane outcomes. */
  handle(stream: DownstreamStream): void {
    new ForwardRequest(this, stream).start();
  }

  /**
   * @internal Fire-and-forget copy of a request to a shadow cluster: `-shadow` appended to the
   * authority, response discarded, failures counted and swallowed.
   */
  mirror(clusterName: string, request: ForwardRequest, body: Buffer | null): void {
    const cluster = this.clusters.get(clusterName);
    if (cluster === undefined) {
      this.stats.mirrorErrors++;
      return;
    }
    const host = cluster.pick({ hash: request.hash, metadataMatch: undefined });
    if (host === null) {
      this.stats.mirrorErrors++;
      return;
    }
    const limits = cluster.limits((request.action as { priority: 'default' | 'high' }).priority);
    if (!limits.requests.tryAcquire()) {
      this.stats.mirrorErrors++;
      return;
    }
    const head = request.request;
    const headers: HeaderMap = {};
    const source = head.headers;
    for (const name in source) headers[name] = source[name];
    headers.host = `${head.authority}-shadow`;
    // The shadow never retries: it must not be counted as one, nor carry the route's deadlines.
    delete headers['x-envoy-attempt-count'];
    const protocol = cluster.protocolFor(request.ctx.protocol);
    const handler = new ShadowHandler(this, cluster, host, limits);
    host.activeRequests++;
    try {
      cluster.dispatcher(host, protocol).dispatch(
        {
          path: head.path,
          method: head.method,
          headers: upstreamHeaders(headers, protocol === 'http2') as NonNullable<
            Dispatcher.DispatchOptions['headers']
          >,
          body,
        },
        handler,
      );
      this.stats.mirrorsSent++;
    } catch {
      handler.done(true);
    }
  }
}

/** The handler of a mirror request: discards the response, reports the outcome, releases once. */
class ShadowHandler implements Dispatcher.DispatchHandler {
  readonly #filter: ForwardingRouterFilter;
  readonly #cluster: UpstreamCluster;
  readonly #host: Host;
  readonly #limits: PriorityResourceLimits;
  #started = false;
  #done = false;

  constructor(
    filter: ForwardingRouterFilter,
    cluster: UpstreamCluster,
    host: Host,
    limits: PriorityResourceLimits,
  ) {
    this.#filter = filter;
    this.#cluster = cluster;
    this.#host = host;
    this.#limits = limits;
  }

  onRequestStart(): void {
    this.#started = true;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#cluster.report(this.#host, responseOutcome(statusCode));
  }

  onResponseData(): void {
    // Discarded.
  }

  onResponseEnd(): void {
    this.done(false);
  }

  onResponseError(): void {
    if (!this.#done) this.#cluster.report(this.#host, { kind: this.#started ? 'reset' : 'connect-failed' });
    this.done(true);
  }

  /** Releases the request's units (once). */
  done(failed: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#limits.requests.release();
    this.#host.activeRequests--;
    if (failed) this.#filter.stats.mirrorErrors++;
  }
}

/**
 * Creates Envoy's router filter: the last filter of a chain, which forwards each stream to the
 * cluster its route names, with retries, timeouts, mirrors, upgrades and backpressure.
 *
 * @example
 * ```ts
 * const router = createRouterFilter({ clusters, config: { type: 'router', suppressEnvoyHeaders: false } });
 * // the connection manager, once the filter chain let a stream through:
 * router.handle(stream);
 * router.stats.retries; // retries scheduled so far
 * ```
 */
export function createRouterFilter(options: RouterFilterOptions): ForwardingRouterFilter {
  return new ForwardingRouterFilter(options);
}
