// Retries, circuit breaking, outlier detection, health checks, subsets and mirrors, end to end:
// a real proxy, real undici clients, real node:http upstreams on loopback.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { defineHttpFilter } from '../../src/index.js';
import { FakeTime, nextHealthCheck } from '../cluster/helpers.js';
import {
  cluster,
  customFilter,
  envoyAssignment,
  envoyCluster,
  envoyEndpoint,
  gateway,
  match,
  origin,
  retryPolicy,
  route,
  routeAction,
} from './helpers.js';
import { e2eScope } from './scope.js';

const { start, upstream } = e2eScope();

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(url, { headers });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

function failing(status: number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    res.statusCode = status;
    res.end('bad');
  };
}

describe('retries', () => {
  it('retries a 5xx on another host (previous_hosts) and the client only sees the good answer', async () => {
    const bad = await upstream('bad', failing(503));
    const good = await upstream('good');
    const proxy = await start(
      gateway({
        routes: [
          route('r', {
            route: routeAction('svc', {
              retryPolicy: retryPolicy({
                retryOn: ['5xx'],
                numRetries: 1,
                hostSelectionRetryMaxAttempts: 3,
                retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
                retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
              }),
            }),
          }),
        ],
        clusters: [cluster('svc', [bad.port, good.port])],
      }),
    );
    for (let i = 0; i < 6; i++) {
      const res = await get(`${origin(proxy)}/`);
      expect(res).toMatchObject({ status: 200, body: 'good' });
    }
    expect(bad.requests.length).toBeGreaterThan(0);
    expect(good.requests.length).toBe(6);
  });
});

describe('circuit breaking', () => {
  it('answers 503 with x-envoy-overloaded when max requests are in flight, and recovers', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => undefined;
    const slow = await upstream('slow', (req, res) => {
      req.resume();
      held.push(res);
      arrived();
    });
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('svc') })],
        clusters: [
          cluster('svc', [slow.port], {
            circuitBreakers: {
              thresholds: [
                {
                  priority: 'DEFAULT',
                  maxConnections: 1,
                  maxPendingRequests: 1,
                  maxRequests: 1,
                  maxRetries: 3,
                  trackRemaining: false,
                },
              ],
            },
          }),
        ],
      }),
    );
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const pending = get(`${origin(proxy)}/`);
    await first;
    const overflow = await get(`${origin(proxy)}/`);
    expect(overflow.status).toBe(503);
    expect(overflow.headers['x-envoy-overloaded']).toBe('true');
    for (const res of held) res.end('slow');
    expect(await pending).toMatchObject({ status: 200, body: 'slow' });
    const again = new Promise<void>((resolve) => (arrived = resolve));
    const next = get(`${origin(proxy)}/`);
    await again;
    for (const res of held.splice(0)) if (!res.writableEnded) res.end('slow');
    expect((await next).status).toBe(200);
  });
});

describe('outlier detection', () => {
  it('ejects a host after consecutive 5xx and returns it after the ejection time', async () => {
    const time = new FakeTime(1000);
    const bad = await upstream('bad', failing(500));
    const good = await upstream('good');
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('svc') })],
        clusters: [
          envoyCluster({
            name: 'svc',
            type: 'STATIC',
            load_assignment: envoyAssignment('svc', [envoyEndpoint(bad.port), envoyEndpoint(good.port)]),
            outlier_detection: {
              consecutive_5xx: 2,
              interval: '10s',
              base_ejection_time: '30s',
              max_ejection_percent: 100,
            },
          }),
        ],
      }),
      { now: time.now, timers: time },
    );
    for (let i = 0; i < 4; i++) await get(`${origin(proxy)}/`);
    expect(bad.requests.length).toBe(2);
    const host = proxy.clusters.get('svc')?.loadBalancer.get(`127.0.0.1:${bad.port}`);
    expect(host?.health).toBe('ejected');
    for (let i = 0; i < 4; i++) expect((await get(`${origin(proxy)}/`)).body).toBe('good');
    expect(bad.requests.length).toBe(2);

    time.advance(30_000);
    expect(host?.health).toBe('healthy');
    for (let i = 0; i < 4; i++) await get(`${origin(proxy)}/`);
    expect(bad.requests.length).toBeGreaterThan(2);
  });
});

describe('active health checks', () => {
  it('fails over to the healthy host when a host fails its health check, and back when it passes', async () => {
    const time = new FakeTime(1000);
    let aHealthy = true;
    const a = await upstream('a', (req, res) => {
      req.resume();
      if (req.url === '/health') res.statusCode = aHealthy ? 200 : 503;
      res.end('a');
    });
    const b = await upstream('b', (req, res) => {
      req.resume();
      res.end('b');
    });
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('svc') })],
        clusters: [
          envoyCluster({
            name: 'svc',
            type: 'STATIC',
            load_assignment: envoyAssignment('svc', [envoyEndpoint(a.port), envoyEndpoint(b.port)]),
            health_checks: [
              {
                timeout: '1s',
                interval: '5s',
                no_traffic_interval: '5s',
                unhealthy_threshold: 1,
                healthy_threshold: 1,
                http_health_check: { path: '/health' },
              },
            ],
            common_lb_config: { healthy_panic_threshold: { value: 0 } },
          }),
        ],
      }),
      { now: time.now, timers: time },
    );
    const svc = proxy.clusters.get('svc');
    const hostA = svc?.loadBalancer.get(`127.0.0.1:${a.port}`);
    const hostB = svc?.loadBalancer.get(`127.0.0.1:${b.port}`);
    if (svc === undefined || hostA === undefined || hostB === undefined) throw new Error('no cluster');
    // Hosts of a health-checked cluster start unhealthy; the first checks run at once.
    const first = Promise.all([nextHealthCheck(svc, hostA), nextHealthCheck(svc, hostB)]);
    time.advance(10);
    await first;
    aHealthy = false;
    const failed = nextHealthCheck(svc, hostA);
    time.advance(5_000);
    await failed;
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await get(`${origin(proxy)}/x`)).body);
    expect(seen).toEqual(new Set(['b']));

    aHealthy = true;
    const passed = nextHealthCheck(svc, hostA);
    time.advance(5_000);
    await passed;
    seen.clear();
    for (let i = 0; i < 6; i++) seen.add((await get(`${origin(proxy)}/x`)).body);
    expect(seen).toEqual(new Set(['a', 'b']));
  });
});

