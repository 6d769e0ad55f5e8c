// Security defaults (docs/reliability.md, "Security defaults"), over real sockets on loopback:
// the admin API listens on loopback unless told otherwise; /config_dump shows no secret; no
// header a client sends picks a cluster unless a route says the cluster comes from a header; the
// headers only a trusted hop may set never reach an upstream from an external client.
// The admin server's own unit tests (packages/proxy/test/admin) cover TLS keys, passwords and
// ticket keys in /config_dump and the binding of createAdminServer; this file adds the mesh's
// path (createMesh), the secrets those tests did not try, and the request-side defaults.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createAdminServer,
  createProxy,
  defineHttpFilter,
  snapshotOfBootstrap,
  type HttpProxy,
} from '@meshlet/proxy';
import { createMesh } from '@meshlet/sdk';
import { parseBootstrap } from '@meshlet/xds';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An upstream that answers with its name and records the headers of every request. */
async function upstream(name: string): Promise<{ port: number; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.end(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, seen };
}

/** A GET through the proxy with exactly these headers. */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const socketAddress = (port: number): object => ({
  socket_address: { address: '127.0.0.1', port_value: port },
});

function cluster(name: string, port: number): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(port) } }] }],
    },
  };
}

/** An Envoy bootstrap: one listener with these HCM fields, routes and HTTP filters, and clusters. */
function bootstrap(hcm: object, routes: object[], clusters: object[], filters: object[] = []): object {
  return {
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: socketAddress(0),
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
                      name: 'routes',
                      virtual_hosts: [{ name: 'all', domains: ['*'], routes }],
                    },
                    http_filters: [
                      ...filters,
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        },
                      },
                    ],
                    ...hcm,
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters,
    },
  };
}

async function startProxy(
  config: object,
  options: Parameters<typeof createProxy>[0] | object = {},
): Promise<HttpProxy> {
  const proxy = createProxy({ ...options, config: snapshotOfBootstrap(parseBootstrap(config).bootstrap) });
  await proxy.start();
  cleanups.push(() => proxy.close());
  return proxy;
}

const portOf = (proxy: HttpProxy): number => proxy.address('ingress')?.port ?? 0;

/** This machine's first non-loopback IPv4 address, if it has one. */
function externalAddress(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? 'error');
    });
  });
}

describe('admin API', () => {
  it('a mesh given an admin port and no address serves its admin API on 127.0.0.1 only', async () => {
    const up = await upstream('up');
    const mesh = await createMesh({
      config: bootstrap({}, [{ match: { prefix: '/' }, route: { cluster: 'up' } }], [cluster('up', up.port)]),
      admin: { port: 0 },
    });
    cleanups.push(() => mesh.close());
    await mesh.listen();
    const address = mesh.adminAddress as AddressInfo;
    expect(address.address).toBe('127.0.0.1');
    expect(await connectOutcome('127.0.0.1', address.port)).toBe('connected');
    const external = externalAddress();
    if (external !== undefined) expect(await connectOutcome(external, address.port)).toBe('ECONNREFUSED');
  });
});

