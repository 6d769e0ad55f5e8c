// The overload manager end to end: a real proxy on loopback, resource monitors fed by injected
// sources (heap, event-loop delay) or by real connections, on fake time; plus the default
// event-loop delay sampler against a really blocked loop.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import fc from 'fast-check';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { BoltStatus } from '@meshlet/codec';
import { parseBootstrap } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import { createProxy, triggerValue, type EventLoopDelaySampler, type HttpProxy } from '../../src/index.js';
import type { ObserverFactory, ProxyOptions } from '../../src/index.js';
import { FakeTime } from '../cluster/helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';
import { cluster, gateway, namedUpstream, route, routeAction, type NamedUpstream } from '../e2e/helpers.js';
import { rawBoltCall, rpcRoute, rpcSnapshot, startBoltServer } from '../rpc/peers.js';
import { noMore, statOf, trackResources } from '../reliability/resources.js';

const cleanups = cleanupAfterEach();

const STOP = 'envoy.overload_actions.stop_accepting_requests';
const KEEPALIVE = 'envoy.overload_actions.disable_http_keepalive';
const REJECT = 'envoy.overload_actions.reject_incoming_connections';
const LOOP = 'meshlet.resource_monitors.event_loop_delay';
const HEAP = 'envoy.resource_monitors.fixed_heap';
const CONNECTIONS = 'envoy.resource_monitors.global_downstream_max_connections';

/** An event-loop delay the test sets. */
class SetDelay implements EventLoopDelaySampler {
  delayMs = 0;
  closed = false;
  percentileMs(): number {
    return this.delayMs;
  }
  reset(): void {
    // The test sets the next interval's delay itself.
  }
  close(): void {
    this.closed = true;
  }
}

const stat = statOf;

function flagsRecorder(): { factory: ObserverFactory; flags: string[][] } {
  const flags: string[][] = [];
  return {
    flags,
    factory: {
      forChain: () => ({
        connectionOpened: () => undefined,
        connectionClosed: () => undefined,
        streamStarted: () => undefined,
        streamEnded: (ctx) => {
          flags.push([...ctx.info.responseFlags]);
        },
      }),
    },
  };
}

interface Started {
  proxy: HttpProxy;
  pool: Pool;
  upstream: NamedUpstream;
  time: FakeTime;
  port: number;
}

async function startHttp(
  overload: model.OverloadManager,
  more: Partial<ProxyOptions> = {},
): Promise<Started> {
  const time = new FakeTime(1_000_000);
  const upstream = await namedUpstream('up');
  cleanups.push(upstream.close);
  const proxy = createProxy({
    config: gateway({
      routes: [route('r', { route: routeAction('up') })],
      clusters: [cluster('up', [upstream.port])],
    }),
    now: time.now,
    timers: time,
    overloadManager: overload,
    ...more,
  });
  cleanups.push(() => proxy.close());
  await proxy.start();
  const port = (proxy.address('ingress') as AddressInfo).port;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  cleanups.push(() => pool.close());
  return { proxy, pool, upstream, time, port };
}

async function get(pool: Pool): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await pool.request({ method: 'GET', path: '/' });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

const loopMonitor = (maxDelayMs = 200): model.ResourceMonitor => ({
  name: LOOP,
  kind: 'event_loop_delay',
  maxDelayMs,
  percentile: 99,
});

describe('triggers', () => {
  it('a trigger is 0 below its scaling threshold, 1 from saturation, monotone and within [0, 1] between', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (a, b, p, q) => {
          const scaling = Math.min(a, b);
          const saturation = Math.max(a, b);
          const v = triggerValue(p, scaling, saturation);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          if (p >= saturation) expect(v).toBe(1);
          if (p <= scaling && p < saturation) expect(v).toBe(0);
          if (p <= q) expect(v).toBeLessThanOrEqual(triggerValue(q, scaling, saturation));
        },
      ),
    );
  });
});

