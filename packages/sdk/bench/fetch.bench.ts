// mesh.fetch (the in-process egress) vs plain undici fetch straight to the upstream, vs undici
// fetch to a meshlet listener on loopback (the sidecar way: one more socket hop). Small GETs,
// IN_FLIGHT outstanding, upstream, mesh and client in one Node process, each run DURATION_MS
// after a warm-up; plus `request()` with `mesh.dispatcher` vs an undici Pool.
//
//   node packages/sdk/bench/fetch.bench.ts            5 s per run
//   node packages/sdk/bench/fetch.bench.ts --quick    1 s per run
//   node packages/sdk/bench/fetch.bench.ts --smoke    about 1 s in all
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Agent, fetch, Pool, request } from 'undici';
import { createMesh } from '@meshlet/sdk';
import { fmt, quick, smoke, table } from '../../../bench/harness.ts';

const DURATION_MS = smoke ? 200 : quick ? 1_000 : 5_000;
const WARMUP_MS = smoke ? 50 : quick ? 300 : 1_500;
const IN_FLIGHT = 32;

const upstream = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('hello, world!');
});
upstream.keepAliveTimeout = 60_000;
upstream.listen(0, '127.0.0.1');
await once(upstream, 'listening');
const upstreamPort = (upstream.address() as AddressInfo).port;

const mesh = await createMesh({
  config: {
    static_resources: {
      listeners: [
        {
          name: 'sidecar',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'sidecar',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'backend',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'backend',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'backend',
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: {
                      address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } },
                    },
                  },
                ],
              },
            ],
          },
        },
      ],
    },
  },
  admin: false,
});
await mesh.listen();
const sidecarPort = mesh.address('sidecar')?.port ?? 0;

const agent = new Agent({ connections: IN_FLIGHT });
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: IN_FLIGHT });

type Call = () => Promise<number>;
const calls: [string, Call][] = [
  [
    'fetch → upstream (undici, no mesh)',
    async () => {
      const res = await fetch(`http://127.0.0.1:${upstreamPort}/bench`, { dispatcher: agent });
      await res.arrayBuffer();
      return res.status;
    },
  ],
  [
    'mesh.fetch (in-process egress)',
    async () => {
      const res = await mesh.fetch('http://backend/bench');
      await res.arrayBuffer();
      return res.status;
    },
  ],
  [
    'fetch → meshlet listener (sidecar hop)',
    async () => {
      const res = await fetch(`http://127.0.0.1:${sidecarPort}/bench`, { dispatcher: agent });
      await res.arrayBuffer();
      return res.status;
    },
  ],
  [
    'request() → upstream (undici Pool, no mesh)',
    async () => {
      const res = await pool.request({ path: '/bench', method: 'GET' });
      await res.body.dump();
      return res.statusCode;
    },
  ],
  [
    'request() with mesh.dispatcher',
    async () => {
      const res = await request('http://backend/bench', { dispatcher: mesh.dispatcher });
      await res.body.dump();
      return res.statusCode;
    },
  ],
];

async function load(
  call: Call,
  durationMs: number,
): Promise<{ requests: number; seconds: number; p99: number }> {
  const latencies: number[] = [];
  let requests = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const status = await call();
      if (status !== 200) throw new Error(`status ${status}`);
      latencies.push(performance.now() - t0);
      requests++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  latencies.sort((a, b) => a - b);
  return {
    requests,
    seconds: (performance.now() - started) / 1000,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}

const rows: Record<string, string>[] = [];
for (const [name, call] of calls) {
  await load(call, WARMUP_MS);
  const r = await load(call, DURATION_MS);
  rows.push({
    path: name,
    'requests/s': fmt(r.requests / r.seconds),
    'p99 ms': fmt(r.p99, 2),
    requests: fmt(r.requests),
  });
}
table(`small GETs, ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s per run, one process`, rows);

await mesh.close();
await agent.close();
await pool.close();
await new Promise<void>((resolve) => {
  upstream.closeAllConnections();
  upstream.close(() => {
    resolve();
  });
});
