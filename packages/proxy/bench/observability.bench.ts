// What stats cost the proxy: throughput and latency of small GETs through two proxies in the
// same process, one recording Envoy's stats (the default) and one with `stats: false`. Runs
// alternate (on, off, on, off...) so that drift of a shared machine hits both alike; the
// figures are the sums over ROUNDS runs of DURATION_MS each. Goal: under 5 % apart.
//
//   node packages/proxy/bench/observability.bench.ts            3 × 5 s per side
//   node packages/proxy/bench/observability.bench.ts --quick    3 × 1 s per side
//   node packages/proxy/bench/observability.bench.ts --smoke    about 1 s in all
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Pool } from 'undici';
import { createProxy } from '@meshlet/proxy';
import type { HttpProxy } from '@meshlet/proxy';
import { fmt, quick, smoke, table } from '../../../bench/harness.ts';
import { cluster, gateway, route, routeAction } from '../test/e2e/helpers.ts';

const ROUNDS = smoke ? 1 : 3;
const DURATION_MS = smoke ? 250 : quick ? 1_000 : 5_000;
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
const sides = [
  { name: 'stats on (default)', proxy: on, totals: { requests: 0, seconds: 0, latencies: [] } as Totals },
  { name: 'stats: false', proxy: off, totals: { requests: 0, seconds: 0, latencies: [] } as Totals },
];
for (const side of sides) await load(side.proxy.address('ingress')?.port ?? 0, WARMUP_MS, null);
for (let round = 0; round < ROUNDS; round++) {
  for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
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
const [withStats, without] = sides as [(typeof sides)[0], (typeof sides)[0]];
const delta = (1 - rps(withStats.totals) / rps(without.totals)) * 100;
table(
  `HTTP/1.1 keep-alive GET through the proxy, stats on vs off, ${CONNECTIONS} connections, ${IN_FLIGHT} in flight, ${ROUNDS} × ${DURATION_MS / 1000} s per side, alternating (stats cost ${fmt(delta, 1)} % of throughput; goal < 5 %)`,
  rows,
);
const store = on.stats;
if (store === null) throw new Error('stats on has no store');
let recorded = 0;
for (const c of store.counters()) if (c.name === 'cluster.backend.upstream_rq_total') recorded = c.value;
if (recorded === 0) throw new Error('the proxy with stats recorded no upstream request');

await on.close();
await off.close();
await new Promise<void>((resolve) => {
  upstream.closeAllConnections();
  upstream.close(() => {
    resolve();
  });
});
