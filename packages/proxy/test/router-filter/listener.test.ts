// The router filter behind the real listener and connection manager (core's src/listener and
// src/http), with route tables from src/router and clusters from src/cluster: every part real.
import * as grpc from '@grpc/grpc-js';
import type * as model from '@meshlet/xds';
import type { IncomingMessage } from 'node:http';
import { Client, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClusterManager } from '../../src/cluster/index.js';
import type { DefaultClusterManager } from '../../src/cluster/index.js';
import { compileRouteTable } from '../../src/router/index.js';
import { createRouterFilter } from '../../src/router-filter/index.js';
import type { ForwardingRouterFilter } from '../../src/router-filter/index.js';
import { defineHttpFilter } from '../../src/index.js';
import type { HttpFilter } from '../../src/types.js';
import { customFilter, match, route, routeAction, routeConfig, virtualHost } from '../e2e/helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';
import { startHarness } from '../http/harness.js';
import type { Harness } from '../http/harness.js';
import { abortWhileHeld, ManualTime, openConnections, until, upstreamsClosedBy } from './harness.js';
import { staticCluster as cluster } from '../cluster/helpers.js';

const cleanups = cleanupAfterEach();

interface Proxy {
  harness: Harness;
  filter: ForwardingRouterFilter;
  clusters: DefaultClusterManager;
  url: string;
}

async function proxy(
  clusters: model.Cluster[],
  action: model.RouteAction,
  options: {
    time?: ManualTime;
    hcm?: Parameters<typeof startHarness>[0]['hcm'];
    filters?: HttpFilter[];
  } = {},
): Promise<Proxy> {
  const manager = createClusterManager({ random: () => 0 });
  manager.update(new Map(clusters.map((c) => [c.name, c])), new Map());
  const filter = createRouterFilter({
    clusters: manager,
    config: { type: 'router', suppressEnvoyHeaders: false },
    random: () => 0,
    ...(options.time ? { timers: options.time.wheel, now: () => (options.time as ManualTime).now } : {}),
  });
  const routeTable = compileRouteTable(
    routeConfig('rc', [virtualHost('vh', ['*'], [route('r', { match: match('/'), route: action })])]),
  );
  const harness = await startHarness({
    router: filter,
    routeTable,
    ...(options.hcm ? { hcm: options.hcm } : {}),
    ...(options.filters ? { filters: options.filters } : {}),
  });
  cleanups.push(async () => {
    await harness.close();
    await manager.close();
  });
  return { harness, filter, clusters: manager, url: `http://127.0.0.1:${harness.port}` };
}

const up = upstreamsClosedBy(cleanups);

function retryPolicy(more: Partial<model.RetryPolicy> = {}): model.RetryPolicy {
  return {
    retryOn: ['5xx'],
    numRetries: 2,
    retriableStatusCodes: [],
    retriableHeaders: [],
    retryBackOff: { baseIntervalMs: 1 },
    hostSelectionRetryMaxAttempts: 5,
    retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
    ...more,
  };
}

