// The built-in filters end to end, configured as Envoy configures them (an Envoy v3 listener in
// JSON, translated by @meshlet/xds): header mutation, fault abort by header, RBAC deny, CORS
// preflight and local rate limiting, in one chain in front of a real upstream.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { fromEnvoy, TYPE_URLS } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import { cluster, origin, snapshot } from './helpers.js';
import { e2eScope } from './scope.js';

const { start, upstream } = e2eScope();

const percent100 = { numerator: 100, denominator: 'HUNDRED' };

function envoyListener(): model.Listener {
  return fromEnvoy({
    '@type': TYPE_URLS.listener,
    name: 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPE_URLS.httpConnectionManager,
              stat_prefix: 'ingress',
              route_config: {
                name: 'local',
                virtual_hosts: [
                  {
                    name: 'shop',
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, route: { cluster: 'api' } }],
                    typed_per_filter_config: {
                      'envoy.filters.http.cors': {
                        '@type': TYPE_URLS.corsPolicy,
                        allow_origin_string_match: [{ exact: 'https://shop.example.com' }],
                        allow_methods: 'GET,POST',
                        max_age: '600',
                      },
                    },
                  },
                ],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.cors',
                  typed_config: { '@type': TYPE_URLS.cors },
                },
                {
                  name: 'envoy.filters.http.fault',
                  typed_config: {
                    '@type': TYPE_URLS.fault,
                    abort: { header_abort: {}, percentage: percent100 },
                  },
                },
                {
                  name: 'envoy.filters.http.rbac',
                  typed_config: {
                    '@type': TYPE_URLS.rbac,
                    rules: {
                      action: 'DENY',
                      policies: {
                        admin: {
                          permissions: [{ url_path: { path: { prefix: '/admin' } } }],
                          principals: [{ any: true }],
                        },
                      },
                    },
                  },
                },
                {
                  name: 'envoy.filters.http.local_ratelimit',
                  typed_config: {
                    '@type': TYPE_URLS.localRateLimit,
                    stat_prefix: 'rl',
                    token_bucket: { max_tokens: 8, tokens_per_fill: 8, fill_interval: '3600s' },
                    filter_enabled: { default_value: percent100 },
                    filter_enforced: { default_value: percent100 },
                  },
                },
                {
                  name: 'envoy.filters.http.header_mutation',
                  typed_config: {
                    '@type': TYPE_URLS.headerMutation,
                    mutations: {
                      request_mutations: [{ append: { header: { key: 'x-mutated', value: 'yes' } } }],
                    },
                  },
                },
                { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } },
              ],
            },
          },
        ],
      },
    ],
  }).value as model.Listener;
}

describe('built-in filters through the proxy', () => {
  it('mutate headers, abort by fault header, deny by RBAC, answer CORS preflights, rate limit', async () => {
    const seen: unknown[] = [];
    const api = await upstream('api', (req, res) => {
      req.resume();
      seen.push(req.headers['x-mutated']);
      res.end('api');
    });
    const proxy = await start(
      snapshot({ listeners: [envoyListener()], clusters: [cluster('api', [api.port])] }),
    );
    const base = origin(proxy);

    const ok = await request(`${base}/items`);
    expect(await ok.body.text()).toBe('api');
    expect(seen).toEqual(['yes']);

    const faulted = await request(`${base}/items`, { headers: { 'x-envoy-fault-abort-request': '503' } });
    expect(faulted.statusCode).toBe(503);
    expect(await faulted.body.text()).toBe('fault filter abort');

    const denied = await request(`${base}/admin/users`);
    expect(denied.statusCode).toBe(403);
    expect(await denied.body.text()).toBe('RBAC: access denied');

    const preflight = await request(`${base}/items`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(200);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(preflight.headers['access-control-allow-methods']).toBe('GET,POST');
    await preflight.body.dump();

    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await request(`${base}/items`);
      statuses.push(res.statusCode);
      await res.body.dump();
    }
    expect(statuses).toContain(429);
    expect(statuses.indexOf(429)).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(8);
  });
});