describe('overload manager', () => {
  it("README: the overload_manager example translates, and its proxy sheds on the event loop's delay", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n(overload_manager:[\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const { bootstrap } = parseBootstrap(`node: { id: n, cluster: c }\n${yaml}`);
    const overload = bootstrap.overloadManager as model.OverloadManager;
    expect(overload.actions.map((a) => a.kind)).toEqual([
      'stop_accepting_requests',
      'disable_http_keepalive',
    ]);
    const delay = new SetDelay();
    const { proxy, pool, time } = await startHttp(overload, {
      resourceSources: { eventLoopDelay: () => delay },
    });
    delay.delayMs = 250;
    time.advance(250);
    expect(proxy.overload?.actionValue(KEEPALIVE)).toBe(1);
    expect((await get(pool)).status).toBe(503);
  });

  it('event-loop delay over its limit: stop_accepting_requests sheds new requests with a 503 (OL) until it recovers', async () => {
    const delay = new SetDelay();
    const recorder = flagsRecorder();
    const { proxy, pool, upstream, time } = await startHttp(
      {
        refreshIntervalMs: 100,
        resourceMonitors: [loopMonitor(200)],
        actions: [
          {
            name: STOP,
            kind: 'stop_accepting_requests',
            triggers: [{ name: LOOP, threshold: { value: 1 } }],
          },
        ],
      },
      { resourceSources: { eventLoopDelay: () => delay }, observers: [recorder.factory] },
    );
    expect(await get(pool)).toMatchObject({ status: 200, body: 'up' });

    delay.delayMs = 300;
    time.advance(100);
    expect(proxy.overload?.pressure(LOOP)).toBe(1.5);
    expect(stat(proxy, `overload.${LOOP}.pressure`)).toBe(150);
    expect(stat(proxy, `overload.${STOP}.active`)).toBe(1);
    expect(stat(proxy, `overload.${STOP}.scale_percent`)).toBe(100);
    const shed = await Promise.all(Array.from({ length: 50 }, () => get(pool)));
    for (const res of shed) {
      expect(res).toMatchObject({ status: 503, body: 'envoy overloaded' });
      expect(res.headers['x-envoy-overloaded']).toBe('true');
    }
    expect(recorder.flags.at(-1)).toEqual(['OL']);
    // Shed before any filter, route or upstream work: nothing reached the upstream.
    expect(upstream.requests).toHaveLength(1);
    expect(stat(proxy, 'http.ingress_http.downstream_rq_5xx')).toBe(50);

    delay.delayMs = 20;
    time.advance(100);
    expect(stat(proxy, `overload.${STOP}.active`)).toBe(0);
    expect(await get(pool)).toMatchObject({ status: 200, body: 'up' });
  });

  it('heap pressure: disable_http_keepalive scales (Connection: close on that share), then stop_accepting_requests saturates', async () => {
    let heap = 0;
    let draw = 0;
    const { proxy, pool, time } = await startHttp(
      {
        refreshIntervalMs: 1000,
        resourceMonitors: [{ name: HEAP, kind: 'fixed_heap', maxHeapSizeBytes: 1000 }],
        actions: [
          {
            name: KEEPALIVE,
            kind: 'disable_http_keepalive',
            triggers: [{ name: HEAP, scaled: { scalingThreshold: 0.8, saturationThreshold: 0.95 } }],
          },
          {
            name: STOP,
            kind: 'stop_accepting_requests',
            triggers: [{ name: HEAP, threshold: { value: 0.95 } }],
          },
        ],
      },
      {
        resourceSources: { heapUsed: () => heap },
        // Alternates below and above one half.
        random: () => (draw++ % 2 === 0 ? 0.25 : 0.75),
      },
    );
    heap = 875; // halfway between 0.8 and 0.95
    time.advance(1000);
    expect(proxy.overload?.actionValue(KEEPALIVE)).toBeCloseTo(0.5);
    expect(stat(proxy, `overload.${KEEPALIVE}.scale_percent`)).toBe(50);
    expect(stat(proxy, `overload.${KEEPALIVE}.active`)).toBe(0);
    const closing: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await get(pool);
      expect(res.status).toBe(200);
      closing.push(res.headers.connection);
    }
    expect(closing.filter((c) => c === 'close').length).toBeGreaterThanOrEqual(4);
    expect(closing.filter((c) => c !== 'close').length).toBeGreaterThanOrEqual(4);

    heap = 960;
    time.advance(1000);
    expect(stat(proxy, `overload.${KEEPALIVE}.active`)).toBe(1);
    expect(stat(proxy, `overload.${KEEPALIVE}.scale_percent`)).toBe(100);
    expect(stat(proxy, `overload.${STOP}.active`)).toBe(1);
    expect((await get(pool)).status).toBe(503);
    expect(stat(proxy, `overload.downstream_cx_overload_disable_keepalive`)).toBeGreaterThanOrEqual(4);
  });

  it('disable_http_keepalive on HTTP/2: a GOAWAY, the stream in flight still answered', async () => {
    let heap = 0;
    const { time, port } = await startHttp(
      {
        refreshIntervalMs: 1000,
        resourceMonitors: [{ name: HEAP, kind: 'fixed_heap', maxHeapSizeBytes: 1000 }],
        actions: [
          {
            name: KEEPALIVE,
            kind: 'disable_http_keepalive',
            triggers: [{ name: HEAP, threshold: { value: 0.9 } }],
          },
        ],
      },
      { resourceSources: { heapUsed: () => heap } },
    );
    heap = 950;
    time.advance(1000);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => {
      session.destroy();
    });
    const goaway = once(session, 'goaway');
    const req = session.request({ ':path': '/', ':method': 'GET' });
    req.end();
    const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    req.resume();
    expect(headers[':status']).toBe(200);
    await goaway;
    await once(session, 'close');
  });

  it('global_downstream_max_connections closes connections beyond the maximum at accept; reject_incoming_connections rejects by pressure', async () => {
    const { proxy, port, time } = await startHttp({
      refreshIntervalMs: 1000,
      resourceMonitors: [
        { name: CONNECTIONS, kind: 'global_downstream_max_connections', maxActiveDownstreamConnections: 4 },
      ],
      actions: [
        {
          name: REJECT,
          kind: 'reject_incoming_connections',
          triggers: [{ name: CONNECTIONS, threshold: { value: 0.5 } }],
        },
      ],
    });
    const open: Socket[] = [];
    cleanups.push(() => {
      for (const s of open) s.destroy();
    });
    const connect = async (): Promise<{ socket: Socket; closedAtOnce: boolean }> => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      open.push(socket);
      // A request: a served connection answers it, a rejected one is closed without a byte.
      socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      const [first] = (await Promise.race([once(socket, 'data'), once(socket, 'close')])) as [unknown];
      return { socket, closedAtOnce: !Buffer.isBuffer(first) };
    };
    // Below the trigger (pressure sampled at 0): four connections are served, the fifth overflows.
    for (let i = 0; i < 4; i++) expect((await connect()).closedAtOnce).toBe(false);
    expect((await connect()).closedAtOnce).toBe(true);
    time.advance(1000);
    expect(proxy.overload?.pressure(CONNECTIONS)).toBe(1);
    expect(stat(proxy, 'overload.downstream_global_cx_overflow')).toBe(1);
    // Two close: 2 of 4 open, pressure 0.5 at the next refresh, reject_incoming_connections saturates.
    for (const s of open.slice(0, 2)) {
      s.destroy();
      await once(s, 'close');
    }
    await new Promise((resolve) => setImmediate(resolve));
    time.advance(1000);
    expect(stat(proxy, `overload.${REJECT}.active`)).toBe(1);
    expect((await connect()).closedAtOnce).toBe(true);
    time.advance(1000);
    expect(stat(proxy, 'overload.downstream_cx_overload_reject')).toBe(1);
  });

  it('sheds a burst instead of queuing it: while overloaded, 500 requests to a stalled upstream hold nothing', async () => {
    const delay = new SetDelay();
    const { proxy, pool, upstream, time } = await startHttp(
      {
        refreshIntervalMs: 100,
        resourceMonitors: [loopMonitor(100)],
        actions: [
          {
            name: STOP,
            kind: 'stop_accepting_requests',
            triggers: [{ name: LOOP, threshold: { value: 1 } }],
          },
        ],
      },
      { resourceSources: { eventLoopDelay: () => delay } },
    );
    // The upstream never answers: without shedding every request would wait on it.
    upstream.server.removeAllListeners('request');
    upstream.server.on('request', (req: { resume(): void }) => {
      req.resume();
    });
    delay.delayMs = 500;
    time.advance(100);
    const outcomes = await Promise.all(Array.from({ length: 500 }, () => get(pool)));
    expect(outcomes.every((o) => o.status === 503)).toBe(true);
    expect(upstream.requests).toHaveLength(0);
    expect(upstream.sockets.size).toBe(0);
    // Nothing held by the proxy: no stream, no upstream request, no timer.
    expect(stat(proxy, 'http.ingress_http.downstream_rq_active')).toBe(0);
    expect(stat(proxy, 'cluster.up.upstream_rq_active') ?? 0).toBe(0);
    expect(time.pendingTimers).toBe(1); // the overload manager's own refresh
  });

  it('RPC requests are shed too: the protocol error reply (unavailable) with OL, nothing forwarded', async () => {
    const delay = new SetDelay();
    const server = await startBoltServer();
    cleanups.push(() => server.close());
    const time = new FakeTime(1_000_000);
    const recorder = flagsRecorder();
    const proxy = createProxy({
      config: rpcSnapshot({ protocol: 'bolt', routes: [rpcRoute('svc')] }, { svc: [server.port] }),
      now: time.now,
      timers: time,
      observers: [recorder.factory],
      overloadManager: {
        refreshIntervalMs: 100,
        resourceMonitors: [loopMonitor(100)],
        actions: [
          {
            name: STOP,
            kind: 'stop_accepting_requests',
            triggers: [{ name: LOOP, threshold: { value: 1 } }],
          },
        ],
      },
      resourceSources: { eventLoopDelay: () => delay },
    });
    cleanups.push(() => proxy.close());
    await proxy.start();
    const port = (proxy.address('rpc') as AddressInfo).port;
    expect((await rawBoltCall(port, 'svc:1.0')).status).toBe(BoltStatus.SUCCESS);
    delay.delayMs = 200;
    time.advance(100);
    expect((await rawBoltCall(port, 'svc:1.0')).status).toBe(BoltStatus.CONNECTION_CLOSED);
    expect(recorder.flags.at(-1)).toEqual(['OL']);
    expect(server.requests).toHaveLength(1);
  });

  it('the default event-loop sampler sees a really blocked loop, and close() releases it and every timer', async () => {
    const tracker = trackResources();
    const upstream = await namedUpstream('up');
    const proxy = createProxy({
      config: gateway({
        routes: [route('r', { route: routeAction('up') })],
        clusters: [cluster('up', [upstream.port])],
      }),
      overloadManager: {
        refreshIntervalMs: 60_000,
        resourceMonitors: [loopMonitor(50)],
        actions: [
          {
            name: STOP,
            kind: 'stop_accepting_requests',
            triggers: [{ name: LOOP, threshold: { value: 1 } }],
          },
        ],
      },
    });
    await proxy.start();
    const pool = new Pool(`http://127.0.0.1:${(proxy.address('ingress') as AddressInfo).port}`);
    expect((await get(pool)).status).toBe(200);
    // Block the loop for 150 ms: the sampler's 10 ms timer fires 150 ms late.
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // busy
    }
    let pressure = 0;
    for (let i = 0; i < 1000 && pressure < 1; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      proxy.overload?.refresh();
      pressure = Math.max(pressure, proxy.overload?.pressure(LOOP) ?? 0);
      if (pressure >= 1) break;
    }
    expect(pressure).toBeGreaterThanOrEqual(1);
    expect(proxy.overload?.state.stopAcceptingRequests).toBe(true);
    expect((await get(pool)).status).toBe(503);
    await pool.close();
    await proxy.close();
    await upstream.close();
    const left = await tracker.settle();
    expect(left.live).toEqual({});
    expect(noMore(left.active, left.before)).toBe(true);
  });
});
