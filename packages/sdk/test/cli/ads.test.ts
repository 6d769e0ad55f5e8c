// `meshlet run` on a bootstrap whose listeners and clusters come over ADS from a real gRPC
// management server (@meshlet/xds's test control plane), and a route change applied live.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TYPE_URLS, createTestControlPlane, type TestControlPlane } from '@meshlet/xds';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serving } from './cli-process.ts';
import { tempDir, writeFile } from './fixtures.ts';

let cp: TestControlPlane;
const upstreams: Server[] = [];

async function upstream(name: string): Promise<number> {
  const server = createServer((req, res) => {
    req.resume();
    res.end(`${name}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  upstreams.push(server);
  return (server.address() as AddressInfo).port;
}

const snapshot = (version: string, cluster: string) => ({
  version,
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
                '@type': TYPE_URLS.httpConnectionManager,
                stat_prefix: 'ingress',
                rds: { route_config_name: 'main', config_source: { ads: {} } },
                http_filters: [
                  { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } },
                ],
              },
            },
          ],
        },
      ],
    },
  ],
  routes: [
    {
      name: 'main',
      virtual_hosts: [
        { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
      ],
    },
  ],
  clusters: ['blue', 'green'].map((name) => ({
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} } },
    connect_timeout: '1s',
  })),
  endpoints: [] as object[],
});

let ports: { blue: number; green: number };
beforeAll(async () => {
  ports = { blue: await upstream('blue'), green: await upstream('green') };
  cp = createTestControlPlane();
  await cp.start();
});
afterAll(async () => {
  await cp.close();
  for (const s of upstreams) s.closeAllConnections();
  await Promise.all(upstreams.map(async (s) => new Promise((resolve) => s.close(resolve))));
});

const endpoints = () =>
  (['blue', 'green'] as const).map((name) => ({
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: ports[name] } } } },
        ],
      },
    ],
  }));

it('meshlet run with ADS: serves what the control plane sends, and applies a change live', async () => {
  cp.setSnapshot({ ...snapshot('1', 'blue'), endpoints: endpoints() });
  const [host, port] = cp.address.split(':');
  const config = writeFile(
    tempDir(),
    'ads.yaml',
    `node: { id: cli-test, cluster: cli }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
dynamic_resources:
  ads_config: { api_type: GRPC, grpc_services: [{ envoy_grpc: { cluster_name: xds } }] }
  lds_config: { ads: {} }
  cds_config: { ads: {} }
static_resources:
  clusters:
    - name: xds
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: xds
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: ${host}, port_value: ${port} } } } }] }]
`,
  );
  const { meshlet, url } = await serving(['run', '-c', config, '--drain-time-s', '1'], 'ingress');
  try {
    expect(await (await fetch(`${url}/`)).text()).toBe('blue\n');
    const applied = meshlet.logged(/applied a new configuration from ADS/);
    cp.setSnapshot({ ...snapshot('2', 'green'), endpoints: endpoints() });
    await applied;
    expect(await (await fetch(`${url}/`)).text()).toBe('green\n');
  } finally {
    await meshlet.stop();
  }
}, 30_000);
