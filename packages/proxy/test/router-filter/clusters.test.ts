// The router filter over the cluster part's real cluster manager (src/cluster): Envoy JSON
// clusters translated by @meshlet/xds, circuit breakers, outlier detection fed by the router,
// and gRPC over HTTP/2 (h2c) to a real grpc-js server.
import * as grpc from '@grpc/grpc-js';
import { TYPE_URLS, fromEnvoy } from '@meshlet/xds';
import type { Cluster, ClusterLoadAssignment } from '@meshlet/xds';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createClusterManager } from '../../src/cluster/index.js';
import type { DefaultClusterManager } from '../../src/cluster/index.js';
import { createRouterFilter } from '../../src/router-filter/index.js';
import type { CompiledRouteAction, RouteEntry } from '../../src/types.js';
import { TestH2Listener, TestListener, route, until, upstreamsClosedBy } from './harness.js';
import { cleanupAfterEach } from '../e2e/scope.js';
import { assignment, cluster as envoyCluster, staticCluster as cluster } from '../cluster/helpers.js';

const cleanups = cleanupAfterEach();

const NO_ENDPOINTS: ReadonlyMap<string, ClusterLoadAssignment> = new Map();

function manager(...list: Cluster[]): DefaultClusterManager {
  const m = createClusterManager({ random: () => 0 });
  m.update(new Map(list.map((c) => [c.name, c])), NO_ENDPOINTS);
  cleanups.push(() => m.close());
  return m;
}

