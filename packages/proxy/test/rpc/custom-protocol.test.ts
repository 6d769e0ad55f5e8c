// A private protocol defined in the test with defineProtocol, end to end through the rpc_proxy:
// routing by method, a user filter, error replies, timeouts, retries of idempotent routes.
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { defineHttpFilter } from '../../src/filters/define-http-filter.js';
import type { HttpFilter } from '../../src/types.js';
import { customFilter, envoyAssignment, envoyCluster, envoyEndpoint, snapshot } from '../e2e/helpers.js';
import { createProxy } from '../../src/index.js';
import { MiniClient, MiniStatus, mini, startMiniServer } from './mini-protocol.js';
import { rpcRoute, rpcSnapshot, startRpcProxy } from './peers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startRpc(
  config: Partial<model.RpcProxy>,
  clusters: Record<string, number[]>,
  filters: HttpFilter[] = [],
): Promise<number> {
  return startRpcProxy(cleanups, { protocol: 'mini', ...config }, clusters, { filters, protocols: [mini] });
}

async function client(port: number): Promise<MiniClient> {
  const c = await MiniClient.connect(port);
  cleanups.push(() => {
    c.close();
  });
  return c;
}

async function server(name: string, answer?: Parameters<typeof startMiniServer>[0]) {
  const s = await startMiniServer(answer ?? ((f) => `${name}:${f.method}:${f.body.toString()}`));
  cleanups.push(() => s.close());
  return s;
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const method = (m: string): model.RpcRoute['match'] => ({
  method: { exact: m, ignoreCase: false },
  headers: [],
});

describe('rpc_proxy: a user protocol from defineProtocol', () => {
  it('routes by method, runs user filters, and answers with the protocol error replies', async () => {
    const calc = await server('calc');
    const echo = await server('echo');
    const gate = defineHttpFilter({
      name: 'acme.gate',
      configure: () => null,
      onRequest(ctx) {
        if (ctx.request.method === 'forbidden') ctx.reply(403, 'no way');
        else if (ctx.request.method === 'busy') ctx.reply(429);
      },
    });
    const port = await startRpc(
      {
        routes: [
          rpcRoute('calc', { match: method('add') }),
          rpcRoute('echo', { match: { method: { prefix: 'echo', ignoreCase: false }, headers: [] } }),
          rpcRoute('echo', { match: method('forbidden') }),
          rpcRoute('echo', { match: method('busy') }),
        ],
        httpFilters: [customFilter('gate', 'acme.gate')],
      },
      { calc: [calc.port], echo: [echo.port] },
      [gate],
    );
    const c = await client(port);
    const [add, say, forbidden, busy, missing] = await Promise.all([
      c.call('math', 'add', '1+2'),
      c.call('talk', 'echoLoud', 'hi'),
      c.call('talk', 'forbidden'),
      c.call('talk', 'busy'),
      c.call('talk', 'nothing'),
    ]);
    expect([add.status, add.body.toString()]).toEqual([0, 'calc:add:1+2']);
    expect([say.status, say.body.toString()]).toEqual([0, 'echo:echoLoud:hi']);
    expect([forbidden.status, forbidden.body.toString()]).toEqual([MiniStatus['bad-request'], 'no way']);
    expect(busy.status).toBe(MiniStatus['rate-limited']);
    expect(missing.status).toBe(MiniStatus['not-found']);
    expect(missing.body.toString()).toBe('no route for talk/nothing');
    expect(calc.requests).toHaveLength(1);
    expect(echo.requests).toHaveLength(1);
  });

  it('answers heartbeats locally and times a silent upstream out with the protocol timeout reply', async () => {
    const silent = await server('silent', () => null);
    const port = await startRpc(
      { routes: [rpcRoute('silent', { timeoutMs: 30 })] },
      { silent: [silent.port] },
    );
    const c = await client(port);
    const hb = await c.call('', '', '', 'heartbeat');
    expect(hb.kind).toBe('heartbeat-reply');
    const slow = await c.call('svc', 'slow');
    expect(slow.status).toBe(MiniStatus.timeout);
    expect(silent.requests).toHaveLength(1);
  });

  it('retries an idempotent route on another host, and not a plain one', async () => {
    const live = await server('live');
    const dead = await deadPort();
    const port = await startRpc(
      {
        routes: [
          rpcRoute('pair', { match: method('read'), idempotent: true, numRetries: 1 }),
          rpcRoute('pair', { match: method('write') }),
        ],
      },
      { pair: [dead, live.port] },
    );
    const c = await client(port);
    const reads = await Promise.all([1, 2, 3, 4].map((i) => c.call('kv', 'read', String(i))));
    expect(reads.map((r) => r.status)).toEqual([0, 0, 0, 0]);
    const writes = await Promise.all([1, 2, 3, 4].map((i) => c.call('kv', 'write', String(i))));
    // Round robin over the two hosts: half the writes meet the dead one, with no retry.
    expect(writes.filter((w) => w.status === MiniStatus.unavailable)).toHaveLength(2);
    expect(writes.filter((w) => w.status === 0)).toHaveLength(2);
  });

  it('ejects a host whose responses carry error statuses (outlier detection)', async () => {
    const bad = await server('bad', () => ({ status: MiniStatus.internal, body: 'boom' }));
    const good = await server('good');
    const base = rpcSnapshot({ protocol: 'mini', routes: [rpcRoute('svc')] }, {});
    const proxy = createProxy({
      config: snapshot({
        listeners: [...base.listeners.values()],
        clusters: [
          envoyCluster({
            name: 'svc',
            type: 'STATIC',
            load_assignment: envoyAssignment('svc', [envoyEndpoint(bad.port), envoyEndpoint(good.port)]),
            outlier_detection: { consecutive_5xx: 2, base_ejection_time: '300s', max_ejection_percent: 100 },
          }),
        ],
      }),
      protocols: [mini],
    });
    cleanups.push(() => proxy.close());
    await proxy.start();
    const c = await client(proxy.address('rpc')?.port ?? 0);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await c.call('svc', 'get', String(i))).status);
    // Round robin over both until the bad host's second error in a row ejects it; then only good.
    expect(statuses.slice(0, 4).filter((s) => s === MiniStatus.internal)).toHaveLength(2);
    expect(statuses.slice(4)).toEqual([0, 0, 0, 0]);
    expect(bad.requests).toHaveLength(2);
  });

  it('rejects an unknown protocol name at compile time', () => {
    expect(() => createProxy({ config: rpcSnapshot({ protocol: 'nope' }, {}) })).toThrow(
      /rpc_proxy "meshlet.rpc_proxy": protocol "nope" is not known \(known: bolt, dubbo/,
    );
  });
});
