// `envoy.filters.http.fault`: delays and aborts injected into a share of requests, fixed in
// config or chosen by the client's `x-envoy-fault-*` headers, gated by request headers, the
// route's cluster, the downstream node and a cap on concurrently active faults.
import type { FilterEnvironment, HttpContext, HttpFilter } from '../../types.js';
import { ConfigReader, percentHit } from '../config-reader.js';
import {
  type CompiledHeaderMatcher,
  compileHeaderMatchers,
  joinedHeader,
  matchAllHeaders,
} from '../../matchers/header-matcher.js';

/** The request headers a client controls faults with (when `headerDelay` / `headerAbort` are set). */
export const FAULT_HEADERS = {
  delay: 'x-envoy-fault-delay-request',
  delayPercentage: 'x-envoy-fault-delay-request-percentage',
  abort: 'x-envoy-fault-abort-request',
  abortGrpc: 'x-envoy-fault-abort-grpc-request',
  abortPercentage: 'x-envoy-fault-abort-request-percentage',
  downstreamNode: 'x-envoy-downstream-service-node',
} as const;

/** The body of an injected abort, as Envoy's. */
export const FAULT_ABORT_BODY = 'fault filter abort';

/** Node's setTimeout takes at most 2^31 - 1 ms; a longer header delay is clamped to it. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Timers for injected delays; default the global ones. */
export interface FaultTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link createFaultFilter}. */
export interface FaultFilterOptions {
  /** Timers for delays (tests inject their own). Default: the global `setTimeout`. */
  readonly timers?: FaultTimers;
}

/** Counters of one compiled fault config, as Envoy's `fault.*` stats. */
export interface FaultStats {
  delaysInjected: number;
  abortsInjected: number;
  faultsOverflow: number;
}

/** A compiled fault config, with its count of active faults. */
export class FaultFilterConfig {
  /** -1: no delay; 0: delay from the header; > 0: fixed delay in ms. */
  readonly delayMs: number;
  readonly delayNumerator: number;
  readonly delayDenominator: number;
  /** 0: no abort; -1: abort from the headers; otherwise the HTTP status. */
  readonly abortHttpStatus: number;
  /** The gRPC status of a fixed gRPC abort, else -1. */
  readonly abortGrpcStatus: number;
  readonly abortNumerator: number;
  readonly abortDenominator: number;
  readonly headers: readonly CompiledHeaderMatcher[];
  readonly upstreamCluster: string;
  readonly downstreamNodes: ReadonlySet<string> | null;
  readonly maxActiveFaults: number;
  readonly random: () => number;
  /** Faults injected and not yet complete (Envoy's `active_faults` gauge). */
  active: number;
  readonly stats: FaultStats;
  /** This config's per-request state key. */
  readonly key: symbol;