describe('subsets', () => {
  it('routes x-env: canary to the canary subset and everything else to prod', async () => {
    const canary = await upstream('canary');
    const prod1 = await upstream('prod1');
    const prod2 = await upstream('prod2');
    const svc = envoyCluster({
      name: 'svc',
      type: 'STATIC',
      load_assignment: envoyAssignment('svc', [
        envoyEndpoint(canary.port, { env: 'canary' }),
        envoyEndpoint(prod1.port, { env: 'prod' }),
        envoyEndpoint(prod2.port, { env: 'prod' }),
      ]),
      lb_subset_config: { fallback_policy: 'NO_FALLBACK', subset_selectors: [{ keys: ['env'] }] },
    });
    const proxy = await start(
      gateway({
        routes: [
          route('canary', {
            match: match('/', {
              headers: [
                {
                  name: 'x-env',
                  stringMatch: { exact: 'canary', ignoreCase: false },
                  invertMatch: false,
                  treatMissingHeaderAsEmpty: false,
                },
              ],
            }),
            route: routeAction('svc', { metadataMatch: { 'envoy.lb': { env: 'canary' } } }),
          }),
          route('prod', { route: routeAction('svc', { metadataMatch: { 'envoy.lb': { env: 'prod' } } }) }),
        ],
        clusters: [svc],
      }),
    );
    const withHeader = new Set<string>();
    const without = new Set<string>();
    for (let i = 0; i < 6; i++) {
      withHeader.add((await get(`${origin(proxy)}/`, { 'x-env': 'canary' })).body);
      without.add((await get(`${origin(proxy)}/`)).body);
    }
    expect(withHeader).toEqual(new Set(['canary']));
    expect(without).toEqual(new Set(['prod1', 'prod2']));
  });
});

describe('request mirroring', () => {
  it('sends a copy to the shadow cluster without waiting for it', async () => {
    const main = await upstream('main');
    let release: () => void = () => undefined;
    const shadowHeld = new Promise<void>((resolve) => (release = resolve));
    let shadowSeen: (host: string | undefined) => void = () => undefined;
    const shadowArrived = new Promise<string | undefined>((resolve) => (shadowSeen = resolve));
    const shadow = await upstream('shadow', (req, res) => {
      req.resume();
      shadowSeen(req.headers.host);
      void shadowHeld.then(() => res.end('shadow'));
    });
    const proxy = await start(
      gateway({
        routes: [
          route('r', { route: routeAction('main', { requestMirrorPolicies: [{ cluster: 'shadow' }] }) }),
        ],
        clusters: [cluster('main', [main.port]), cluster('shadow', [shadow.port])],
      }),
    );
    const res = await get(`${origin(proxy)}/m`, { host: 'shop.local' });
    expect(res).toMatchObject({ status: 200, body: 'main' });
    expect(await shadowArrived).toBe('shop.local-shadow');
    release();
  });
});

describe('errors where no request can report them', () => {
  it("an error thrown under a router filter timer is the proxy's 'error' event; the client gets a reset", async () => {
    const time = new FakeTime(1000);
    const slow = await upstream('slow', (req) => {
      req.resume();
    });
    // A user filter that breaks local replies, so the route timeout's 504 throws inside the timer.
    const breakReply = defineHttpFilter<null>({
      name: 'test.break-reply',
      configure: () => null,
      onRequest(ctx) {
        (ctx as { reply: unknown }).reply = () => {
          throw new Error('reply failed');
        };
      },
    });
    const proxy = await start(
      gateway({
        routes: [route('r', { match: match('/'), route: routeAction('slow', { timeoutMs: 1000 }) })],
        clusters: [cluster('slow', [slow.port])],
        httpFilters: [customFilter('break', 'test.break-reply')],
      }),
      { now: time.now, timers: time, filters: [breakReply] },
    );
    const errors: [unknown, string][] = [];
    proxy.on('error', (error, where) => errors.push([error, where]));
    const forwarded = once(slow.server, 'request');
    const response = request(`${origin(proxy)}/`);
    await forwarded;
    time.advance(1001);
    expect(errors).toHaveLength(1);
    expect((errors[0]?.[0] as Error).message).toBe('reply failed');
    expect(errors[0]?.[1]).toBe('router filter');
    await expect(response).rejects.toThrow();
  });
});
