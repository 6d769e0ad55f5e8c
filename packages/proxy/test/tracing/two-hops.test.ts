import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import * as api from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type * as model from '@meshlet/xds';
import type { HttpProxy, OtelApi, ProxyOptions } from '../../src/index.js';
import { cluster, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { start, upstream } = e2eScope();

// The real module satisfies the proxy's structural view of it.
const otel: OtelApi = api;

const TRACING: model.HttpTracing = { clientSampling: 100, randomSampling: 100, overallSampling: 100 };

/** What the final upstream saw, per request. */
interface Seen {
  b3: Record<string, string | undefined>;
  traceparent: string | undefined;
  tracestate: string | undefined;
  requestId: string | undefined;
}

function hopLog(): { lines: string[]; log: model.AccessLog; sink: (l: readonly string[]) => void } {
  const lines: string[] = [];
  return {
    lines,
    log: {
      name: 'hop',
      sink: { kind: 'sink', name: 'hop' },
      format: { kind: 'text', text: '%TRACE_ID% %REQ(TRACEPARENT)% %REQ(X-REQUEST-ID)%' },
    },
    sink: (l) => lines.push(...l),
  };
}

/** client → proxy A → proxy B → upstream, both proxies tracing. */
async function twoHops(options: Partial<ProxyOptions>, tracing: model.HttpTracing = TRACING) {
  const seen: Seen[] = [];
  const up = await upstream('up', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const h = req.headers as Record<string, string | undefined>;
    seen.push({
      b3: {
        b3: h.b3,
        traceId: h['x-b3-traceid'],
        spanId: h['x-b3-spanid'],
        parentSpanId: h['x-b3-parentspanid'],
        sampled: h['x-b3-sampled'],
      },
      traceparent: req.headers.traceparent as string | undefined,
      tracestate: req.headers.tracestate as string | undefined,
      requestId: req.headers['x-request-id'] as string | undefined,
    });
    req.resume();
    res.end('ok');
  });
  const logB = hopLog();
  const b = await start(
    gateway({
      routes: [route('b-route', { route: routeAction('up') })],
      clusters: [cluster('up', [up.port])],
      hcm: { tracing, accessLog: [logB.log] },
    }),
    { ...options, accessLogs: { sinks: { hop: logB.sink } } },
  );
  const logA = hopLog();
  const bPort = (b.address('ingress') as { port: number }).port;
  const a = await start(
    gateway({
      routes: [route('a-route', { route: routeAction('b') })],
      clusters: [cluster('b', [bPort])],
      hcm: { tracing, accessLog: [logA.log] },
    }),
    { ...options, accessLogs: { sinks: { hop: logA.sink } } },
  );
  const send = async (headers: Record<string, string> = {}): Promise<void> => {
    const res = await request(`${origin(a)}/checkout`, { headers });
    expect(res.statusCode).toBe(200);
    await res.body.text();
  };
  const flushLogs = async (): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { a, b, seen, send, logA, logB, flushLogs };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

function fields(traceparent: string | undefined): { traceId: string; spanId: string; flags: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent ?? '');
  if (m === null) throw new Error(`not a traceparent: ${String(traceparent)}`);
  return { traceId: m[1] as string, spanId: m[2] as string, flags: m[3] as string };
}

