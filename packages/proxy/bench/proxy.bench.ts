// End to end through the proxy vs direct: requests per second and latency percentiles of small
// GETs over HTTP/1.1 keep-alive, one process (upstream, proxy and load client share one Node
// thread, so the proxy's cost shows as lost throughput). The load client is undici (a Pool of
// CONNECTIONS kept-alive connections, IN_FLIGHT requests outstanding), the upstream a node:http
// server answering 13 bytes. Each run lasts DURATION_MS after a warm-up.
//
//   node packages/proxy/bench/proxy.bench.ts            10 s per run
//   node packages/proxy/bench/proxy.bench.ts --quick    2 s per run
//   node packages/proxy/bench/proxy.bench.ts --smoke    about 1 s in all
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Pool } from 'undici';
import { createProxy } from '@meshlet/proxy';
import { fmt, quick, smoke, table } from '../../../bench/harness.ts';
import { cluster, gateway, route, routeAction } from '../test/e2e/helpers.ts';

const DURATION_MS = smoke ? 300 : quick ? 2_000 : 10_000;
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

const proxy = createProxy({
  config: gateway({
    routes: [route('all', { route: routeAction('backend') })],
    clusters: [cluster('backend', [upstreamPort])],
  }),
});
await proxy.start();
const proxyPort = proxy.address('ingress')?.port ?? 0;

interface Result {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latencies: Float64Array;
}

async function load(port: number, durationMs: number): Promise<Result> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 });
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const res = await pool.request({ path: '/bench', method: 'GET' });
        await res.body.dump();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
      requests++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { requests, errors, seconds, latencies: Float64Array.from(latencies).sort() };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const rows: Record<string, string>[] = [];
const results = new Map<string, Result>();
for (const [name, port] of [
  ['direct (undici → node:http)', upstreamPort],
  ['through @meshlet/proxy', proxyPort],
] as const) {
  await load(port, WARMUP_MS);
  const r = await load(port, DURATION_MS);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} failed requests`);
  results.set(name, r);
  const rps = r.requests / r.seconds;
  rows.push({
    path: name,
    'requests/s': fmt(rps),
    'p50 ms': fmt(percentile(r.latencies, 50), 2),
    'p99 ms': fmt(percentile(r.latencies, 99), 2),
    requests: fmt(r.requests),
  });
}
const direct = results.get('direct (undici → node:http)') as Result;
const proxied = results.get('through @meshlet/proxy') as Result;
const ratio = proxied.requests / proxied.seconds / (direct.requests / direct.seconds);
table(
  `HTTP/1.1 keep-alive GET, ${CONNECTIONS} connections, ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s, one process (proxy/direct = ${fmt(ratio, 2)})`,
  rows,
);

await proxy.close();
await new Promise<void>((resolve) => {
  upstream.closeAllConnections();
  upstream.close(() => {
    resolve();
  });
});