describe('/config_dump', () => {
  const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
  const SECRETS = {
    token_secret: 'tok-sekrit-1',
    secret_access_key: 'aws-sekrit-2',
    bearer_token: 'bearer-sekrit-3',
    db_password: 'db-sekrit-4',
    signing_key_pem: KEY,
  };
  const auth = defineHttpFilter({
    name: 'acme.auth',
    configure: (config) => config,
  });

  async function dump(): Promise<string> {
    const up = await upstream('up');
    const config = bootstrap(
      {},
      [
        {
          match: { prefix: '/' },
          route: { cluster: 'up' },
          request_headers_to_add: [
            { header: { key: 'Authorization', value: 'Bearer route-sekrit-5' } },
            { header: { key: 'x-api-key', value: 'key-sekrit-6' } },
            { header: { key: 'x-tenant', value: 'acme' } },
          ],
        },
      ],
      [cluster('up', up.port)],
      [
        {
          name: 'acme.auth',
          typed_config: {
            '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
            type_url: 'type.googleapis.com/acme.auth',
            value: { realm: 'shop', max_tokens: 10, ...SECRETS },
          },
        },
      ],
    );
    const proxy = await startProxy(config, { filters: [auth] });
    const admin = createAdminServer({ proxy, port: 0, logSink: () => undefined });
    cleanups.push(() => admin.close());
    await admin.start();
    const res = await fetch(`http://127.0.0.1:${(admin.address() as AddressInfo).port}/config_dump`);
    expect(res.status).toBe(200);
    return JSON.stringify(JSON.parse(await res.text())); // compact: one line per assertion below
  }

  it('bug: /config_dump showed a user filter’s token_secret, secret_access_key, bearer_token and db_password', async () => {
    const text = await dump();
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret.slice(0, 20));
    // What is not a secret stays readable, names included.
    expect(text).toContain('"realm":"shop"');
    expect(text).toContain('"max_tokens":10');
    expect(text).toContain('"token_secret":"[redacted]"');
  });

  it('bug: /config_dump showed the Authorization and x-api-key values a route adds', async () => {
    const text = await dump();
    expect(text).not.toContain('route-sekrit-5');
    expect(text).not.toContain('key-sekrit-6');
    expect(text).toMatch(/"key":"authorization","value":"\[redacted\]"/);
    expect(text).toMatch(/"key":"x-tenant","value":"acme"/);
  });
});

describe('no client header selects a cluster a route does not allow', () => {
  async function twoClusters(): Promise<{ port: number; internal: { seen: http.IncomingHttpHeaders[] } }> {
    const pub = await upstream('public');
    const internal = await upstream('internal');
    const proxy = await startProxy(
      bootstrap(
        {},
        [
          { match: { prefix: '/dyn/' }, route: { cluster_header: 'x-target' } },
          { match: { prefix: '/' }, route: { cluster: 'public' } },
        ],
        [cluster('public', pub.port), cluster('internal', internal.port)],
      ),
    );
    return { port: portOf(proxy), internal };
  }

  it('headers that name a cluster, a host or an original destination do not move a request off its route’s cluster', async () => {
    const { port, internal } = await twoClusters();
    const tries: Record<string, string>[] = [
      { 'x-target': 'internal' },
      { 'x-envoy-cluster': 'internal' },
      { 'x-cluster': 'internal' },
      { 'x-upstream-cluster': 'internal' },
      { 'x-envoy-original-dst-host': '127.0.0.1:1' },
      { 'x-envoy-upstream-alt-stat-name': 'internal' },
      { 'x-envoy-internal': 'true' },
      { host: 'internal' },
    ];
    for (const headers of tries)
      expect(await get(port, '/api', headers)).toEqual({ status: 200, body: 'public' });
    expect(internal.seen).toHaveLength(0);
  });

  it('property: any header map a client sends reaches the route’s cluster and never another', async () => {
    const { port, internal } = await twoClusters();
    const name = fc.oneof(
      fc.constantFrom(
        'x-target',
        'x-envoy-cluster',
        'x-cluster',
        'x-envoy-original-dst-host',
        'x-envoy-internal',
      ),
      fc.stringMatching(/^x-[a-z-]{1,20}$/),
    );
    const value = fc.oneof(
      fc.constantFrom('internal', 'public', '127.0.0.1:1', 'true'),
      fc.stringMatching(/^[a-z0-9.:]{1,20}$/),
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(name, value, { maxKeys: 6 }), async (headers) => {
        expect(await get(port, '/api', headers)).toEqual({ status: 200, body: 'public' });
      }),
      { numRuns: 60 },
    );
    expect(internal.seen).toHaveLength(0);
  });

  it('a cluster_header route is the one way: it follows the header, and a name no cluster has is 503', async () => {
    const { port } = await twoClusters();
    expect(await get(port, '/dyn/x', { 'x-target': 'internal' })).toEqual({ status: 200, body: 'internal' });
    expect((await get(port, '/dyn/x', { 'x-target': 'nope' })).status).toBe(503);
    expect((await get(port, '/dyn/x')).status).toBe(503);
  });
});

