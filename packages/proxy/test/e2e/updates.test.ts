// Live updates under load, atomic rejection of bad configs, listener drain on removal, RDS, and
// client aborts that must not leave upstream requests open.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import type * as model from '@meshlet/xds';
import { ConfigError } from '../../src/index.js';
import {
  cluster,
  customFilter,
  filterChain,
  gateway,
  hcm,
  listener,
  origin,
  route,
  routeAction,
  routeConfig,
  snapshot,
  virtualHost,
} from './helpers.js';
import { e2eScope } from './scope.js';

const { cleanups, start, upstream } = e2eScope();

const rateLimit = (maxTokens: number): model.HttpFilter => ({
  name: 'envoy.filters.http.local_ratelimit',
  isOptional: false,
  disabled: false,
  config: {
    type: 'local_rate_limit',
    statPrefix: 'rl',
    tokenBucket: { maxTokens, tokensPerFill: maxTokens, fillIntervalMs: 3_600_000 },
    filterEnabled: { numerator: 100, denominator: 100 },
    filterEnforced: { numerator: 100, denominator: 100 },
    status: 429,
    responseHeadersToAdd: [],
    descriptors: [],
    localRateLimitPerDownstreamConnection: false,
    enableXRatelimitHeaders: 'OFF',
  },
});