  constructor(reader: ConfigReader, o: Record<string, unknown>, random: () => number) {
    this.delayMs = -1;
    this.delayNumerator = 0;
    this.delayDenominator = 100;
    if (o.delay !== undefined) {
      const d = reader.object(o.delay, 'delay');
      const fromHeader = reader.boolean(d.headerDelay, 'delay.headerDelay', false);
      if (fromHeader === (d.fixedDelayMs !== undefined)) {
        throw reader.error('delay', 'needs exactly one of fixedDelayMs, headerDelay');
      }
      // A fixed delay of 0 never delays (Envoy delays only when the duration is > 0).
      this.delayMs = fromHeader
        ? 0
        : reader.integer(d.fixedDelayMs, 'delay.fixedDelayMs', 0, MAX_DELAY_MS) || -1;
      const p = reader.percent(d.percentage, 'delay.percentage');
      this.delayNumerator = p.numerator;
      this.delayDenominator = p.denominator;
    }
    this.abortHttpStatus = 0;
    this.abortGrpcStatus = -1;
    this.abortNumerator = 0;
    this.abortDenominator = 100;
    if (o.abort !== undefined) {
      const a = reader.object(o.abort, 'abort');
      const fromHeader = reader.boolean(a.headerAbort, 'abort.headerAbort', false);
      const given =
        Number(fromHeader) + Number(a.httpStatus !== undefined) + Number(a.grpcStatus !== undefined);
      if (given !== 1)
        throw reader.error('abort', 'needs exactly one of httpStatus, grpcStatus, headerAbort');
      if (fromHeader) this.abortHttpStatus = -1;
      else if (a.httpStatus !== undefined)
        this.abortHttpStatus = reader.integer(a.httpStatus, 'abort.httpStatus', 200, 599);
      else this.abortGrpcStatus = reader.integer(a.grpcStatus, 'abort.grpcStatus', 0, 2 ** 31 - 1);
      const p = reader.percent(a.percentage, 'abort.percentage');
      this.abortNumerator = p.numerator;
      this.abortDenominator = p.denominator;
    }
    this.headers = compileHeaderMatchers(reader, o.headers, 'headers');
    this.upstreamCluster = reader.string(o.upstreamCluster, 'upstreamCluster', '');
    const nodes = reader
      .list(o.downstreamNodes, 'downstreamNodes')
      .map((n, i) => reader.string(n, `downstreamNodes[${i}]`));
    this.downstreamNodes = nodes.length > 0 ? new Set(nodes) : null;
    this.maxActiveFaults =
      o.maxActiveFaults === undefined
        ? Infinity
        : reader.integer(o.maxActiveFaults, 'maxActiveFaults', 0, 2 ** 32 - 1);
    this.random = random;
    this.active = 0;
    this.stats = { delaysInjected: 0, abortsInjected: 0, faultsOverflow: 0 };
    this.key = Symbol('fault');
  }
}

/** A delay in progress: its timer, and how to end it early when the stream ends first. */
class PendingDelay {
  timer: unknown = undefined;
  cancelled = false;
  readonly resolve: () => void;
  constructor(resolve: () => void) {
    this.resolve = resolve;
  }
}

/** The value of a request header as a decimal integer, or -1 (Envoy's SimpleAtoi into an unsigned). */
function headerInteger(ctx: HttpContext, name: string): number {
  const v = joinedHeader(ctx.request.headers, name);
  if (v === undefined || !/^\s*\+?\d{1,15}\s*$/.test(v)) return -1;
  return Number(v);
}

/** The numerator of a header-controlled fault: the header's, capped by the configured one. */
function headerNumerator(ctx: HttpContext, name: string, configured: number): number {
  const n = headerInteger(ctx, name);
  return n < 0 ? configured : Math.min(n, configured);
}

/** The route's cluster when the route names one (or its cluster header does); '' otherwise. */
function routeCluster(ctx: HttpContext): string {
  const action = ctx.route?.source.route;
  if (action === undefined) return '';
  if (action.cluster !== undefined) return action.cluster;
  if (action.clusterHeader !== undefined)
    return joinedHeader(ctx.request.headers, action.clusterHeader.toLowerCase()) ?? '';
  // Weighted clusters are drawn by the router, after the filter chain: not known here.
  return '';
}

/** The delay to inject in ms, 0 for none. */
function delayFor(ctx: HttpContext, c: FaultFilterConfig): number {
  if (c.delayMs < 0) return 0;
  if (c.delayMs > 0) return percentHit(c.random, c.delayNumerator, c.delayDenominator) ? c.delayMs : 0;
  const ms = headerInteger(ctx, FAULT_HEADERS.delay);
  if (ms <= 0) return 0;
  const numerator = headerNumerator(ctx, FAULT_HEADERS.delayPercentage, c.delayNumerator);
  return percentHit(c.random, numerator, c.delayDenominator) ? Math.min(ms, MAX_DELAY_MS) : 0;
}

function injectDelay(ctx: HttpContext, c: FaultFilterConfig, ms: number, timers: FaultTimers): Promise<void> {
  c.stats.delaysInjected++;
  ctx.info.responseFlags.add('DI');
  let pending: PendingDelay | undefined;
  const done = new Promise<void>((resolve) => {
    pending = new PendingDelay(resolve);
  });
  const p = pending as PendingDelay;
  activate(ctx, c, p);
  p.timer = timers.setTimeout(() => {
    p.timer = undefined;
    p.resolve();
  }, ms);
  return done.then(() => {
    // Delays can be followed by aborts (Envoy's postDelayInjection).
    if (!p.cancelled && !ctx.aborted && !ctx.replied) maybeAbort(ctx, c);
  });
}

