// Loopback upstreams and Envoy-style configs for the SDK's tests; everything started is closed
// after each test.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { createMesh, type Mesh, type MeshOptions } from '../src/index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Registers a closer run after the current test. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** A loopback upstream: answers its name unless `handler` is given; counts requests. */
export interface Upstream {
  readonly name: string;
  readonly port: number;
  readonly requests: http.IncomingMessage[];
}

export async function upstream(name: string, handler?: http.RequestListener): Promise<Upstream> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    if (handler !== undefined) {
      handler(req, res);
      return;
    }
    req.resume();
    res.setHeader('x-upstream', name);
    res.end(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  return { name, port: (server.address() as AddressInfo).port, requests };
}

/** Envoy JSON of a STATIC cluster of loopback ports. */
export function envoyCluster(name: string, ports: number[], more: Record<string, unknown> = {}): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: ports.map((port) => ({
            endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
          })),
        },
      ],
    },
    ...more,
  };
}

/** Envoy JSON of an HTTP listener whose connection manager has `virtualHosts` inline. */
export function envoyListener(
  name: string,
  port: number,
  virtualHosts: object[],
  httpFilters: object[] = [],
): object {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              route_config: { name: `${name}_routes`, virtual_hosts: virtualHosts },
              http_filters: [
                ...httpFilters,
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
}

/** An Envoy bootstrap object of static listeners and clusters. */
export function envoyBootstrap(
  listeners: object[],
  clusters: object[],
  more: Record<string, unknown> = {},
): object {
  return { static_resources: { listeners, clusters }, ...more };
}

/** `createMesh`, closed after the test. */
export async function mesh(options: MeshOptions): Promise<Mesh> {
  const m = await createMesh(options);
  onCleanup(() => m.close());
  return m;
}
