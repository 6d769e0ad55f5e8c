// What the overload manager buys, measured by hand (not part of npm test):
//
//   node packages/proxy/bench/overload-shed.ts
//
// 1. Shedding cost: a burst of requests while stop_accepting_requests is saturated (the heap
//    monitor is fed a value over its limit, to hold the action on): 503s per second, CPU µs per
//    shed request, latency, heap after GC, requests that reached the upstream (must be 0).
// 2. Memory held: 2,000 connections each send one request to an upstream that never answers.
//    Without an overload manager the proxy holds every one; with global_downstream_max_connections
//    at 500 the rest are closed at accept. Heap growth after GC, requests held.
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { createProxy, snapshotOfBootstrap, type HttpProxy } from '@meshlet/proxy';
import { parseBootstrap } from '@meshlet/xds';
import type * as model from '@meshlet/xds';

const gc = (globalThis as { gc?: () => void }).gc;

function config(upstreamPort: number): object {
  const json = {
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'up', timeout: '60s' } }],
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
          name: 'up',
          type: 'STATIC',
          connect_timeout: '1s',
          circuit_breakers: {
            thresholds: [{ max_connections: 100_000, max_pending_requests: 100_000, max_requests: 100_000 }],
          },
          load_assignment: {
            cluster_name: 'up',
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
  };
  return json;
}

async function proxyFor(
  upstreamPort: number,
  overloadManager?: model.OverloadManager,
  heapUsed?: () => number,
): Promise<{ proxy: HttpProxy; port: number }> {
  const { bootstrap } = parseBootstrap(config(upstreamPort));
  const proxy = createProxy({
    config: snapshotOfBootstrap(bootstrap),
    ...(overloadManager ? { overloadManager } : {}),
    ...(heapUsed ? { resourceSources: { heapUsed } } : {}),
  });
  await proxy.start();
  return { proxy, port: (proxy.address('ingress') as AddressInfo).port };
}

function heapMb(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 1e6;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function shedding(): Promise<void> {
  let reached = 0;
  const upstream = http.createServer((req, res) => {
    reached++;
    req.resume();
    res.end('up');
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const heap: model.ResourceMonitor = { name: 'heap', kind: 'fixed_heap', maxHeapSizeBytes: 1 };
  let pressure = 0;
  const { proxy, port } = await proxyFor(
    (upstream.address() as AddressInfo).port,
    {
      refreshIntervalMs: 60_000,
      resourceMonitors: [heap],
      actions: [
        {
          name: 'envoy.overload_actions.stop_accepting_requests',
          kind: 'stop_accepting_requests',
          triggers: [{ name: 'heap', threshold: { value: 0.9 } }],
        },
      ],
    },
    () => pressure,
  );
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 50 });
  const run = async (label: string): Promise<void> => {
    const total = 20_000;
    const latencies: number[] = [];
    const reachedBefore = reached;
    const before = heapMb();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    let shed = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const start = performance.now();
        const res = await pool.request({ method: 'GET', path: '/' });
        await res.body.text();
        latencies.push(performance.now() - start);
        if (res.statusCode === 503) shed++;
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const after = heapMb();
    latencies.sort((a, b) => a - b);
    console.log(
      `${label}: ${total} requests, 50 connections: ${shed} answered 503, ${reached - reachedBefore} reached the upstream; ` +
        `${Math.round(total / seconds)} req/s; CPU (proxy + upstream + client, one process) ${((cpu.user + cpu.system) / total).toFixed(1)} µs/request; ` +
        `latency p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms; ` +
        `heap after GC ${before.toFixed(1)} → ${after.toFixed(1)} MB`,
    );
  };
  await run('proxied (not overloaded)');
  pressure = 2; // twice the limit: stop_accepting_requests saturates
  proxy.overload?.refresh();
  await run('shed (stop_accepting_requests saturated)');
  await pool.close();
  await proxy.close();
  upstream.close();
}

async function held(limit: boolean): Promise<void> {
  const sockets = new Set<Socket>();
  const upstream = http.createServer((req) => {
    req.resume(); // never answers
  });
  upstream.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const connections: model.ResourceMonitor = {
    name: 'envoy.resource_monitors.global_downstream_max_connections',
    kind: 'global_downstream_max_connections',
    maxActiveDownstreamConnections: 500,
  };
  const { proxy, port } = await proxyFor(
    (upstream.address() as AddressInfo).port,
    limit ? { refreshIntervalMs: 1000, resourceMonitors: [connections], actions: [] } : undefined,
  );
  const clients = 2000;
  const pool = new Pool(`http://127.0.0.1:${port}`, {
    connections: clients,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const before = heapMb();
  let refused = 0;
  const pending = Array.from({ length: clients }, () =>
    pool.request({ method: 'GET', path: '/' }).then(
      () => undefined,
      () => {
        refused++;
      },
    ),
  );
  // Wait until every request is held upstream or refused.
  for (let i = 0; i < 600; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stat = [...(proxy.stats?.gauges() ?? [])].find(
      (g) => g.name === 'http.ingress.downstream_rq_active',
    );
    if ((stat?.value ?? 0) + refused >= clients) break;
  }
  const active = [...(proxy.stats?.gauges() ?? [])].find(
    (g) => g.name === 'http.ingress.downstream_rq_active',
  )?.value;
  const after = heapMb();
  console.log(
    `held (${limit ? 'global_downstream_max_connections 500' : 'no overload manager'}): ${clients} connections, one request each, upstream never answers: ` +
      `${String(active)} requests held by the proxy, ${refused} refused at accept, ${sockets.size} upstream connections; ` +
      `heap after GC ${before.toFixed(1)} → ${after.toFixed(1)} MB (+${(after - before).toFixed(1)} MB, client included)`,
  );
  await proxy.close();
  await pool.destroy();
  await Promise.allSettled(pending);
  for (const s of sockets) s.destroy();
  upstream.close();
}

if (gc === undefined) console.log('(run with --expose-gc for heap figures after GC)');
await shedding();
await held(false);
await held(true);
