// A realistic Istio-style outbound route table (bookinfo, port 9080, plus an ingress-like
// virtual host), written for these tests in Envoy's JSON and translated by @meshlet/xds, as the
// proxy receives it over ADS.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { translateResource } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import { compileRouteTable } from '../../src/router/index.js';
import type { ResponseHead } from '../../src/types.js';
import { connection, input, request } from './helpers.js';

function load(): model.RouteConfiguration {
  const json: unknown = JSON.parse(
    readFileSync(new URL('./fixtures/istio-outbound-9080.json', import.meta.url), 'utf8'),
  );
  const out = translateResource(json);
  if (!out.ok || out.resource.kind !== 'route_config') throw new Error('fixture does not translate');
  return out.resource.value;
}

const table = compileRouteTable(load());
const REVIEWS = 'reviews.bookinfo.svc.cluster.local:9080';
const PRODUCT = 'productpage.example.com:80';

describe('Istio-style route table', () => {
  it('is named after the route configuration', () => {
    expect(table.name).toBe('9080');
  });

  it.each([
    ['details', 'details.bookinfo.svc.cluster.local:9080'],
    ['details:9080', 'details.bookinfo.svc.cluster.local:9080'],
    ['details.bookinfo.svc.cluster.local:9080', 'details.bookinfo.svc.cluster.local:9080'],
    ['10.96.40.2:9080', REVIEWS],
    ['Reviews.Bookinfo', REVIEWS],
    ['bookinfo.example.com', PRODUCT],
    ['www.bookinfo.example.com:443', PRODUCT],
    ['bookinfo.internal', PRODUCT],
    ['httpbin.org', 'allow_any'],
    ['10.0.0.99:8080', 'allow_any'],
  ])('%s → virtual host %s', (authority, name) => {
    expect(table.match(input({ authority }))?.virtualHostName).toBe(name);
  });

  it('sends end-user: jason to reviews v2, with the virtual host retry policy', () => {
    const entry = table.match(
      input({ authority: 'reviews:9080', path: '/reviews/0', headers: { 'end-user': 'jason' } }),
    );
    expect(entry?.name).toBe('jason-to-v2');
    const action = entry?.action;
    expect(action?.selectCluster(input())?.name).toBe('outbound|9080|v2|reviews.bookinfo.svc.cluster.local');
    expect(action?.timeoutMs).toBe(0);
    expect(action?.grpcTimeoutHeaderMaxMs).toBe(0);
    const retry = action?.retryPolicy;
    expect(retry?.numRetries).toBe(2);
    expect(retry?.avoidPreviousHosts).toBe(true);
    expect(retry?.hostSelectionRetryMaxAttempts).toBe(5);
    expect(retry?.retriableResponse(503, {})).toBe(true);
    expect(retry?.retriableResponse(500, {})).toBe(false);
    expect(retry?.retriableResponse(200, { 'grpc-status': '14' })).toBe(true);
    expect(retry?.retriableFailure('connect-failure')).toBe(true);
    expect(retry?.retriableFailure('reset')).toBe(false);
    expect(entry?.source.metadata.istio).toBeDefined();
  });

  it('routes x-env: canary to the canary subset with its own retry policy', () => {
    const entry = table.match(input({ authority: 'reviews', headers: { 'x-env': 'canary' } }));
    expect(entry?.name).toBe('canary-by-header');
    const choice = entry?.action?.selectCluster(input());
    expect(choice?.name).toBe('outbound|9080||reviews.bookinfo.svc.cluster.local');
    expect(choice?.metadataMatch).toEqual({ version: 'v3', track: 'canary' });
    expect(entry?.action?.timeoutMs).toBe(3000);
    expect(entry?.action?.retryPolicy?.perTryTimeoutMs).toBe(1000);
    expect(entry?.action?.retryPolicy?.retriableResponse(500, {})).toBe(true);
  });

  it('splits the rest 80/20 with per-subset headers, route config headers after', () => {
    const entry = table.match(input({ authority: 'reviews', headers: { 'x-env': 'prod' } }));
    expect(entry?.name).toBe('split');
    const action = entry?.action;
    const names = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const name = action?.selectCluster(input({}, i / 100))?.name ?? '';
      names.set(name, (names.get(name) ?? 0) + 1);
    }
    expect(Object.fromEntries(names)).toEqual({
      'outbound|9080|v1|reviews.bookinfo.svc.cluster.local': 80,
      'outbound|9080|v3|reviews.bookinfo.svc.cluster.local': 20,
    });
    const v3 = action?.selectCluster(input({}, 0.95)) ?? null;
    const req = request({ headers: { 'x-reviews-subset': 'spoofed', 'x-user-id': 'u1' } });
    entry?.applyRequestHeaders(req, v3);
    expect(req.headers['x-reviews-subset']).toBe('v3');
    expect(req.headers['x-mesh-hop']).toBe('sidecar');
    const res: ResponseHead = { status: 200, headers: {} };
    entry?.applyResponseHeaders(res, v3);
    expect(res.headers['x-canary']).toBe('true');
    expect(typeof action?.hash(req, connection)).toBe('bigint');
  });

  it('mirrors 25% of ratings traffic and carries the fault override', () => {
    const entry = table.match(input({ authority: 'ratings.bookinfo', path: '/ratings/7' }));
    expect(entry?.action?.mirrors).toEqual([
      { cluster: 'outbound|9080|v2|ratings.bookinfo.svc.cluster.local', fraction: 0.25 },
    ]);
    expect(entry?.perFilterConfig.get('envoy.filters.http.fault')?.type).toBe('fault');
    expect(table.match(input({ authority: 'ratings.bookinfo', path: '/health' }))).toBeNull();
  });

  it('redirects plain-text logins to https, keeps TLS ones', () => {
    const http = request({ authority: 'bookinfo.example.com', path: '/login?next=/' });
    const entry = table.match({ request: http, connection, random: () => 0 });
    expect(entry?.redirect?.(http)).toEqual({
      status: 308,
      location: 'https://bookinfo.example.com/login?next=/',
    });
    expect(
      table.match(input({ authority: 'bookinfo.example.com', scheme: 'https', path: '/login' }))?.name,
    ).toBe('productpage');
  });

  it('answers /healthz directly', () => {
    const entry = table.match(input({ authority: 'bookinfo.example.com', path: '/healthz?probe=1' }));
    expect(entry?.directResponse).toEqual({ status: 200, body: Buffer.from('ok\n') });
  });

  it('rewrites legacy API paths with a regex, and the host', () => {
    const req = request({ authority: 'bookinfo.example.com', path: '/api/v1/products/42?fields=all' });
    const entry = table.match({ request: req, connection, random: () => 0 });
    expect(entry?.name).toBe('legacy-api');
    entry?.action?.rewrite(req);
    expect(req.path).toBe('/products/42?fields=all');
    expect(req.authority).toBe('productpage.bookinfo.svc.cluster.local');
    expect(req.headers['x-envoy-original-path']).toBe('/api/v1/products/42?fields=all');
  });

  it('serves /static (any case, segment boundary) from /assets', () => {
    const req = request({ authority: 'bookinfo.example.com', path: '/STATIC/app.js' });
    const entry = table.match({ request: req, connection, random: () => 0 });
    expect(entry?.name).toBe('static');
    entry?.action?.rewrite(req);
    expect(req.path).toBe('/assets/app.js');
    expect(table.match(input({ authority: 'bookinfo.example.com', path: '/staticfile' }))?.name).toBe(
      'productpage',
    );
    expect(entry?.action?.hash(request({ headers: { cookie: 'session=abc' } }), connection)).not.toBeNull();
  });

  it('routes gRPC by content type, with its own retry policy and grpc-timeout cap', () => {
    const grpc = table.match(
      input({
        authority: 'bookinfo.example.com',
        method: 'POST',
        path: '/bookinfo.Reviews/List',
        headers: { 'content-type': 'application/grpc' },
      }),
    );
    expect(grpc?.name).toBe('grpc');
    expect(grpc?.action?.grpcTimeoutHeaderMaxMs).toBe(30_000);
    expect(grpc?.action?.retryPolicy?.baseIntervalMs).toBe(100);
    expect(grpc?.action?.retryPolicy?.maxIntervalMs).toBe(1000);
    expect(grpc?.action?.retryPolicy?.retriableResponse(200, { 'grpc-status': '8' })).toBe(true);
    expect(
      table.match(input({ authority: 'bookinfo.example.com', path: '/bookinfo.Reviews/List' }))?.name,
    ).toBe('productpage');
  });

  it('enables WebSocket upgrades on /ws', () => {
    const ws = table.match(
      input({
        authority: 'bookinfo.example.com',
        path: '/ws',
        headers: { upgrade: 'WebSocket', connection: 'upgrade' },
      }),
    );
    expect(ws?.name).toBe('ws');
    expect(ws?.action?.upgrades.get('websocket')).toBe(true);
    expect(ws?.action?.idleTimeoutMs).toBe(3_600_000);
  });

  it('takes the cluster from x-target-cluster on /debug/?trace', () => {
    const entry = table.match(input({ authority: 'bookinfo.example.com', path: '/debug/x?trace' }));
    expect(entry?.name).toBe('by-cluster-header');
    expect(
      entry?.action?.selectCluster(input({ headers: { 'x-target-cluster': 'outbound|9080||debug' } }))?.name,
    ).toBe('outbound|9080||debug');
    expect(entry?.action?.selectCluster(input())).toBeNull();
    expect(table.match(input({ authority: 'bookinfo.example.com', path: '/debug/x' }))?.name).toBe(
      'productpage',
    );
  });

  it('applies the product page headers and the virtual host CORS policy', () => {
    const req = request({ authority: 'bookinfo.example.com', path: '/productpage' });
    const entry = table.match({ request: req, connection, random: () => 0 });
    expect(entry?.name).toBe('productpage');
    expect(entry?.action?.priority).toBe('high');
    entry?.applyRequestHeaders(req, null, connection);
    expect(req.headers['x-forwarded-client']).toBe('10.1.2.3');
    expect(req.headers['x-mesh-hop']).toBe('sidecar');
    const res: ResponseHead = { status: 200, headers: { 'x-envoy-upstream-service-time': '3' } };
    entry?.applyResponseHeaders(res, null, req, connection);
    expect(res.headers['x-envoy-upstream-service-time']).toBeUndefined();
    expect(entry?.cors?.allowMethods).toBe('GET,POST');
  });

  it('passes unknown hosts through', () => {
    const entry = table.match(input({ authority: 'api.github.com', path: '/repos' }));
    expect(entry?.action?.selectCluster(input())?.name).toBe('PassthroughCluster');
  });
});
