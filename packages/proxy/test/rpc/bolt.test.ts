// sofa-bolt-node client → meshlet (createProxy, rpc_proxy) → sofa-bolt-node server, on loopback.
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { BoltStatus, bolt } from '@meshlet/codec';
import type * as model from '@meshlet/xds';
import { defineHttpFilter } from '../../src/filters/define-http-filter.js';
import type { HttpFilter } from '../../src/types.js';
import { customFilter } from '../e2e/helpers.js';
import {
  type BoltPacket,
  type BoltRpcClient,
  boltClient,
  boltRequest,
  echo,
  rpcRoute,
  rawBoltCall,
  startRpcProxy,
  startBoltServer,
} from './peers.js';

const scope = { cleanups: [] as (() => unknown)[] };
afterEach(async () => {
  for (const c of scope.cleanups.splice(0).reverse()) await c();
});
const SERVICE = 'com.acme.Greeter:1.0';

/** Starts a proxy serving an rpc_proxy config; resolves to its port. */
function startRpc(
  config: Partial<model.RpcProxy> & { protocol: string },
  clusters: Record<string, number[]>,
  filters: HttpFilter[] = [],
): Promise<number> {
  return startRpcProxy(scope.cleanups, config, clusters, { filters });
}

async function connect(port: number): Promise<BoltRpcClient> {
  const client = await boltClient(port);
  scope.cleanups.push(() => client.close());
  return client;
}

function answer(packet: BoltPacket): unknown {
  if (packet.data.error) throw packet.data.error;
  return packet.data.appResponse;
}