describe('live updates', () => {
  it('swaps routes every 100 ms while 50 concurrent clients run, and no request fails', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const clusters = [cluster('a', [a.port]), cluster('b', [b.port])];
    const config = (i: number) =>
      gateway({ routes: [route('r', { route: routeAction(i % 2 === 0 ? 'a' : 'b') })], clusters });
    const proxy = await start(config(0));
    const agent = new Agent({ connections: 50 });
    cleanups.push(() => agent.close());
    const url = `${origin(proxy)}/load`;
    let running = true;
    const failures: string[] = [];
    const bodies = new Set<string>();
    let done = 0;
    const client = async (): Promise<void> => {
      while (running) {
        try {
          const res = await request(url, { dispatcher: agent });
          const body = await res.body.text();
          if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`);
          else bodies.add(body);
          done++;
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const clients = Array.from({ length: 50 }, () => client());
    for (let i = 1; i <= 10; i++) {
      await delay(100);
      await proxy.update(config(i));
    }
    running = false;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(bodies).toEqual(new Set(['a', 'b']));
    expect(done).toBeGreaterThan(100);
    expect(proxy.version).toBe(11);
  });

  it('keeps unchanged clusters and filter state (token buckets) across updates', async () => {
    const a = await upstream('a');
    const clusters = [cluster('a', [a.port])];
    const config = (prefix: string) =>
      gateway({
        routes: [route(prefix, { route: routeAction('a') })],
        clusters,
        httpFilters: [rateLimit(2)],
      });
    const proxy = await start(config('v1'));
    const before = proxy.clusters.get('a');
    for (let i = 0; i < 2; i++) {
      const res = await request(`${origin(proxy)}/`);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    await proxy.update(config('v2'));
    expect(proxy.clusters.get('a')).toBe(before);
    const limited = await request(`${origin(proxy)}/`);
    expect(limited.statusCode).toBe(429);
    expect(await limited.body.text()).toBe('local_rate_limited');
    // A changed filter config is a new instance with a full bucket.
    await proxy.update(
      gateway({ routes: [route('v3', { route: routeAction('a') })], clusters, httpFilters: [rateLimit(3)] }),
    );
    const fresh = await request(`${origin(proxy)}/`);
    expect(fresh.statusCode).toBe(200);
    await fresh.body.dump();
  });

  it('rejects a bad config with a ConfigError and keeps serving the previous one', async () => {
    const a = await upstream('a');
    const good = gateway({
      routes: [route('r', { route: routeAction('a') })],
      clusters: [cluster('a', [a.port])],
    });
    const proxy = await start(good);
    const bad = gateway({
      routes: [route('r', { route: routeAction('a') })],
      clusters: [cluster('a', [a.port])],
      httpFilters: [customFilter('auth', 'acme.unknown')],
    });
    await expect(proxy.update(bad)).rejects.toThrow(ConfigError);
    await expect(proxy.update(bad)).rejects.toThrow(
      /listener "ingress" filter_chain "default": http filter "auth" names "acme.unknown"/,
    );
    expect(proxy.version).toBe(1);
    const res = await request(`${origin(proxy)}/`);
    expect(await res.body.text()).toBe('a');
  });

  it('drains a removed listener: the request in flight finishes, the new listener serves', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => undefined;
    const slow = await upstream('slow', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      held.push(res);
      arrived();
    });
    const clusters = [cluster('slow', [slow.port])];
    const chain = filterChain(
      hcm({
        routeConfig: routeConfig('rc', [
          virtualHost('all', ['*'], [route('r', { route: routeAction('slow') })]),
        ]),
      }),
    );
    const proxy = await start(snapshot({ listeners: [listener('old', [chain])], clusters }));
    const oldOrigin = origin(proxy, 'old');
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const inFlight = request(`${oldOrigin}/`);
    await first;
    const drained = new Promise<string>((resolve) => proxy.once('listener-drained', resolve));
    await proxy.update(snapshot({ listeners: [listener('new', [chain])], clusters }));
    expect(proxy.address('old')).toBeUndefined();
    held[0]?.end('finished');
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe('close');
    expect(await res.body.text()).toBe('finished');
    expect(await drained).toBe('old');
    await expect(request(`${oldOrigin}/`)).rejects.toThrow();
    const second = new Promise<void>((resolve) => (arrived = resolve));
    const next = request(`${origin(proxy, 'new')}/`);
    await second;
    held[1]?.end('new');
    expect(await (await next).body.text()).toBe('new');
  });

  it('takes routes by RDS name and swaps them on a kept-alive connection', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const clusters = [cluster('a', [a.port]), cluster('b', [b.port])];
    const manager = hcm({ rds: { routeConfigName: 'main' } });
    const config = (to: string) =>
      snapshot({
        listeners: [listener('ingress', [filterChain(manager)])],
        routeConfigurations: [
          routeConfig('main', [virtualHost('all', ['*'], [route('r', { route: routeAction(to) })])]),
        ],
        clusters,
      });
    const proxy = await start(config('a'));
    const agent = new Agent({ connections: 1 });
    cleanups.push(() => agent.close());
    const get = async () => (await request(`${origin(proxy)}/`, { dispatcher: agent })).body.text();
    expect(await get()).toBe('a');
    await proxy.update(config('b'));
    expect(await get()).toBe('b');
    expect(a.sockets.size + b.sockets.size).toBeGreaterThan(0);
    await expect(
      proxy.update(snapshot({ listeners: [listener('ingress', [filterChain(manager)])], clusters })),
    ).rejects.toThrow(/rds names route configuration "main", which the snapshot lacks/);
  });
});

describe('client aborts', () => {
  it('abort the upstream requests: no upstream request or socket stays open', async () => {
    let arrivedCount = 0;
    let allArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (allArrived = resolve));
    const open = new Set<IncomingMessage>();
    let allClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (allClosed = resolve));
    const hold = await upstream('hold', (req) => {
      open.add(req);
      req.socket.once('close', () => {
        open.delete(req);
        if (open.size === 0) allClosed();
      });
      if (++arrivedCount === 10) allArrived();
    });
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('hold') })],
        clusters: [cluster('hold', [hold.port])],
      }),
    );
    const agent = new Agent({ connections: 10 });
    cleanups.push(() => agent.destroy());
    const controllers = Array.from({ length: 10 }, () => new AbortController());
    const pending = controllers.map((c, i) =>
      request(`${origin(proxy)}/${i}`, { dispatcher: agent, signal: c.signal }).then(
        () => 'answered',
        (error: unknown) => (error as Error).name,
      ),
    );
    await arrived;
    expect(hold.sockets.size).toBe(10);
    for (const c of controllers) c.abort();
    expect(new Set(await Promise.all(pending))).toEqual(new Set(['AbortError']));
    await closed;
    expect(open.size).toBe(0);
    while (hold.sockets.size > 0) await once([...hold.sockets][0] as NodeJS.EventEmitter, 'close');
    expect(hold.sockets.size).toBe(0);
  });
});
