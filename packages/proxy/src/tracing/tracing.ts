// Tracing of the connection managers that have a `tracing` config: W3C trace context propagated
// to the upstream request (same trace id, a new span id: this hop's), and a SERVER span per
// request through OpenTelemetry when the application has `@opentelemetry/api`.
import type * as model from '@meshlet/xds';
import type { HttpContext, ObservedChain, ObserverFactory, StreamObserver } from '../types.js';
import {
  type OtelApi,
  type OtelSpan,
  type OtelTracer,
  SPAN_KIND_SERVER,
  SPAN_STATUS_ERROR,
  loadOpenTelemetry,
} from './otel.js';
import {
  formatTraceParent,
  newSpanId,
  newTraceId,
  parseB3,
  parseTraceParent,
  type TraceParent,
  writeB3,
} from './trace-context.js';

/** Options of a proxy's tracing (`ProxyOptions.tracing`). */
export interface TracingOptions {
  /**
   * The `@opentelemetry/api` module. Default: loaded at `createProxy` if installed; `null`: no
   * spans (trace headers are still propagated).
   */
  readonly api?: OtelApi | null;
  /** The tracer to start spans with. Default `api.trace.getTracer('@meshlet/proxy')`. */
  readonly tracer?: OtelTracer;
}

const TRACER_NAME = '@meshlet/proxy';

/** Sampling decisions and ids for one chain's streams, and their spans. */
class TracingObserver implements StreamObserver {
  private readonly client: number;
  private readonly random: number;
  private readonly overall: number;
  private readonly rand: () => number;
  private readonly api: OtelApi | null;
  private readonly tracer: OtelTracer | null;
  // Spans in flight, by stream: only sampled streams with a recording span are here.
  private readonly spans = new Map<HttpContext, OtelSpan>();

  constructor(config: model.HttpTracing, rand: () => number, api: OtelApi | null, tracer: OtelTracer | null) {
    this.client = config.clientSampling / 100;
    this.random = config.randomSampling / 100;
    this.overall = config.overallSampling / 100;
    this.rand = rand;
    this.api = api;
    this.tracer = tracer;
  }

  connectionOpened(): void {
    // Tracing is per request.
  }

  connectionClosed(): void {
    // Tracing is per request.
  }

  streamStarted(ctx: HttpContext): void {
    const headers = ctx.request.headers;
    // W3C first; a client that speaks only Zipkin's B3 is understood, and answered in B3 too.
    const w3c = parseTraceParent(headers.traceparent);
    // B3 headers are read when present (to answer in their form), and trusted when no W3C one is.
    const b3 = headers.b3 !== undefined || headers['x-b3-traceid'] !== undefined ? parseB3(headers) : null;
    let parent: TraceParent | null = w3c ?? b3;
    let sampled: boolean;
    if (w3c === null && b3 !== null && !b3.decided) {
      // B3 ids without a sampling decision: the proxy decides, as for a new trace.
      sampled = this.draw(this.random) && this.draw(this.overall);
      parent = { traceId: b3.traceId, spanId: b3.spanId, flags: sampled ? 1 : 0 };
    } else if (parent !== null) sampled = (parent.flags & 1) === 1;
    else {
      // A new trace: `tracestate` without a valid `traceparent` means nothing (W3C), drop it.
      if (headers.tracestate !== undefined) Reflect.deleteProperty(headers, 'tracestate');
      const rate = headers['x-client-trace-id'] !== undefined ? this.client : this.random;
      sampled = this.draw(rate) && this.draw(this.overall);
    }
    let traceId = parent === null ? '' : parent.traceId;
    let spanId = '';
    if (sampled && this.tracer !== null) {
      const span = this.startSpan(ctx, parent);
      const sc = span.spanContext();
      // Without an SDK the span records nothing and carries its parent's ids (or none): then
      // this hop's id is made here, as with no tracer at all.
      if (span.isRecording()) {
        traceId = sc.traceId;
        spanId = sc.spanId;
        sampled = (sc.traceFlags & 1) === 1;
        this.spans.set(ctx, span);
      }
    }
    if (traceId === '') traceId = newTraceId();
    if (spanId === '') spanId = newSpanId();
    headers.traceparent = formatTraceParent(traceId, spanId, sampled);
    if (b3 !== null) writeB3(headers, b3, traceId, spanId, parent?.spanId ?? b3.spanId, sampled);
  }

