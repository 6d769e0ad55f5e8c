// What stats cost the proxy: throughput and latency of small GETs through two proxies in the
// same process, one recording Envoy's stats (the default) and one with `stats: false`, plus a
// second `stats: false` proxy as a control: the gap between the two identical ones is the noise
// floor of the machine. Runs rotate (on, off, control; off, control, on...) so that drift of a
// shared machine hits all alike; the figures are the sums over ROUNDS runs of DURATION_MS each.
// Goal: under 5 % apart. Then the
// recording itself: what one request's stats cost (HTTP connection manager + cluster), in time
// and in garbage.
//
//   node packages/proxy/bench/observability.bench.ts            12 × 1.5 s per proxy
//   node packages/proxy/bench/observability.bench.ts --quick    6 × 0.5 s per proxy
//   node packages/proxy/bench/observability.bench.ts --smoke    about 1 s in all
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Pool } from 'undici';
import { createProxy, ProxyStats } from '@meshlet/proxy';
import type { HttpContext, HttpProxy, ObservedChain, StreamInfo } from '@meshlet/proxy';
import { createStatsStore } from '@meshlet/stats';
import { fmt, gcCost, measure, quick, smoke, table } from '../../../bench/harness.ts';
import { cluster, gateway, route, routeAction } from '../test/e2e/helpers.ts';

const ROUNDS = smoke ? 1 : quick ? 6 : 12;
const DURATION_MS = smoke ? 200 : quick ? 500 : 1_500;
const WARMUP_MS = smoke ? 100 : quick ? 500 : 2_000;
const CONNECTIONS = 16;
const IN_FLIGHT = 64;

const upstream = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('hello, world!');
});
upstream.keepAliveTimeout = 60_000;
upstream.listen(0, '127.0.0.1');
await once(upstream, 'listening');
const upstreamPort = (upstream.address() as AddressInfo).port;

async function proxyWith(stats: boolean): Promise<HttpProxy> {
  const proxy = createProxy({
    config: gateway({
      routes: [route('all', { route: routeAction('backend') })],
      clusters: [cluster('backend', [upstreamPort])],
    }),
    ...(stats ? {} : { stats: false as const }),
  });
  await proxy.start();
  return proxy;
}

interface Totals {
  requests: number;
  seconds: number;
  latencies: number[];
}

async function load(port: number, durationMs: number, into: Totals | null): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 });
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const res = await pool.request({ path: '/bench', method: 'GET' });
      await res.body.dump();
      if (res.statusCode !== 200) errors++;
      into?.latencies.push(performance.now() - t0);
      requests++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  if (errors > 0) throw new Error(`${errors} failed requests`);
  if (into !== null) {
    into.requests += requests;
    into.seconds += seconds;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const on = await proxyWith(true);
const off = await proxyWith(false);
const control = await proxyWith(false);
const sides = [
  { name: 'stats on (default)', proxy: on, totals: { requests: 0, seconds: 0, latencies: [] } as Totals },
  { name: 'stats: false', proxy: off, totals: { requests: 0, seconds: 0, latencies: [] } as Totals },
  {
    name: 'stats: false (control)',
    proxy: control,
    totals: { requests: 0, seconds: 0, latencies: [] } as Totals,
  },
];
for (const side of sides) await load(side.proxy.address('ingress')?.port ?? 0, WARMUP_MS, null);
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < sides.length; i++) {
    const side = sides[(round + i) % sides.length] as (typeof sides)[0];
    await load(side.proxy.address('ingress')?.port ?? 0, DURATION_MS, side.totals);
  }
}

const rps = (t: Totals): number => t.requests / t.seconds;
const rows = sides.map(({ name, totals }) => {
  const sorted = Float64Array.from(totals.latencies).sort();
  return {
    proxy: name,
    'requests/s': fmt(rps(totals)),
    'p50 ms': fmt(percentile(sorted, 50), 2),
    'p99 ms': fmt(percentile(sorted, 99), 2),
    requests: fmt(totals.requests),
  };
});
const [withStats, without, twin] = sides as [(typeof sides)[0], (typeof sides)[0], (typeof sides)[0]];
const delta = (1 - rps(withStats.totals) / rps(without.totals)) * 100;
const noise = Math.abs(1 - rps(twin.totals) / rps(without.totals)) * 100;
table(
  `HTTP/1.1 keep-alive GET through the proxy, stats on vs off, ${CONNECTIONS} connections, ${IN_FLIGHT} in flight, ${ROUNDS} × ${DURATION_MS / 1000} s per proxy, rotating (stats cost ${fmt(delta, 1)} % of throughput, goal < 5 %; the two identical proxies differ by ${fmt(noise, 1)} %)`,
  rows,
);
const store = on.stats;
if (store === null) throw new Error('stats on has no store');
let recorded = 0;
for (const c of store.counters()) if (c.name === 'cluster.backend.upstream_rq_total') recorded = c.value;
if (recorded === 0) throw new Error('the proxy with stats recorded no upstream request');

// ── the recording alone: one request's downstream and upstream stats ────────────────────────
const recorder = new ProxyStats(createStatsStore(), () => ({ address: '127.0.0.1', port: 10000 }));
const chain = {
  listenerName: 'ingress',
  chainName: 'default',
  kind: 'http',
  statPrefix: 'ingress_http',
  filter: { name: 'hcm', kind: 'http_connection_manager', config: {} },
} as unknown as ObservedChain;
const observer = recorder.forChain(chain);
const upstreamStats = recorder.forCluster({
  name: 'backend',
  loadBalancer: { hosts: [], on: () => undefined },
  outlierDetector: null,
  on: () => undefined,
});
const host = { key: '127.0.0.1:8080' } as unknown as Parameters<typeof upstreamStats.requestStarted>[0];
const info = { startTime: 1, endTime: 3, responseFlags: new Set() } as unknown as StreamInfo;
const ctx = {
  protocol: 'HTTP/1.1',
  response: { status: 200, headers: {} },
  info,
  aborted: false,
} as unknown as HttpContext;
const outcome = { kind: 'response', status: 200 } as const;
function recordOne(): void {
  observer.streamStarted(ctx);
  upstreamStats.requestStarted(host);
  upstreamStats.requestEnded(host, outcome, 1.5);
  observer.streamEnded(ctx);
}
const [timed] = await measure([{ name: 'one request recorded', fn: recordOne }]);
const CALLS = smoke ? 10_000 : 1_000_000;
const garbage = await gcCost(() => {
  for (let i = 0; i < CALLS; i++) recordOne();
});
table('Stats recorded per request (downstream_rq_* and upstream_rq_* with both latency histograms)', [
  {
    work: 'streamStarted + requestStarted + requestEnded + streamEnded',
    'time per request': `${fmt(timed?.meanNs ?? 0)} ns`,
    requests: fmt(CALLS),
    'GC runs': garbage.count,
    'GC ms': fmt(garbage.ms, 1),
  },
]);

await on.close();
await off.close();
await control.close();
await new Promise<void>((resolve) => {
  upstream.closeAllConnections();
  upstream.close(() => {
    resolve();
  });
});