describe('rpc_proxy: Bolt with sofa-bolt-node peers', () => {
  it('carries 100 concurrent requests multiplexed on one client connection', async () => {
    const server = await startBoltServer((req, reply) => {
      // Answer out of order: later requests first.
      setImmediate(() => {
        reply(`hi ${String(req.data.args[0])}`);
      });
    });
    scope.cleanups.push(() => server.close());
    const port = await startRpc(
      { protocol: 'bolt', routes: [rpcRoute('greeter')] },
      { greeter: [server.port] },
    );
    const client = await connect(port);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => client.invoke(boltRequest(SERVICE, 'hello', i))),
    );
    expect(results.map(answer)).toEqual(Array.from({ length: 100 }, (_, i) => `hi ${i}`));
    expect(server.requests).toHaveLength(100);
    expect(server.requests[0]?.data.serverSignature).toBe(SERVICE);
    expect(server.requests[0]?.data.methodName).toBe('hello');
  });

  // sofa-bolt-node sends Hessian 2 requests without the method header, and its SofaRequest body
  // is one hessian.js cannot read (see @meshlet/codec's Bolt tests): Bolt routes here match on
  // the service and headers; method routes are tested with Dubbo and a user protocol.
  it('routes on service, and answers not-found when nothing matches', async () => {
    const a = await startBoltServer(echo('a'));
    const b = await startBoltServer(echo('b'));
    scope.cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const routes: model.RpcRoute[] = [
      rpcRoute('a', { match: { service: { prefix: 'com.acme.Users', ignoreCase: false }, headers: [] } }),
      rpcRoute('b', { match: { service: { exact: SERVICE, ignoreCase: false }, headers: [] } }),
    ];
    const port = await startRpc({ protocol: 'bolt', routes }, { a: [a.port], b: [b.port] });
    const client = await connect(port);
    expect(answer(await client.invoke(boltRequest('com.acme.Users:2.0', 'getUser', 1)))).toBe('a:1');
    expect(answer(await client.invoke(boltRequest(SERVICE, 'putUser', 2)))).toBe('b:2');
    const miss = await client.invoke(boltRequest('com.acme.Other:1.0', 'x', 3));
    expect(miss.data.error).toBeInstanceOf(Error);
    expect(a.requests.length + b.requests.length).toBe(2);
  });

  it('answers client heartbeats itself', async () => {
    const server = await startBoltServer();
    scope.cleanups.push(() => server.close());
    const port = await startRpc(
      { protocol: 'bolt', routes: [rpcRoute('greeter')] },
      { greeter: [server.port] },
    );
    const client = await connect(port);
    const ack = await client.conn.writeHeartbeat({ clientUrl: 'test', timeout: 3000 });
    expect(ack.packetType).toBe('heartbeat_ack');
    // Nothing reached the server: the proxy answered.
    expect(server.connections).toBe(0);
    expect(answer(await client.invoke(boltRequest(SERVICE, 'hello', 'after')))).toBe('bolt:after');
  });

  it('gives every pending request an error reply when the server dies mid-flight', async () => {
    let held = 0;
    let allHeld!: () => void;
    const arrived = new Promise<void>((resolve) => {
      allHeld = resolve;
    });
    const server = await startBoltServer(() => {
      // Never answer; the test kills the server once all are in.
      if (++held === 20) allHeld();
    });
    scope.cleanups.push(() => server.close());
    const port = await startRpc(
      { protocol: 'bolt', routes: [rpcRoute('greeter')] },
      { greeter: [server.port] },
    );
    const client = await connect(port);
    const pending = Array.from({ length: 20 }, (_, i) =>
      client.invoke(boltRequest(SERVICE, 'slow', i, 30_000)),
    );
    await arrived;
    server.kill();
    const results = await Promise.all(pending);
    for (const r of results) expect(r.data.error).toBeInstanceOf(Error);
    expect(results).toHaveLength(20);
  });

  it('forwards the header changes a filter makes (the frame is then encoded whole)', async () => {
    const server = await startBoltServer();
    scope.cleanups.push(() => server.close());
    // A tap between the proxy and the server reads the header maps on the wire.
    const seen: Map<string, string>[] = [];
    const tap = net.createServer((down) => {
      const up = net.connect(server.port, '127.0.0.1');
      const codec = bolt.createCodec();
      const queue = new ByteQueue();
      down.on('data', (chunk: Buffer) => {
        queue.push(Buffer.from(chunk));
        for (let f = codec.decode(queue); f !== null; f = codec.decode(queue)) {
          if (f.kind === 'request') seen.push(new Map(f.headers));
        }
        up.write(chunk);
      });
      up.pipe(down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      scope.cleanups.push(() => {
        down.destroy();
        up.destroy();
      });
    });
    tap.listen(0, '127.0.0.1');
    await once(tap, 'listening');
    scope.cleanups.push(() => new Promise((resolve) => tap.close(resolve)));
    const stamp = defineHttpFilter({
      name: 'acme.stamp',
      configure: () => null,
      onRequest(ctx) {
        if (ctx.request.headers['x-stamp'] === undefined) ctx.request.headers['x-tenant'] = 'acme';
      },
    });
    const port = await startRpc(
      {
        protocol: 'bolt',
        routes: [rpcRoute('greeter')],
        httpFilters: [customFilter('stamp', 'acme.stamp')],
      },
      { greeter: [(tap.address() as AddressInfo).port] },
      [stamp],
    );
    const client = await connect(port);
    expect(answer(await client.invoke(boltRequest(SERVICE, 'hello', 1)))).toBe('bolt:1');
    expect(answer(await client.invoke(boltRequest(SERVICE, 'hello', 2)))).toBe('bolt:2');
    // The real server decoded the re-encoded frames; the header reached it, the service kept.
    expect(server.requests.map((r) => r.data.args[0])).toEqual([1, 2]);
    expect(seen).toHaveLength(2);
    for (const headers of seen) {
      expect(headers.get('x-tenant')).toBe('acme');
      expect(headers.get('service')).toBe(SERVICE);
    }
  });

  it('applies a local rate limit and a user filter to Bolt requests', async () => {
    const server = await startBoltServer();
    scope.cleanups.push(() => server.close());
    const seen: string[] = [];
    const statuses: number[] = [];
    const tenant = defineHttpFilter({
      name: 'acme.tenant',
      configure: (config: unknown) => config as { deny: string },
      onResponse(ctx) {
        statuses.push(ctx.response?.status ?? 0);
      },
      onRequest(ctx, config) {
        seen.push(
          `${ctx.protocol} ${ctx.request.authority} ${ctx.request.path} ${String(ctx.request.headers.service)}`,
        );
        if (ctx.request.authority === config.deny) ctx.reply(403, 'tenant says no');
      },
    });
    const httpFilters: model.HttpFilter[] = [
      customFilter('tenant', 'acme.tenant', { deny: 'com.acme.Secret:1.0' }),
      {
        name: 'envoy.filters.http.local_ratelimit',
        isOptional: false,
        disabled: false,
        config: {
          type: 'local_rate_limit',
          statPrefix: 'rl',
          tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillIntervalMs: 3_600_000 },
          filterEnabled: { numerator: 100, denominator: 100 },
          filterEnforced: { numerator: 100, denominator: 100 },
          status: 429,
          responseHeadersToAdd: [],
          descriptors: [],
          localRateLimitPerDownstreamConnection: false,
          enableXRatelimitHeaders: 'OFF',
        },
      },
    ];
    const port = await startRpc(
      { protocol: 'bolt', routes: [rpcRoute('greeter')], httpFilters },
      { greeter: [server.port] },
      [tenant],
    );
    const client = await connect(port);
    const denied = await client.invoke(boltRequest('com.acme.Secret:1.0', 'x', 0));
    expect(denied.data.error).toBeInstanceOf(Error);
    expect(answer(await client.invoke(boltRequest(SERVICE, 'hello', 1)))).toBe('bolt:1');
    expect(answer(await client.invoke(boltRequest(SERVICE, 'hello', 2)))).toBe('bolt:2');
    const limited = await client.invoke(boltRequest(SERVICE, 'hello', 3));
    expect(limited.data.error).toBeInstanceOf(Error);
    // The statuses on the wire: 403 → bad request (SERVER_DESERIAL_EXCEPTION), 429 → SERVER_THREADPOOL_BUSY.
    expect((await rawBoltCall(port, 'com.acme.Secret:1.0')).status).toBe(
      BoltStatus.SERVER_DESERIAL_EXCEPTION,
    );
    expect((await rawBoltCall(port, SERVICE)).status).toBe(BoltStatus.SERVER_THREADPOOL_BUSY);
    expect(statuses).toEqual([403, 200, 200, 429, 403, 429]);
    expect(seen[0]).toBe('bolt com.acme.Secret:1.0 /com.acme.Secret:1.0/ com.acme.Secret:1.0');
    expect(server.requests).toHaveLength(2);
  });
});
