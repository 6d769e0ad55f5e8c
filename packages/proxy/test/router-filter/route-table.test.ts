// The router filter with route tables compiled by the router part (src/router): retry policies,
// previous-hosts predicates, rewrites, header changes and mirrors as the model configures them.
import type * as model from '@meshlet/xds';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { compileRouteTable } from '../../src/router/index.js';
import { createRouterFilter } from '../../src/router-filter/index.js';
import { TestCluster, TestClusters, TestListener, until, upstreamsClosedBy } from './harness.js';
import { action } from '../e2e/helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanups = cleanupAfterEach();

const NO_CHANGES: model.HeaderChanges = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};

function route(
  prefix: string,
  routeAction: model.RouteAction,
  changes: Partial<model.HeaderChanges> = {},
): model.Route {
  return {
    name: prefix,
    match: { prefix, caseSensitive: true, headers: [], queryParameters: [], grpc: false },
    route: routeAction,
    metadata: {},
    typedPerFilterConfig: {},
    ...NO_CHANGES,
    ...changes,
  };
}

function table(routes: model.Route[]): ReturnType<typeof compileRouteTable> {
  return compileRouteTable({
    name: 'main',
    virtualHosts: [
      { name: 'vh', domains: ['*'], routes, requireTls: 'NONE', typedPerFilterConfig: {}, ...NO_CHANGES },
    ],
    typedPerFilterConfig: {},
    ...NO_CHANGES,
  });
}

async function serve(clusters: TestCluster[], routes: model.Route[]) {
  const manager = new TestClusters(...clusters);
  const filter = createRouterFilter({
    clusters: manager,
    config: { type: 'router', suppressEnvoyHeaders: false },
    random: () => 0,
  });
  const compiled = table(routes);
  const listener = new TestListener(
    () => filter,
    (ctx) => compiled.match({ request: ctx.request, connection: ctx.connection, random: () => 0 }),
  );
  const port = await listener.listen();
  cleanups.push(async () => {
    await listener.close();
    await manager.close();
  });
  return { url: `http://127.0.0.1:${port}`, filter, listener };
}

const up = upstreamsClosedBy(cleanups);

describe('router filter with compiled route tables', () => {
  it('retries 5xx on a host not tried before (previous_hosts), with backoff from the policy', async () => {
    const seen: string[] = [];
    const failing = [await up(fail), await up(fail)];
    const good = await up((req, res) => {
      seen.push(String(req.headers['x-envoy-attempt-count']));
      res.end(`good ${req.url ?? ''} ${String(req.headers['x-added'])}`);
    });
    function fail(_req: unknown, res: ServerResponse): void {
      res.statusCode = 503;
      res.end();
    }
    const cluster = new TestCluster('backend', [failing[0]?.port ?? 0, failing[1]?.port ?? 0, good.port]);
    const { url, filter } = await serve(
      [cluster],
      [
        route(
          '/v1/',
          action({
            cluster: 'backend',
            prefixRewrite: '/',
            retryPolicy: {
              retryOn: ['5xx'],
              numRetries: 3,
              retriableStatusCodes: [],
              retriableHeaders: [],
              retryBackOff: { baseIntervalMs: 1 },
              hostSelectionRetryMaxAttempts: 5,
              retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
            },
          }),
          {
            requestHeadersToAdd: [
              {
                header: { key: 'x-added', value: 'yes' },
                appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
                keepEmptyValue: false,
              },
            ],
          },
        ),
      ],
    );
    const res = await request(`${url}/v1/items`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('good /items yes');
    expect(seen).toEqual(['3']);
    expect(failing.map((f) => f.requests.length)).toEqual([1, 1]);
    expect(filter.stats.retries).toBe(2);
  });

  it('mirrors by the route mirror policy', async () => {
    const main = await up((_req, res) => res.end('main'));
    const shadow = await up((req, res) => res.end());
    const { url, filter } = await serve(
      [new TestCluster('backend', [main.port]), new TestCluster('shadow', [shadow.port])],
      [route('/', action({ cluster: 'backend', requestMirrorPolicies: [{ cluster: 'shadow' }] }))],
    );
    const res = await request(url, { headers: { host: 'svc.local' } });
    expect(await res.body.text()).toBe('main');
    await until(() => shadow.requests.length === 1);
    expect(shadow.requests[0]?.headers.host).toBe('svc.local-shadow');
    expect(filter.stats.mirrorErrors).toBe(0);
  });
});
