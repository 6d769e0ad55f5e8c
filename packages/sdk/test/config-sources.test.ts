// The config sources of createMesh: a bootstrap file, and an xDS server (the test control plane
// of @meshlet/xds) whose update shifts traffic while the mesh runs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { createTestControlPlane } from '@meshlet/xds';
import { ConfigError } from '@meshlet/errors';
import { createMesh, defineHttpFilterForTest } from './filter.js';
import { envoyBootstrap, envoyCluster, envoyListener, mesh, onCleanup, upstream } from './helpers.js';

const routes = (blueWeight: number): object => ({
  name: 'outbound',
  virtual_hosts: [
    {
      name: 'shop',
      domains: ['shop'],
      routes: [
        {
          match: { prefix: '/' },
          route: {
            weighted_clusters: {
              clusters: [
                { name: 'blue', weight: blueWeight },
                { name: 'green', weight: 100 - blueWeight },
              ],
            },
          },
        },
      ],
    },
  ],
});
const listener: object = {
  name: 'outbound_listener',
  address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'outbound',
            rds: { route_config_name: 'outbound', config_source: { ads: {} } },
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
};

describe('createMesh config sources', () => {
  it('reads an Envoy bootstrap file (YAML), serves its listener and admin on listen()', async () => {
    const orders = await upstream('orders');
    const dir = mkdtempSync(join(tmpdir(), 'meshlet-sdk-'));
    const file = join(dir, 'mesh.yaml');
    writeFileSync(
      file,
      `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                    - name: orders
                      domains: ["orders", "127.0.0.1:*"]
                      routes: [{ match: { prefix: "/" }, route: { cluster: orders } }]
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
    - name: orders
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: orders
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${orders.port} } } } }] }]
`,
    );
    const m = await mesh({ bootstrap: file, admin: { port: 0, logLevel: 'warning' } });
    expect(await (await m.fetch('http://orders/in-process')).text()).toBe('orders');
    await m.listen();
    const port = m.address('ingress')?.port;
    expect(port).toBeGreaterThan(0);
    // Through the listener's socket, with Node's own fetch (no mesh dispatcher involved).
    const res = await globalThis.fetch(`http://127.0.0.1:${port}/over-the-wire`);
    expect(await res.text()).toBe('orders');
    const admin = m.adminAddress;
    expect(admin?.port).toBeGreaterThan(0);
    expect(await (await globalThis.fetch(`http://127.0.0.1:${admin?.port}/ready`)).text()).toContain('LIVE');
    expect(orders.requests.map((r) => r.url)).toEqual(['/in-process', '/over-the-wire']);
  });

  it("applies the bootstrap's overload_manager: a saturated stop_accepting_requests sheds requests with a 503", async () => {
    const orders = await upstream('orders');
    const m = await mesh({
      config: envoyBootstrap(
        [
          envoyListener('ingress', 0, [
            {
              name: 'orders',
              domains: ['*'],
              routes: [{ match: { prefix: '/' }, route: { cluster: 'orders' } }],
            },
          ]),
        ],
        [envoyCluster('orders', [orders.port])],
        {
          overload_manager: {
            refresh_interval: '60s',
            resource_monitors: [
              {
                name: 'envoy.resource_monitors.fixed_heap',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig',
                  max_heap_size_bytes: 1000,
                },
              },
            ],
            actions: [
              {
                name: 'envoy.overload_actions.stop_accepting_requests',
                triggers: [{ name: 'envoy.resource_monitors.fixed_heap', threshold: { value: 0.95 } }],
              },
            ],
          },
        },
      ),
      // The heap the monitor reads: over the limit.
      resourceSources: { heapUsed: () => 2000 },
    });
    await m.listen();
    // A connection of its own, closed after the answer (the mesh's close() then has none to drain).
    const client = new Client(`http://127.0.0.1:${String(m.address('ingress')?.port)}`);
    const res = await client.request({ method: 'GET', path: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-envoy-overloaded']).toBe('true');
    expect(await res.body.text()).toBe('envoy overloaded');
    await client.close();
    expect(orders.requests).toHaveLength(0);
  });

  it('follows an xDS server: an update of route weights shifts traffic', async () => {
    const blue = await upstream('blue');
    const green = await upstream('green');
    const plane = createTestControlPlane();
    const server = await plane.start();
    onCleanup(() => plane.close());
    const clusters = [envoyCluster('blue', [blue.port]), envoyCluster('green', [green.port])];
    plane.setSnapshot({ version: '1', listeners: [listener], routes: [routes(100)], clusters });
    const m = await mesh({ xds: { server, node: { id: 'sdk-test', cluster: 'shop' } } });
    const tally = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (let i = 0; i < 20; i++) {
        const body = await (await m.fetch('http://shop/')).text();
        out[body] = (out[body] ?? 0) + 1;
      }
      return out;
    };
    expect(await tally()).toEqual({ blue: 20 });
    const updated = new Promise<void>((resolve) =>
      m.once('updated', () => {
        resolve();
      }),
    );
    plane.setSnapshot({ version: '2', listeners: [listener], routes: [routes(0)], clusters });
    await updated;
    expect(await tally()).toEqual({ green: 20 });
  });

  it("follows the ADS server a bootstrap's dynamic_resources name, keeping its static clusters", async () => {
    const blue = await upstream('blue');
    const plane = createTestControlPlane();
    const address = await plane.start();
    onCleanup(() => plane.close());
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    plane.setSnapshot({
      version: '1',
      listeners: [listener],
      routes: [routes(100)],
      clusters: [envoyCluster('blue', [blue.port])],
    });
    const m = await mesh({
      config: {
        node: { id: 'sdk-bootstrap-ads', cluster: 'shop' },
        dynamic_resources: {
          ads_config: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds' } }] },
          lds_config: { ads: {} },
          cds_config: { ads: {} },
        },
        static_resources: {
          clusters: [
            envoyCluster('xds', [port], {
              typed_extension_protocol_options: {
                'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                  '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                  explicit_http_config: { http2_protocol_options: {} },
                },
              },
            }),
          ],
        },
      },
    });
    expect(await (await m.fetch('http://shop/')).text()).toBe('blue');
    expect([...m.proxy.currentConfig.clusters.keys()].sort()).toEqual(['blue', 'xds']);
  });

  it('registers filter plugins with use() before first use, and refuses them after', async () => {
    const svc = await upstream('svc', (req, res) => {
      req.resume();
      res.end(String(req.headers['x-tenant']));
    });
    const m = await createMesh({
      config: envoyBootstrap(
        [
          envoyListener(
            'egress',
            0,
            [
              {
                name: 'svc',
                domains: ['svc'],
                routes: [{ match: { prefix: '/' }, route: { cluster: 'svc' } }],
              },
            ],
            [
              {
                name: 'tenant',
                typed_config: {
                  '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
                  type_url: 'type.googleapis.com/acme.tenant',
                  value: { tenant: 'blue' },
                },
              },
            ],
          ),
        ],
        [envoyCluster('svc', [svc.port])],
      ),
    });
    onCleanup(() => m.close());
    m.use(defineHttpFilterForTest());
    expect(await (await m.fetch('http://svc/')).text()).toBe('blue');
    expect(() => m.use(defineHttpFilterForTest())).toThrow(ConfigError);
  });

  it('rejects options naming no config source, or two', async () => {
    await expect(createMesh({})).rejects.toThrow(ConfigError);
    await expect(createMesh({ config: envoyBootstrap([], []), bootstrap: 'x.yaml' })).rejects.toThrow(
      ConfigError,
    );
  });
});