describe('router filter behind the real listener', () => {
  it('a retry lands on another host', async () => {
    const bad = await up((_req, res) => {
      res.statusCode = 503;
      res.end('bad');
    });
    const good = await up((req, res) =>
      res.end(`good ${String(req.headers['x-envoy-attempt-count'])} ${req.headers.host ?? ''}`),
    );
    const { url, filter } = await proxy(
      [cluster('backend', [bad.port, good.port])],
      routeAction('backend', { retryPolicy: retryPolicy() }),
    );
    const res = await request(`${url}/x`, { headers: { host: 'svc.example' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('good 2 svc.example');
    expect(filter.stats.retries).toBe(1);
    expect(bad.requests).toHaveLength(1);
  });

  it('a client abort leaves no open upstream request or socket', async () => {
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const { harness, filter, clusters } = await proxy(
      [cluster('backend', [slow.port])],
      routeAction('backend'),
    );
    await abortWhileHeld(harness.port, held, 10);
    await until(() => filter.stats.downstreamAborts === 10);
    await until(() => held.every((r) => r.socket.destroyed));
    const open = await openConnections(slow.server);
    expect(open).toBe(0);
    const backend = clusters.get('backend');
    expect(backend?.limits('default').requests.count).toBe(0);
    expect(backend?.limits('default').pendingRequests.count).toBe(0);
    await until(() => harness.listener.current.chains[0]?.manager?.activeStreams === 0);
  });

  it('answers 504 when the route timeout passes (injected clock)', async () => {
    const time = new ManualTime();
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const { url } = await proxy(
      [cluster('backend', [slow.port])],
      routeAction('backend', { timeoutMs: 2000 }),
      { time },
    );
    const pending = request(url);
    await until(() => held.length === 1);
    time.advance(2001);
    const res = await pending;
    expect(res.statusCode).toBe(504);
    expect(await res.body.text()).toBe('upstream request timeout');
  });

  it('a slow client bounds what the proxy reads from upstream (backpressure)', async () => {
    const total = 48 * 1024 * 1024;
    let written = 0;
    const big = await up((_req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const { url } = await proxy([cluster('backend', [big.port])], routeAction('backend'));
    const client = new Client(url);
    cleanups.push(() => client.destroy());
    const res = await client.request({ path: '/', method: 'GET', highWaterMark: 16 * 1024 });
    let stalledAt = -1;
    while (stalledAt !== written) {
      stalledAt = written;
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(written).toBeLessThan(16 * 1024 * 1024);
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    expect(received).toBe(total);
  });

  it('echoes a WebSocket through the proxy', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => {
      socket.on('message', (data) => {
        socket.send(`echo:${(data as Buffer).toString()}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    });
    const port = (server.address() as AddressInfo).port;
    const { url, clusters } = await proxy([cluster('backend', [port])], routeAction('backend'), {
      hcm: { upgradeConfigs: [{ upgradeType: 'websocket', enabled: true }] },
    });
    const ws = new WebSocket(url.replace('http', 'ws'));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const replies: string[] = [];
    ws.on('message', (data) => replies.push((data as Buffer).toString()));
    for (const text of ['a', 'b', 'c']) ws.send(text);
    await until(() => replies.length === 3);
    expect(replies).toEqual(['echo:a', 'echo:b', 'echo:c']);
    ws.close();
    await until(() => wss.clients.size === 0);
    await until(() => clusters.get('backend')?.limits('default').requests.count === 0);
  });

  it('proxies gRPC over HTTP/2 (h2c) with trailers', async () => {
    const identity = (b: Buffer): Buffer => b;
    const server = new grpc.Server();
    server.addService(
      {
        Unary: {
          path: '/test.Echo/Unary',
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const trailer = new grpc.Metadata();
          trailer.set('x-trailer', 'kept');
          if (call.request.toString() === 'fail')
            callback({ code: grpc.status.PERMISSION_DENIED, details: 'nope' });
          else callback(null, Buffer.from(`echo:${call.request.toString()}`), trailer);
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    cleanups.push(() => {
      server.forceShutdown();
    });
    const h2 = cluster('backend', [port], {
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
    });
    const { harness } = await proxy([h2], routeAction('backend'));
    const client = new grpc.Client(`127.0.0.1:${harness.port}`, grpc.credentials.createInsecure());
    cleanups.push(() => {
      client.close();
    });
    const call = (text: string) =>
      new Promise<{ error: grpc.ServiceError | null; value?: string; trailer?: unknown }>((resolve) => {
        let value: string | undefined;
        let error: grpc.ServiceError | null = null;
        const c = client.makeUnaryRequest(
          '/test.Echo/Unary',
          identity,
          identity,
          Buffer.from(text),
          (e, v) => {
            error = e;
            value = v?.toString();
          },
        );
        c.on('status', (status: grpc.StatusObject) => {
          setImmediate(() => {
            resolve({
              error,
              ...(value !== undefined ? { value } : {}),
              trailer: status.metadata.get('x-trailer')[0],
            });
          });
        });
      });
    const ok = await call('hi');
    expect(ok.error).toBeNull();
    expect(ok.value).toBe('echo:hi');
    expect(ok.trailer).toBe('kept');
    const denied = await call('fail');
    expect(denied.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.error?.details).toBe('nope');
  });

  it('a response hook that replies drops the upstream response and aborts it', async () => {
    const replace = defineHttpFilter<null>({
      name: 'acme.replace',
      configure: () => null,
      onResponse(ctx) {
        if (ctx.response?.status === 500) ctx.reply(502, 'replaced');
      },
    });
    const held: IncomingMessage[] = [];
    const endless = await up((req, res) => {
      held.push(req);
      res.writeHead(500);
      res.write('partial');
    });
    const { url, clusters } = await proxy([cluster('backend', [endless.port])], routeAction('backend'), {
      filters: [replace],
      hcm: { httpFilters: [customFilter('replace', 'acme.replace')] },
    });
    const res = await request(url);
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toBe('replaced');
    await until(() => held[0]?.socket.destroyed === true);
    expect(clusters.get('backend')?.limits('default').requests.count).toBe(0);
  });

  it('a gRPC request that cannot reach its upstream gets a gRPC status', async () => {
    const dead = await up(() => undefined);
    const port = dead.port;
    await dead.close();
    const h2 = cluster('backend', [port], {
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
    });
    const { harness } = await proxy([h2], routeAction('backend'));
    const client = new grpc.Client(`127.0.0.1:${harness.port}`, grpc.credentials.createInsecure());
    cleanups.push(() => {
      client.close();
    });
    const identity = (b: Buffer): Buffer => b;
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/test.Echo/Unary', identity, identity, Buffer.from('x'), (e) => {
        resolve(e);
      });
    });
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
  });
});
