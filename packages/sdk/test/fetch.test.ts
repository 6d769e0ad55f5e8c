// mesh.fetch against real loopback upstreams: routing by virtual host, retries, breaker, shares,
// canary by header, and the per-cluster routes of a config without route configurations.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { envoyBootstrap, envoyCluster, envoyListener, mesh, upstream } from './helpers.js';

describe('mesh.fetch', () => {
  it('routes by the virtual host the URL names, retrying a 5xx on another host', async () => {
    const bad = await upstream('bad', (req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end('bad');
    });
    const good = await upstream('good');
    const users = await upstream('users');
    const m = await mesh({
      config: envoyBootstrap(
        [
          envoyListener('egress', 0, [
            {
              name: 'orders',
              domains: ['orders'],
              routes: [
                {
                  match: { prefix: '/' },
                  route: {
                    cluster: 'orders',
                    retry_policy: {
                      retry_on: '5xx',
                      num_retries: 2,
                      retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
                      host_selection_retry_max_attempts: 3,
                      retry_back_off: { base_interval: '0.001s', max_interval: '0.002s' },
                    },
                  },
                },
              ],
            },
            {
              name: 'users',
              domains: ['users'],
              routes: [{ match: { prefix: '/' }, route: { cluster: 'users' } }],
            },
          ]),
        ],
        [envoyCluster('orders', [bad.port, good.port]), envoyCluster('users', [users.port])],
      ),
    });
    for (let i = 0; i < 4; i++) {
      const res = await m.fetch('http://orders/api/orders/7');
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('good');
    }
    expect(bad.requests.length).toBeGreaterThan(0);
    expect(good.requests[0]?.url).toBe('/api/orders/7');
    expect(await (await m.fetch('http://users/')).text()).toBe('users');
    expect((await m.fetch('http://unknown/')).status).toBe(404);
    // No socket was bound: the egress ran in-process.
    expect(m.address('egress')).toBeUndefined();
    expect(m.proxy.stats?.prometheus()).toMatch(
      /envoy_cluster_upstream_rq_retry\{envoy_cluster_name="orders"\} [1-9]/,
    );
  });

  it('answers 503 with x-envoy-overloaded when the breaker is full', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => undefined;
    const slow = await upstream('slow', (req, res) => {
      req.resume();
      held.push(res);
      arrived();
    });
    const m = await mesh({
      config: envoyBootstrap(
        [],
        [
          envoyCluster('slow', [slow.port], {
            circuit_breakers: {
              thresholds: [{ max_requests: 1, max_pending_requests: 1, max_connections: 1 }],
            },
          }),
        ],
      ),
    });
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const pending = m.fetch('http://slow/');
    await first;
    const overflow = await m.fetch('http://slow/');
    expect(overflow.status).toBe(503);
    expect(overflow.headers.get('x-envoy-overloaded')).toBe('true');
    await overflow.arrayBuffer();
    for (const res of held) res.end('slow');
    expect(await (await pending).text()).toBe('slow');
  });

  it('shares traffic by weighted clusters and sends canary traffic by header', async () => {
    const stable = await upstream('stable');
    const canary = await upstream('canary');
    let i = 0;
    const m = await mesh({
      // An even spread of draws: the 80/20 split is exact, not sampled.
      random: () => ((i++ * 7919) % 1000) / 1000,
      config: envoyBootstrap(
        [
          envoyListener('egress', 0, [
            {
              name: 'catalog',
              domains: ['catalog'],
              routes: [
                {
                  match: { prefix: '/', headers: [{ name: 'x-env', string_match: { exact: 'canary' } }] },
                  route: { cluster: 'canary' },
                },
                {
                  match: { prefix: '/' },
                  route: {
                    weighted_clusters: {
                      clusters: [
                        { name: 'stable', weight: 80 },
                        { name: 'canary', weight: 20 },
                      ],
                    },
                  },
                },
              ],
            },
          ]),
        ],
        [envoyCluster('stable', [stable.port]), envoyCluster('canary', [canary.port])],
      ),
    });
    const counts = new Map<string, number>();
    for (let n = 0; n < 100; n++) {
      const body = await (await m.fetch('http://catalog/items')).text();
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
    expect(counts.get('stable')).toBeGreaterThanOrEqual(75);
    expect(counts.get('stable')).toBeLessThanOrEqual(85);
    expect((counts.get('stable') ?? 0) + (counts.get('canary') ?? 0)).toBe(100);
    for (let n = 0; n < 5; n++) {
      const res = await m.fetch('http://catalog/items', { headers: { 'x-env': 'canary' } });
      expect(await res.text()).toBe('canary');
    }
  });

  it('reaches a cluster by name when the config has no route configuration', async () => {
    const orders = await upstream('orders');
    const m = await mesh({ config: envoyBootstrap([], [envoyCluster('orders', [orders.port])]) });
    const res = await m.fetch('http://orders/api?x=1', { method: 'POST', body: 'hello' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('orders');
    expect(orders.requests[0]?.url).toBe('/api?x=1');
    expect((await m.fetch('http://elsewhere/')).status).toBe(404);
  });
});