function maybeAbort(ctx: HttpContext, c: FaultFilterConfig): void {
  if (c.abortHttpStatus === 0 && c.abortGrpcStatus < 0) return;
  let http = c.abortHttpStatus;
  let grpc = c.abortGrpcStatus;
  let numerator = c.abortNumerator;
  if (http < 0) {
    // Header-controlled: an HTTP status in [200, 600) wins over a gRPC status in [0, 16].
    http = headerInteger(ctx, FAULT_HEADERS.abort);
    if (http < 200 || http >= 600) {
      http = 0;
      grpc = headerInteger(ctx, FAULT_HEADERS.abortGrpc);
      if (grpc < 0 || grpc > 16) return;
    }
    numerator = headerNumerator(ctx, FAULT_HEADERS.abortPercentage, numerator);
  }
  if (!percentHit(c.random, numerator, c.abortDenominator)) return;
  c.stats.abortsInjected++;
  activate(ctx, c, true);
  ctx.info.responseFlags.add('FI');
  ctx.info.responseCodeDetails = 'fault_filter_abort';
  if (http > 0) ctx.reply(http, FAULT_ABORT_BODY);
  // A gRPC abort answers 200 carrying the gRPC status (trailers-only on a gRPC request).
  else if (ctx.isGrpc)
    ctx.reply(200, FAULT_ABORT_BODY, { 'grpc-status': String(grpc), 'grpc-message': FAULT_ABORT_BODY });
  else ctx.reply(200, FAULT_ABORT_BODY);
}

/** Counts this request's fault once: Envoy charges one active fault per request. */
function activate(ctx: HttpContext, c: FaultFilterConfig, state: PendingDelay | true): void {
  if (ctx.state.has(c.key)) return;
  c.active++;
  ctx.state.set(c.key, state);
}

/**
 * The fault injection filter (`fault`), with injectable timers.
 *
 * @example
 * ```ts
 * const fault = createFaultFilter({ timers: myFakeTimers });
 * createProxy({ config, filters: [fault] });
 * ```
 */
export function createFaultFilter(options: FaultFilterOptions = {}): HttpFilter<FaultFilterConfig> {
  const timers: FaultTimers = options.timers ?? {
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
  // A plain object whose hooks use no `this`: the chain may call them detached.
  return {
    name: 'fault',
    configure(config: unknown, env: FilterEnvironment): FaultFilterConfig {
      const reader = new ConfigReader(env);
      return new FaultFilterConfig(reader, reader.typed(config, 'fault'), () => env.random());
    },
    onRequest(ctx: HttpContext, c: FaultFilterConfig): void | Promise<void> {
      if (c.active >= c.maxActiveFaults) {
        c.stats.faultsOverflow++;
        return;
      }
      if (c.upstreamCluster !== '' && routeCluster(ctx) !== c.upstreamCluster) return;
      if (c.downstreamNodes !== null) {
        const node = joinedHeader(ctx.request.headers, FAULT_HEADERS.downstreamNode);
        if (node === undefined || !c.downstreamNodes.has(node)) return;
      }
      if (c.headers.length > 0 && !matchAllHeaders(c.headers, ctx.request)) return;
      const delay = delayFor(ctx, c);
      if (delay > 0) return injectDelay(ctx, c, delay, timers);
      maybeAbort(ctx, c);
    },
    onComplete(ctx: HttpContext, c: FaultFilterConfig): void {
      const state = ctx.state.get(c.key);
      if (state === undefined) return;
      ctx.state.delete(c.key);
      c.active--;
      if (state instanceof PendingDelay && state.timer !== undefined) {
        // The stream ended while delayed: stop the timer and let the hook's promise settle.
        timers.clearTimeout(state.timer);
        state.timer = undefined;
        state.cancelled = true;
        state.resolve();
      }
    },
  };
}

/** The fault injection filter (`fault`) with the global timers. */
export const faultFilter: HttpFilter<FaultFilterConfig> = createFaultFilter();