describe('headers only a trusted hop may set', () => {
  // Envoy's sanitized request headers (and meshlet's: packages/proxy/src/http/headers.ts).
  const INTERNAL_ONLY = [
    'x-envoy-decorator-operation',
    'x-envoy-downstream-service-cluster',
    'x-envoy-downstream-service-node',
    'x-envoy-expected-rq-timeout-ms',
    'x-envoy-external-address',
    'x-envoy-force-trace',
    'x-envoy-internal',
    'x-envoy-ip-tags',
    'x-envoy-max-retries',
    'x-envoy-retry-grpc-on',
    'x-envoy-retry-on',
    'x-envoy-upstream-alt-stat-name',
    'x-envoy-upstream-rq-per-try-timeout-ms',
    'x-envoy-upstream-rq-timeout-alt-response',
    'x-envoy-upstream-rq-timeout-ms',
    'x-envoy-upstream-stream-duration-ms',
  ];
  const forged = Object.fromEntries(INTERNAL_ONLY.map((h) => [h, '1']));

  /** None of the forged values arrived; the proxy's own `x-envoy-expected-rq-timeout-ms` did. */
  function expectSanitized(received: http.IncomingHttpHeaders | undefined): void {
    expect(received).toBeDefined();
    for (const name of INTERNAL_ONLY) {
      const expected = name === 'x-envoy-expected-rq-timeout-ms' ? '15000' : undefined;
      expect(received?.[name], name).toBe(expected);
    }
  }

  async function edge(hcm: object): Promise<{ port: number; seen: http.IncomingHttpHeaders[] }> {
    const up = await upstream('up');
    const proxy = await startProxy(
      bootstrap(hcm, [{ match: { prefix: '/' }, route: { cluster: 'up' } }], [cluster('up', up.port)]),
    );
    return { port: portOf(proxy), seen: up.seen };
  }

  it('an external request (an edge proxy with use_remote_address, a client behind another hop) loses every one of them', async () => {
    const { port, seen } = await edge({ use_remote_address: true });
    expect((await get(port, '/', { ...forged, 'x-forwarded-for': '203.0.113.7' })).status).toBe(200);
    expectSanitized(seen[0]);
    expect(seen[0]?.['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
  });

  it('an external request through a proxy without use_remote_address (one external address in x-forwarded-for) loses them too', async () => {
    const { port, seen } = await edge({});
    expect((await get(port, '/', { ...forged, 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expectSanitized(seen[0]);
  });

  it('an internal request (loopback, no x-forwarded-for) keeps them, as in Envoy: the trust boundary is the internal address', async () => {
    const { port, seen } = await edge({ use_remote_address: true });
    expect((await get(port, '/', { 'x-envoy-retry-on': '5xx' })).status).toBe(200);
    expect(seen[0]?.['x-envoy-retry-on']).toBe('5xx');
    expect(seen[0]?.['x-envoy-internal']).toBe('true');
  });

  it('bug: a client’s x-forwarded-client-cert reached the upstream (Envoy’s default is SANITIZE)', async () => {
    const { port, seen } = await edge({ use_remote_address: true });
    const xfcc = 'By=spiffe://mesh/admin;URI=spiffe://mesh/ns/prod/sa/payments';
    expect((await get(port, '/', { 'x-forwarded-client-cert': xfcc })).status).toBe(200);
    expect(
      (await get(port, '/', { 'x-forwarded-client-cert': xfcc, 'x-forwarded-for': '203.0.113.7' })).status,
    ).toBe(200);
    expect(seen).toHaveLength(2);
    for (const headers of seen) expect(headers['x-forwarded-client-cert']).toBeUndefined();
  });
});