describe('tracing through two meshlet hops', () => {
  it('keeps one trace id, gives each hop its own span id, passes tracestate and x-request-id (no tracer)', async () => {
    const hops = await twoHops({ tracing: { api: null } });
    await hops.send({ traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' });
    await hops.flushLogs();
    const atUpstream = fields(hops.seen[0]?.traceparent);
    const [traceA, parentA, idA] = (hops.logA.lines[0] ?? '').split(' ');
    const [traceB, parentB, idB] = (hops.logB.lines[0] ?? '').split(' ');
    expect(atUpstream.traceId).toBe(TRACE);
    expect(atUpstream.flags).toBe('01');
    expect(traceA).toBe(TRACE);
    expect(traceB).toBe(TRACE);
    // A's span id (what A sent to B) is B's parent; B's is what the upstream got; all distinct.
    const spanA = fields(parentA).spanId;
    const spanB = fields(parentB).spanId;
    expect(spanB).toBe(atUpstream.spanId);
    expect(new Set([CLIENT_SPAN, spanA, spanB]).size).toBe(3);
    expect(hops.seen[0]?.tracestate).toBe('vendor=abc');
    // x-request-id: made by A, kept by B.
    expect(idA).toMatch(/^[0-9a-f-]{36}$/);
    expect(idB).toBe(idA);
    expect(hops.seen[0]?.requestId).toBe(idA);
  });

  it('understands a client that speaks only B3 (multi and single header) and answers each hop in B3', async () => {
    const hops = await twoHops({ tracing: { api: null } });
    const trace64 = 'a3ce929d0e0e4736';
    await hops.send({ 'x-b3-traceid': trace64, 'x-b3-spanid': CLIENT_SPAN, 'x-b3-sampled': '1' });
    await hops.send({ b3: `${TRACE}-${CLIENT_SPAN}-0` });
    const [multi, single] = hops.seen;
    // The W3C header carries the same trace (64-bit ids padded), B3 keeps the client's width.
    const w3c = fields(multi?.traceparent);
    expect(w3c.traceId).toBe(`0000000000000000${trace64}`);
    expect(w3c.flags).toBe('01');
    expect(multi?.b3.traceId).toBe(trace64);
    expect(multi?.b3.spanId).toBe(w3c.spanId);
    expect(multi?.b3.sampled).toBe('1');
    // B's parent is A's span, not the client's: each hop has its own.
    expect(multi?.b3.parentSpanId).not.toBe(CLIENT_SPAN);
    expect(multi?.b3.parentSpanId).toMatch(/^[0-9a-f]{16}$/);
    const w3cSingle = fields(single?.traceparent);
    expect(w3cSingle.traceId).toBe(TRACE);
    expect(w3cSingle.flags).toBe('00');
    expect(single?.b3.b3).toMatch(new RegExp(`^${TRACE}-${w3cSingle.spanId}-0-[0-9a-f]{16}$`));
    expect(single?.b3.traceId).toBeUndefined();
  });

  it('starts a new trace for a missing or malformed traceparent, and drops its tracestate', async () => {
    const hops = await twoHops({ tracing: { api: null } });
    await hops.send();
    await hops.send({ traceparent: 'garbage', tracestate: 'vendor=abc' });
    await hops.send({ traceparent: `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01` });
    await hops.send({ traceparent: `ff-${TRACE}-${CLIENT_SPAN}-01` });
    const ids = hops.seen.map((s) => fields(s.traceparent));
    expect(new Set(ids.map((f) => f.traceId)).size).toBe(4);
    expect(ids.every((f) => f.traceId !== TRACE && f.flags === '01')).toBe(true);
    expect(hops.seen[1]?.tracestate).toBeUndefined();
  });

  it('samples new traces per random_sampling, client_sampling and overall_sampling, and follows the parent', async () => {
    const hops = await twoHops(
      { tracing: { api: null } },
      { clientSampling: 100, randomSampling: 0, overallSampling: 100 },
    );
    await hops.send();
    await hops.send({ 'x-client-trace-id': 'c1' });
    await hops.send({ traceparent: `00-${TRACE}-${CLIENT_SPAN}-00` });
    expect(hops.seen.map((s) => fields(s.traceparent).flags)).toEqual(['00', '01', '00']);
    const capped = await twoHops(
      { tracing: { api: null } },
      { clientSampling: 100, randomSampling: 100, overallSampling: 0 },
    );
    await capped.send({ 'x-client-trace-id': 'c1' });
    expect(fields(capped.seen[0]?.traceparent).flags).toBe('00');
  });

  it('propagates the same way with the OpenTelemetry API installed but no SDK', async () => {
    const hops = await twoHops({ tracing: { api: otel } });
    await hops.send({ traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` });
    const atUpstream = fields(hops.seen[0]?.traceparent);
    expect(atUpstream.traceId).toBe(TRACE);
    expect(atUpstream.spanId).not.toBe(CLIENT_SPAN);
  });

  it('records a SERVER span per hop with the OpenTelemetry SDK, linked parent → child', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('meshlet-test');
    const hops: { a: HttpProxy; seen: Seen[]; send: (h?: Record<string, string>) => Promise<void> } =
      await twoHops({ tracing: { api: otel, tracer } });
    await hops.send({ traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, 'user-agent': 'test-client' });
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    // B ends first (its response finishes before A's).
    const [spanB, spanA] = spans as [(typeof spans)[0], (typeof spans)[0]];
    const atUpstream = fields(hops.seen[0]?.traceparent);
    expect(spanA.spanContext().traceId).toBe(TRACE);
    expect(spanB.spanContext().traceId).toBe(TRACE);
    expect(spanA.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(spanB.parentSpanContext?.spanId).toBe(spanA.spanContext().spanId);
    expect(atUpstream.spanId).toBe(spanB.spanContext().spanId);
    expect(spanA.kind).toBe(api.SpanKind.SERVER);
    expect(spanA.name).toBe('GET');
    expect(spanA.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/checkout',
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'network.protocol.version': '1.1',
      'user_agent.original': 'test-client',
      'meshlet.upstream.cluster': 'b',
      'meshlet.route.name': 'a-route',
    });
    expect(spanB.attributes['meshlet.upstream.cluster']).toBe('up');
    expect(spanA.status.code).toBe(api.SpanStatusCode.UNSET);
    await provider.shutdown();
  });

  it('marks a span as an error on a 5xx answer', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('empty') })],
        clusters: [cluster('empty', [])],
        hcm: { tracing: TRACING },
      }),
      { tracing: { api: otel, tracer: provider.getTracer('t') } },
    );
    const res = await request(`${origin(proxy)}/`);
    await res.body.text();
    expect(res.statusCode).toBe(503);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(api.SpanStatusCode.ERROR);
    expect(span?.attributes['meshlet.response_flags']).toBe('UH');
    expect(span?.parentSpanContext).toBeUndefined();
    await provider.shutdown();
  });
});
