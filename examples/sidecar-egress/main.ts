// An application calling its "catalog" service through meshlet, in-process: no sidecar, no local
// listener. `createMesh` (from @meshlet/sdk) takes an Envoy-style config; `mesh.fetch` routes
// `http://catalog/...` by that config's route table, with retries on 5xx to another host, a
// circuit breaker, and outlier detection that ejects the instance that keeps failing.
//
// `node examples/sidecar-egress/main.ts` runs the tour and exits, as does `--smoke` (npm test runs
// it through test/examples-sidecar-egress.test.ts).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMesh, type Mesh } from '@meshlet/sdk';

/** One catalog instance on a free loopback port; a `broken` one answers every request with a 503. */
async function catalogInstance(name: string, broken: boolean): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    if (broken) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`${name} is unwell\n`);
      return;
    }
    const attempt = Number(req.headers['x-envoy-attempt-count'] ?? 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ instance: name, path: req.url, attempt }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const socketAddress = (port: number): object => ({
  socket_address: { address: '127.0.0.1', port_value: port },
});

/**
 * The app's mesh config, an Envoy v3 bootstrap: one egress listener (never bound here: its route
 * table is what `mesh.fetch` uses) and the `catalog` cluster with two instances.
 */
export function meshConfig(healthyPort: number, brokenPort: number): object {
  return {
    static_resources: {
      listeners: [
        {
          name: 'egress',
          address: socketAddress(0),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'egress',
                    route_config: {
                      name: 'egress',
                      virtual_hosts: [
                        {
                          name: 'catalog',
                          domains: ['catalog'],
                          routes: [
                            {
                              match: { prefix: '/' },
                              route: {
                                cluster: 'catalog',
                                timeout: '2s',
                                // A 5xx is retried (twice at most), on another host than the one that failed.
                                retry_policy: {
                                  retry_on: '5xx,reset,connect-failure',
                                  num_retries: 2,
                                  retry_host_predicate: [
                                    { name: 'envoy.retry_host_predicates.previous_hosts' },
                                  ],
                                },
                              },
                            },
                          ],
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
          name: 'catalog',
          type: 'STATIC',
          connect_timeout: '1s',
          lb_policy: 'ROUND_ROBIN',
          // The breaker: at most 100 requests in flight and 3 retries in flight to catalog.
          circuit_breakers: { thresholds: [{ max_requests: 100, max_pending_requests: 50, max_retries: 3 }] },
          // Three 5xx in a row eject a host for 30 s (at most half of the hosts).
          outlier_detection: {
            consecutive_5xx: 3,
            interval: '10s',
            base_ejection_time: '30s',
            max_ejection_percent: 50,
          },
          load_assignment: {
            cluster_name: 'catalog',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: socketAddress(healthyPort) } },
                  { endpoint: { address: socketAddress(brokenPort) } },
                ],
              },
            ],
          },
        },
      ],
    },
  };
}

/** The running example: the mesh, and a way to stop it and the services. */
export interface Example {
  readonly mesh: Mesh;
  close(): Promise<void>;
}

/** Starts the two catalog instances (`catalog-a` healthy, `catalog-b` broken) and the mesh. */
export async function startExample(): Promise<Example> {
  const healthy = await catalogInstance('catalog-a', false);
  const broken = await catalogInstance('catalog-b', true);
  const port = (s: Server): number => (s.address() as AddressInfo).port;
  const mesh = await createMesh({ config: meshConfig(port(healthy), port(broken)) });
  return {
    mesh,
    async close() {
      await mesh.close();
      for (const s of [healthy, broken]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  };
}

/** The catalog cluster's counters from the mesh's Prometheus output (Envoy's names). */
function catalogStats(mesh: Mesh): Map<string, number> {
  const out = new Map<string, number>();
  const line = /^envoy_cluster_([a-z_0-9]+)\{envoy_cluster_name="catalog"\} (\d+)/;
  for (const l of (mesh.proxy.stats?.prometheus() ?? '').split('\n')) {
    const m = line.exec(l);
    if (m !== null) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

/** Ten calls through the mesh, one line each, then what the cluster's stats say. */
export async function tour(mesh: Mesh): Promise<string[]> {
  const lines: string[] = [];
  for (let i = 1; i <= 10; i++) {
    const res = await mesh.fetch(`http://catalog/items/${i}`);
    const text = await res.text();
    if (res.status === 200) {
      const body = JSON.parse(text) as { instance: string; attempt: number };
      const how =
        body.attempt > 1 ? `after ${body.attempt - 1} retry (the broken instance said 503)` : 'first try';
      lines.push(`GET http://catalog/items/${String(i).padEnd(2)} → 200 from ${body.instance}, ${how}`);
    } else {
      lines.push(`GET http://catalog/items/${String(i).padEnd(2)} → ${res.status} ${text.trim()}`);
    }
  }
  const s = catalogStats(mesh);
  const n = (name: string): number => s.get(name) ?? 0;
  lines.push(
    `catalog stats: ${n('upstream_rq_total')} upstream requests, ${n('upstream_rq_retry')} retries, ` +
      `${n('outlier_detection_ejections_enforced_total')} ejection (catalog-b), ` +
      `${n('outlier_detection_ejections_active')} host ejected now, ${n('upstream_rq_pending_overflow')} refused by the breaker`,
  );
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await startExample();
  console.log('An app calling http://catalog through an in-process mesh (catalog-b always answers 503):\n');
  for (const line of await tour(example.mesh)) console.log('  ' + line);
  await example.close();
}
