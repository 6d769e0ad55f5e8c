// The cost of tracing and access logs, two ways.
//
// 1. Per request, the observers alone: `streamStarted` + `streamEnded` of one chain's observer on
//    a prepared request (no sockets), for: no observer at all (the no-op), tracing with no
//    OpenTelemetry (W3C header propagation only), tracing with `@opentelemetry/api` but no SDK
//    (what an application that only depends on the API gets), tracing with the SDK
//    (`BasicTracerProvider`, spans recorded, no exporter), and access logs (text and JSON, to a
//    sink that discards the lines).
// 2. End to end through the proxy (HTTP/1.1 keep-alive, one process): requests per second with
//    access logs and tracing off vs on, best of three rounds.
//
//   node packages/proxy/bench/tracing.bench.ts            full run
//   node packages/proxy/bench/tracing.bench.ts --quick    rough figures
//   node packages/proxy/bench/tracing.bench.ts --smoke    proves it runs
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Pool } from 'undici';
import * as otel from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type * as model from '@meshlet/xds';
import {
  AccessLogs,
  NOOP_STREAM_OBSERVER,
  Tracing,
  createProxy,
  type HttpContext,
  type ObservedChain,
  type StreamObserver,
} from '@meshlet/proxy';
import { fmt, measure, quick, smoke, table } from '../../../bench/harness.ts';
import { cluster, gateway, hcm, route, routeAction } from '../test/e2e/helpers.ts';

const PER_CALL = 100;
const TRACING: model.HttpTracing = { clientSampling: 100, randomSampling: 100, overallSampling: 100 };
const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function chainOf(config: Partial<model.HttpConnectionManager>): ObservedChain {
  return {
    listenerName: 'ingress',
    chainName: 'default',
    kind: 'http',
    statPrefix: 'ingress_http',
    filter: { name: 'hcm', kind: 'http_connection_manager', config: hcm(config) },
  };
}

/** A request as the connection manager hands it to observers, reused for every call. */
const headers: Record<string, string> = {};
const ctx = {
  request: { method: 'GET', scheme: 'http', authority: 'shop.example.com', path: '/cart?id=7', headers },
  response: { status: 200, headers: { 'content-type': 'text/plain', 'x-envoy-upstream-service-time': '3' } },
  connection: {
    id: 1,
    listenerName: 'ingress',
    remoteAddress: '10.0.0.7',
    remotePort: 50123,
    localAddress: '10.0.0.1',
    localPort: 8080,
    tls: false,
    serverName: undefined,
    alpnProtocol: undefined,
  },
  protocol: 'HTTP/1.1',
  requestId: '6f1c1f2e-9a0b-4a57-8f57-2c9c7c4e5d10',
  isGrpc: false,
  route: null,
  state: new Map(),
  aborted: false,
  replied: false,
  info: {
    startTime: 100,
    startTimeUnixMs: Date.now(),
    responseFlags: new Set(),
    responseCodeDetails: 'via_upstream',
    upstreamCluster: 'carts',
    upstreamHost: '10.0.1.9:8080',
    attempts: 1,
    bytesReceived: 0,
    bytesSent: 13,
    endTime: 103.2,
    downstreamRemoteAddress: '10.0.0.7',
  },
} as unknown as HttpContext;

function reset(): void {
  headers['user-agent'] = 'bench/1.0';
  headers['x-request-id'] = '6f1c1f2e-9a0b-4a57-8f57-2c9c7c4e5d10';
  headers.traceparent = INCOMING;
}

function must(observer: StreamObserver | null): StreamObserver {
  if (observer === null) throw new Error('the chain has no observer');
  return observer;
}

function task(name: string, observer: StreamObserver): { name: string; fn: () => void } {
  return {
    name,
    fn: () => {
      for (let i = 0; i < PER_CALL; i++) {
        reset();
        observer.streamStarted(ctx);
        observer.streamEnded(ctx);
      }
    },
  };
}