  streamEnded(ctx: HttpContext): void {
    if (this.spans.size === 0) return;
    const span = this.spans.get(ctx);
    if (span === undefined) return;
    this.spans.delete(ctx);
    const info = ctx.info;
    const status = ctx.response?.status ?? 0;
    if (status !== 0) span.setAttribute('http.response.status_code', status);
    if (info.upstreamCluster !== undefined)
      span.setAttribute('meshlet.upstream.cluster', info.upstreamCluster);
    if (info.upstreamHost !== undefined) span.setAttribute('meshlet.upstream.address', info.upstreamHost);
    const route = ctx.route;
    if (route !== null) span.setAttribute('meshlet.route.name', route.name);
    if (info.responseFlags.size > 0)
      span.setAttribute('meshlet.response_flags', [...info.responseFlags].join(','));
    // A server span is an error on a 5xx or when nothing was answered (semantic conventions).
    if (status >= 500 || status === 0 || ctx.aborted)
      span.setStatus({ code: SPAN_STATUS_ERROR, message: info.responseCodeDetails || String(status) });
    span.end(info.startTimeUnixMs + (info.endTime - info.startTime));
  }

  private draw(rate: number): boolean {
    return rate >= 1 || (rate > 0 && this.rand() < rate);
  }

  private startSpan(ctx: HttpContext, parent: ReturnType<typeof parseTraceParent>): OtelSpan {
    const api = this.api;
    const tracer = this.tracer as OtelTracer;
    const request = ctx.request;
    const parentContext =
      parent === null || api === null
        ? api?.ROOT_CONTEXT
        : api.trace.setSpanContext(api.ROOT_CONTEXT, {
            traceId: parent.traceId,
            spanId: parent.spanId,
            traceFlags: parent.flags,
            isRemote: true,
          });
    const span = tracer.startSpan(
      request.method,
      { kind: SPAN_KIND_SERVER, startTime: ctx.info.startTimeUnixMs },
      parentContext,
    );
    // Attributes only for a span that records them (an SDK is installed): nothing built otherwise.
    if (span.isRecording()) {
      const q = request.path.indexOf('?');
      span.setAttribute('http.request.method', request.method);
      span.setAttribute('url.scheme', request.scheme);
      span.setAttribute('url.path', q < 0 ? request.path : request.path.slice(0, q));
      if (q >= 0) span.setAttribute('url.query', request.path.slice(q + 1));
      span.setAttribute('server.address', request.authority);
      span.setAttribute('network.protocol.name', 'http');
      span.setAttribute('network.protocol.version', protocolVersion(ctx.protocol));
      span.setAttribute('client.address', ctx.info.downstreamRemoteAddress ?? ctx.connection.remoteAddress);
      span.setAttribute('network.peer.address', ctx.connection.remoteAddress);
      span.setAttribute('network.peer.port', ctx.connection.remotePort);
      const ua = request.headers['user-agent'];
      if (typeof ua === 'string') span.setAttribute('user_agent.original', ua);
      if (ctx.requestId !== '') span.setAttribute('http.request.header.x-request-id', ctx.requestId);
    }
    return span;
  }
}

function protocolVersion(protocol: string): string {
  switch (protocol) {
    case 'HTTP/1.0':
      return '1.0';
    case 'HTTP/1.1':
      return '1.1';
    case 'HTTP/2':
      return '2';
    default:
      return protocol;
  }
}

/**
 * A proxy's tracing: an {@link ObserverFactory} watching the HTTP chains whose connection
 * manager has a `tracing` config.
 */
export class Tracing implements ObserverFactory {
  /** The OpenTelemetry API in use, `null` when none (ids are still made and propagated). */
  readonly api: OtelApi | null;
  private readonly tracer: OtelTracer | null;
  private readonly random: () => number;

  constructor(options: TracingOptions, random: () => number) {
    this.api = options.api === undefined ? loadOpenTelemetry() : options.api;
    this.tracer = options.tracer ?? this.api?.trace.getTracer(TRACER_NAME) ?? null;
    this.random = random;
  }

  forChain(chain: ObservedChain): StreamObserver | null {
    if (chain.filter.kind !== 'http_connection_manager') return null;
    const config = chain.filter.config.tracing;
    if (config === undefined) return null;
    return new TracingObserver(config, this.random, this.api, this.tracer);
  }
}