async function listen(m: DefaultClusterManager, entry: RouteEntry, h2 = false): Promise<string> {
  const filter = createRouterFilter({
    clusters: m,
    config: { type: 'router', suppressEnvoyHeaders: false },
    random: () => 0,
  });
  const listener = h2
    ? new TestH2Listener(
        () => filter,
        () => entry,
      )
    : new TestListener(
        () => filter,
        () => entry,
      );
  const port = await listener.listen();
  cleanups.push(() => listener.close());
  return h2 ? `127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
}

const up = upstreamsClosedBy(cleanups);

describe('router filter over the cluster manager', () => {
  it('overflows on the cluster circuit breakers (max_requests)', async () => {
    const held: ServerResponse[] = [];
    const slow = await up((_req, res) => held.push(res));
    const m = manager(
      cluster('backend', [slow.port], { circuit_breakers: { thresholds: [{ max_requests: 2 }] } }),
    );
    const url = await listen(m, route());
    const first = [request(url), request(url)];
    await until(() => held.length === 2);
    const third = await request(url);
    expect(third.statusCode).toBe(503);
    expect(third.headers['x-envoy-overloaded']).toBe('true');
    await third.body.dump();
    for (const res of held) res.end('done');
    for (const res of await Promise.all(first)) expect(await res.body.text()).toBe('done');
  });

  it('feeds outlier detection: a host failing with 5xx is ejected and traffic moves away', async () => {
    const bad = await up((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const good = await up((_req, res) => res.end('good'));
    const m = manager(
      cluster('backend', [bad.port, good.port], {
        outlier_detection: {
          consecutive_5xx: 2,
          interval: '60s',
          base_ejection_time: '60s',
          max_ejection_percent: 100,
        },
      }),
    );
    const url = await listen(m, route());
    for (let i = 0; i < 6; i++) await (await request(url)).body.dump();
    const before = bad.requests.length;
    expect(before).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(url);
      statuses.push(res.statusCode);
      await res.body.dump();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(bad.requests.length).toBe(before);
  });
});

describe('router filter: auto_host_rewrite', () => {
  it('sets the authority to the DNS name of a STRICT_DNS host', async () => {
    const seen: string[] = [];
    const a = await up((req, res) => {
      seen.push(req.headers.host ?? '');
      res.end();
    });
    const m = createClusterManager({
      random: () => 0,
      resolver: { lookup: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]) },
    });
    cleanups.push(() => m.close());
    m.update(
      new Map([
        [
          'dns',
          fromEnvoy({
            '@type': TYPE_URLS.cluster,
            name: 'dns',
            type: 'STRICT_DNS',
            connect_timeout: '1s',
            load_assignment: {
              cluster_name: 'dns',
              endpoints: [
                {
                  lb_endpoints: [
                    {
                      endpoint: {
                        address: { socket_address: { address: 'orders.internal', port_value: a.port } },
                      },
                    },
                  ],
                },
              ],
            },
          }).value as Cluster,
        ],
      ]),
      NO_ENDPOINTS,
    );
    await until(() => m.get('dns')?.pick({}) !== null);
    const base = route({ cluster: 'dns' });
    const rewriting: RouteEntry = {
      ...base,
      action: { ...(base.action as CompiledRouteAction), autoHostRewrite: true },
    };
    const url = await listen(m, rewriting);
    await (await request(url, { headers: { host: 'public.example' } })).body.dump();
    const kept = await listen(m, base);
    await (await request(kept, { headers: { host: 'public.example' } })).body.dump();
    expect(seen).toEqual(['orders.internal', 'public.example']);
  });

  it("sets the authority to an EDS or STATIC endpoint's hostname; an endpoint without one keeps it", async () => {
    const seen: string[] = [];
    const a = await up((req, res) => {
      seen.push(req.headers.host ?? '');
      res.end();
    });
    const b = await up((req, res) => {
      seen.push(req.headers.host ?? '');
      res.end();
    });
    const named = (port: number, hostname?: string) => ({
      endpoint: {
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        ...(hostname === undefined ? {} : { hostname }),
      },
    });
    const list = [
      envoyCluster({ name: 'eds', type: 'EDS', eds_cluster_config: { service_name: 'eds-v1' } }),
      envoyCluster({
        name: 'static',
        type: 'STATIC',
        load_assignment: {
          cluster_name: 'static',
          endpoints: [{ lb_endpoints: [named(b.port, 'b.static')] }],
        },
      }),
      cluster('plain', [b.port]),
    ];
    const m = manager(...list);
    m.update(
      new Map(list.map((c) => [c.name, c])),
      new Map([['eds-v1', assignment('eds-v1', [named(a.port, 'orders.eds')])]]),
    );
    const rewriting = (name: string): RouteEntry => {
      const base = route({ cluster: name });
      return { ...base, action: { ...(base.action as CompiledRouteAction), autoHostRewrite: true } };
    };
    for (const name of ['eds', 'static', 'plain']) {
      const url = await listen(m, rewriting(name));
      await (await request(url, { headers: { host: 'public.example' } })).body.dump();
    }
    expect(seen).toEqual(['orders.eds', 'b.static', 'public.example']);
  });
});

// ── gRPC ───────────────────────────────────────────────────────────────────────────────────────

const identity = (b: Buffer): Buffer => b;

async function grpcServer(): Promise<{ port: number }> {
  const server = new grpc.Server();
  const method = (path: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
    path,
    requestStream: false,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  });
  server.addService(
    { Unary: method('/test.Echo/Unary', false), Stream: method('/test.Echo/Stream', true) },
    {
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const text = call.request.toString();
        if (text === 'missing') {
          callback({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
          return;
        }
        const trailer = new grpc.Metadata();
        trailer.set('x-trailer', 'kept');
        callback(null, Buffer.from(`echo:${text}`), trailer);
      },
      Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 0; i < 3; i++) call.write(Buffer.from(`${call.request.toString()}-${i}`));
        call.end();
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  );
  return { port };
}

function h2Cluster(port: number): Cluster {
  return cluster('backend', [port], {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  });
}

describe('router filter: gRPC over HTTP/2', () => {
  it('proxies unary calls with trailers and error statuses, and server streaming', async () => {
    const { port } = await grpcServer();
    const m = manager(h2Cluster(port));
    const target = await listen(m, route(), true);
    const client = new grpc.Client(target, grpc.credentials.createInsecure());
    cleanups.push(() => {
      client.close();
      return Promise.resolve();
    });

    const unary = (text: string) =>
      new Promise<{ error: grpc.ServiceError | null; value: string | undefined; trailer: unknown }>(
        (resolve) => {
          let trailer: unknown;
          const call = client.makeUnaryRequest(
            '/test.Echo/Unary',
            identity,
            identity,
            Buffer.from(text),
            (error, value) => {
              resolve({ error, value: value?.toString(), trailer });
            },
          );
          call.on('status', (status: grpc.StatusObject) => {
            trailer = status.metadata.get('x-trailer')[0];
          });
        },
      );
    const ok = await unary('hi');
    expect(ok.error).toBeNull();
    expect(ok.value).toBe('echo:hi');

    const missing = await unary('missing');
    expect(missing.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.error?.details).toBe('no such thing');

    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.makeServerStreamRequest('/test.Echo/Stream', identity, identity, Buffer.from('m'));
      call.on('data', (chunk: Buffer) => messages.push(chunk.toString()));
      call.on('error', reject);
      call.on('status', (status: grpc.StatusObject) => {
        if (status.code === grpc.status.OK) resolve();
      });
    });
    expect(messages).toEqual(['m-0', 'm-1', 'm-2']);
  });

  it('forwards trailing metadata of a unary call', async () => {
    const { port } = await grpcServer();
    const m = manager(h2Cluster(port));
    const target = await listen(m, route(), true);
    const client = new grpc.Client(target, grpc.credentials.createInsecure());
    cleanups.push(() => {
      client.close();
      return Promise.resolve();
    });
    const trailer = await new Promise<unknown>((resolve) => {
      const call = client.makeUnaryRequest(
        '/test.Echo/Unary',
        identity,
        identity,
        Buffer.from('t'),
        () => undefined,
      );
      call.on('status', (status: grpc.StatusObject) => {
        resolve(status.metadata.get('x-trailer')[0]);
      });
    });
    expect(trailer).toBe('kept');
  });
});