const discard = (): void => undefined;
const accessLogs = new AccessLogs({ sinks: { discard }, maxQueuedLines: 1 << 20 }, (e: unknown) => {
  throw e;
});
const textLog: model.AccessLog = {
  name: 'text',
  sink: { kind: 'sink', name: 'discard' },
  format: { kind: 'default' },
};
const jsonLog: model.AccessLog = {
  name: 'json',
  sink: { kind: 'sink', name: 'discard' },
  format: {
    kind: 'json',
    json: {
      start: '%START_TIME%',
      method: '%REQ(:METHOD)%',
      path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
      status: '%RESPONSE_CODE%',
      flags: '%RESPONSE_FLAGS%',
      duration: '%DURATION%',
      upstream: '%UPSTREAM_HOST%',
      request_id: '%REQ(X-REQUEST-ID)%',
    },
    omitEmptyValues: false,
  },
};
const provider = new BasicTracerProvider();
const observers: [string, StreamObserver][] = [
  ['no observer (no tracing config)', NOOP_STREAM_OBSERVER],
  [
    'tracing, no OpenTelemetry',
    must(new Tracing({ api: null }, Math.random).forChain(chainOf({ tracing: TRACING }))),
  ],
  [
    'tracing, @opentelemetry/api without SDK',
    must(new Tracing({ api: otel }, Math.random).forChain(chainOf({ tracing: TRACING }))),
  ],
  [
    'tracing, OpenTelemetry SDK (no exporter)',
    must(
      new Tracing({ api: otel, tracer: provider.getTracer('bench') }, Math.random).forChain(
        chainOf({ tracing: TRACING }),
      ),
    ),
  ],
  ['access log, default text format', must(accessLogs.forChain(chainOf({ accessLog: [textLog] })))],
  ['access log, JSON (8 fields)', must(accessLogs.forChain(chainOf({ accessLog: [jsonLog] })))],
];
const measured = await measure(observers.map(([name, o]) => task(name, o)));
const base = measured[0]?.meanNs ?? 1;
table(
  'Observer cost per request: streamStarted + streamEnded (lower is better)',
  measured.map((m) => ({
    observer: m.name,
    'ns per request': fmt(m.meanNs / PER_CALL),
    'added ns': fmt((m.meanNs - base) / PER_CALL),
  })),
);
await accessLogs.close();
await provider.shutdown();

// ── end to end ──────────────────────────────────────────────────────────────────────────────

const DURATION_MS = smoke ? 200 : quick ? 1_000 : 4_000;
const WARMUP_MS = smoke ? 50 : quick ? 300 : 1_000;
const CONNECTIONS = 8;
const IN_FLIGHT = 32;

const upstream = http.createServer((_req, res) => {
  res.end('hello, world!');
});
upstream.keepAliveTimeout = 60_000;
upstream.listen(0, '127.0.0.1');
await once(upstream, 'listening');
const upstreamPort = (upstream.address() as AddressInfo).port;

async function load(port: number, durationMs: number): Promise<number> {
  const pool = new Pool(`http://127.0.0.1:${String(port)}`, { connections: CONNECTIONS });
  let requests = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const res = await pool.request({ path: '/bench', method: 'GET' });
      await res.body.dump();
      requests++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return requests / seconds;
}

const variants: [string, Partial<model.HttpConnectionManager>][] = [
  ['off', {}],
  ['access log (default format, discarding sink)', { accessLog: [textLog] }],
  ['tracing (no OpenTelemetry)', { tracing: TRACING }],
  ['access log + tracing', { accessLog: [textLog], tracing: TRACING }],
];
// Rounds over the variants (the best of each kept), so that JIT warm-up and the machine's noise
// do not favour whichever runs last.
const ROUNDS = smoke ? 1 : 3;
const best = new Map<string, number>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, more] of variants) {
    const proxy = createProxy({
      config: gateway({
        routes: [route('all', { route: routeAction('backend') })],
        clusters: [cluster('backend', [upstreamPort])],
        hcm: more,
      }),
      accessLogs: { sinks: { discard } },
      tracing: { api: null },
    });
    await proxy.start();
    const port = proxy.address('ingress')?.port ?? 0;
    await load(port, WARMUP_MS);
    const rps = await load(port, DURATION_MS);
    best.set(name, Math.max(best.get(name) ?? 0, rps));
    await proxy.close();
  }
}
const offRps = best.get('off') ?? 1;
const rows = variants.map(([name]) => {
  const rps = best.get(name) ?? 0;
  return {
    'access log / tracing': name,
    'requests/s (best of rounds)': fmt(rps),
    'vs off': `${fmt(((rps - offRps) / offRps) * 100, 1)}%`,
  };
});
table('Proxy throughput, HTTP/1.1 keep-alive, one process (higher is better)', rows);
upstream.close();
