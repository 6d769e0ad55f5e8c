// mesh.fetch around a flaky service, in-process: "inventory" has two instances, one of which
// fails every other request; the mesh retries those on the other instance, ejects the bad one
// (outlier detection), and a circuit breaker caps requests in flight to the slow endpoint.
//
// `node examples/sidecar-egress/main.ts` prints what happens; npm test runs the same through
// test/examples-sidecar-egress.test.ts.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMesh, type Mesh } from '@meshlet/sdk';

/** Answers of `/slow` requests, held until released; `arrived(n)` resolves once n are held. */
class Held {
  readonly answers: (() => void)[] = [];
  private waiting: { n: number; resolve: () => void } | null = null;
  push(answer: () => void): void {
    this.answers.push(answer);
    if (this.waiting !== null && this.answers.length >= this.waiting.n) this.waiting.resolve();
  }
  arrived(n: number): Promise<void> {
    if (this.answers.length >= n) return Promise.resolve();
    return new Promise((resolve) => (this.waiting = { n, resolve }));
  }
}

/** One inventory instance; `flaky`: every second request gets a 503. `/slow` answers once released. */
async function instance(name: string, flaky: boolean, held: Held): Promise<Server> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    count++;
    if (flaky && count % 2 === 0) {
      res.writeHead(503).end('flaky\n');
      return;
    }
    const answer = (): void => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ instance: name, path: req.url }));
    };
    if (req.url === '/slow') held.push(answer);
    else answer();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** The mesh's config: an Envoy bootstrap object, with retries, outlier detection and a breaker. */
function config(ports: number[]): object {
  return {
    static_resources: {
      listeners: [
        {
          name: 'egress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
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
                      virtual_hosts: [
                        {
                          name: 'inventory',
                          domains: ['inventory'],
                          routes: [
                            {
                              match: { prefix: '/' },
                              route: {
                                cluster: 'inventory',
                                timeout: '2s',
                                retry_policy: {
                                  retry_on: '5xx',
                                  num_retries: 2,
                                  retry_host_predicate: [
                                    { name: 'envoy.retry_host_predicates.previous_hosts' },
                                  ],
                                  host_selection_retry_max_attempts: 3,
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
          name: 'inventory',
          type: 'STATIC',
          connect_timeout: '1s',
          circuit_breakers: { thresholds: [{ max_requests: 3, max_pending_requests: 3 }] },
          outlier_detection: { consecutive_5xx: 1, base_ejection_time: '30s', max_ejection_percent: 50 },
          load_assignment: {
            cluster_name: 'inventory',
            endpoints: [
              {
                lb_endpoints: ports.map((port) => ({
                  endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
                })),
              },
            ],
          },
        },
      ],
    },
  };
}

/** Runs the scenario; returns what it saw, one line per step. */
export async function run(): Promise<string[]> {
  const held = new Held();
  const servers = [await instance('inventory-a', false, held), await instance('inventory-b', true, held)];
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  const mesh: Mesh = await createMesh({ config: config(ports) });
  const lines: string[] = [];
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await mesh.fetch('http://inventory/items/42');
      await res.text();
      statuses.push(res.status);
    }
    lines.push(
      `8 calls to a flaky service        → ${statuses.join(' ')} (5xx retried on the other instance)`,
    );
    const stats = mesh.proxy.stats?.prometheus() ?? '';
    const counter = (name: string): string =>
      new RegExp(`^envoy_cluster_${name}\\{envoy_cluster_name="inventory"\\} (\\d+)`, 'm').exec(stats)?.[1] ??
      '0';
    lines.push(
      `cluster stats                     → upstream_rq_retry ${counter('upstream_rq_retry')}, outlier_detection_ejections_active ${counter('outlier_detection_ejections_active')}`,
    );
    // Five concurrent calls to the slow endpoint: the breaker lets three in, answers the rest 503 at once.
    const calls = Array.from({ length: 5 }, () => mesh.fetch('http://inventory/slow'));
    const early: string[] = [];
    await held.arrived(3);
    for (const release of held.answers.splice(0)) release();
    for (const res of await Promise.all(calls)) {
      await res.text();
      early.push(`${res.status}${res.headers.get('x-envoy-overloaded') === 'true' ? '(overloaded)' : ''}`);
    }
    lines.push(`5 concurrent calls, breaker at 3  → ${early.sort().join(' ')}`);
  } finally {
    await mesh.close();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map(async (s) => new Promise((resolve) => s.close(resolve))));
  }
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of await run()) console.log(line);
}
