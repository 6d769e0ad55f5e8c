// The filters configured from what @meshlet/xds makes of an Envoy listener written as Envoy
// users write it (snake_case JSON): the model shapes the translator produces are the ones the
// filters validate, and they behave as Envoy does on those configs.
import { fromEnvoy } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import { describe, expect, it } from 'vitest';
import { builtinHttpFilters } from '../../src/filters/index.js';
import type { HttpFilter } from '../../src/types.js';
import { type Stage, TestContext, TestEnv, route, run } from './context.js';

const T = 'type.googleapis.com/envoy.extensions.filters.http';

const listener = {
  '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
  name: 'ingress',
  address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'ingress',
            route_config: {
              name: 'main',
              virtual_hosts: [
                {
                  name: 'api',
                  domains: ['*'],
                  cors: {
                    allow_origin_string_match: [{ suffix: '.example.com' }],
                    allow_methods: 'GET,POST',
                    allow_credentials: true,
                  },
                  routes: [
                    {
                      match: { prefix: '/limited' },
                      route: { cluster: 'api' },
                      typed_per_filter_config: {
                        'envoy.filters.http.local_ratelimit': {
                          '@type': `${T}.local_ratelimit.v3.LocalRateLimit`,
                          stat_prefix: 'route',
                          token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: '60s' },
                          filter_enabled: { default_value: { numerator: 100 } },
                          filter_enforced: { default_value: { numerator: 100 } },
                          response_headers_to_add: [
                            { append: false, header: { key: 'x-local-rate-limit', value: 'true' } },
                          ],
                        },
                      },
                    },
                    { match: { prefix: '/' }, route: { cluster: 'api' } },
                  ],
                },
              ],
            },
            http_filters: [
              {
                name: 'envoy.filters.http.fault',
                typed_config: {
                  '@type': `${T}.fault.v3.HTTPFault`,
                  max_active_faults: 100,
                  abort: { header_abort: {}, percentage: { numerator: 100 } },
                  delay: { header_delay: {}, percentage: { numerator: 100 } },
                },
              },
              {
                name: 'envoy.filters.http.local_ratelimit',
                typed_config: {
                  '@type': `${T}.local_ratelimit.v3.LocalRateLimit`,
                  stat_prefix: 'http_local_rate_limiter',
                },
              },
              {
                name: 'envoy.filters.http.rbac',
                typed_config: {
                  '@type': `${T}.rbac.v3.RBAC`,
                  rules: {
                    action: 'DENY',
                    policies: {
                      'deny-admin-from-outside': {
                        permissions: [{ url_path: { path: { prefix: '/admin' } } }],
                        principals: [
                          { not_id: { direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: 8 } } },
                        ],
                      },
                    },
                  },
                  shadow_rules: {
                    action: 'ALLOW',
                    policies: {
                      'get-only': {
                        permissions: [{ header: { name: ':method', string_match: { exact: 'GET' } } }],
                        principals: [{ any: true }],
                      },
                    },
                  },
                },
              },
              {
                name: 'envoy.filters.http.header_mutation',
                typed_config: {
                  '@type': `${T}.header_mutation.v3.HeaderMutation`,
                  mutations: {
                    request_mutations: [{ remove: 'x-internal' }],
                    response_mutations: [
                      {
                        append: {
                          header: { key: 'x-mesh', value: 'meshlet' },
                          append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
                        },
                      },
                    ],
                  },
                },
              },
              { name: 'envoy.filters.http.cors', typed_config: { '@type': `${T}.cors.v3.Cors` } },
              { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}.router.v3.Router` } },
            ],
          },
        },
      ],
    },
  ],
};

function translated(): { hcm: model.HttpConnectionManager; routes: model.RouteConfiguration } {
  const out = fromEnvoy(listener);
  if (out.kind !== 'listener') throw new Error(out.kind);
  const filter = out.value.filterChains[0]?.filters[0];
  if (filter?.kind !== 'http_connection_manager') throw new Error('no HCM');
  const routes = filter.config.routeConfig;
  if (routes === undefined) throw new Error('no routes');
  return { hcm: filter.config, routes };
}

function byName(name: string): HttpFilter {
  const f = builtinHttpFilters.find((x) => x.name === name);
  if (f === undefined) throw new Error(name);
  return f;
}

describe('built-in filters configured from translated Envoy config', () => {
  const { hcm, routes } = translated();
  const envOf = (filterName: string) => new TestEnv(filterName);
  const chain: Stage[] = hcm.httpFilters
    .filter((f) => f.config.type !== 'router')
    .map((f) => {
      const filter = byName(f.config.type);
      return { filter, config: filter.configure(f.config, envOf(f.name)) };
    });
  const vh = routes.virtualHosts[0] as model.VirtualHost;
  const override = (vh.routes[0] as model.Route).typedPerFilterConfig['envoy.filters.http.local_ratelimit'];
  const lrl = byName('local_rate_limit');
  const limitedChain = chain.map((s) =>
    s.filter === lrl ? { filter: lrl, config: lrl.configure(override, envOf('route')) } : s,
  );

  it('configures every filter of the chain', () => {
    expect(chain.map((s) => s.filter.name)).toEqual([
      'fault',
      'local_rate_limit',
      'rbac',
      'header_mutation',
      'cors',
    ]);
  });

  it('a plain request passes every filter; header mutations and CORS apply', async () => {
    const ctx = await run(
      new TestContext({
        route: route({ cluster: 'api', ...(vh.cors ? { cors: vh.cors } : {}) }),
        headers: { origin: 'https://app.example.com', 'x-internal': '1' },
      }),
      chain,
    );
    expect(ctx.response?.status).toBe(200);
    expect(ctx.request.headers['x-internal']).toBeUndefined();
    expect(ctx.response?.headers).toMatchObject({
      'x-mesh': 'meshlet',
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
    });
    expect(ctx.state.get('envoy.filters.http.rbac')).toMatchObject({
      shadowEngineResult: 'allowed',
      shadowEffectivePolicyId: 'get-only',
    });
  });

  it('header-controlled abort', async () => {
    const ctx = await run(new TestContext({ headers: { 'x-envoy-fault-abort-request': '418' } }), chain);
    expect([ctx.response?.status, ctx.replyBody]).toEqual([418, 'fault filter abort']);
    // Response hooks of the filters that ran see the reply: fault ran first, so only it did.
    expect(ctx.response?.headers['x-mesh']).toBeUndefined();
  });

  it('RBAC DENY on /admin from outside 10/8', async () => {
    expect(
      (await run(new TestContext({ path: '/admin', connection: { remoteAddress: '10.2.3.4' } }), chain))
        .response?.status,
    ).toBe(200);
    const denied = await run(
      new TestContext({ path: '/admin?x', connection: { remoteAddress: '::ffff:192.0.2.1' } }),
      chain,
    );
    expect(denied.response?.status).toBe(403);
    // header_mutation comes after rbac: it never ran, so its response mutations do not apply.
    expect(denied.response?.headers['x-mesh']).toBeUndefined();
  });

  it('the per-route local rate limit (the filter-level one only enables it)', async () => {
    expect((await run(new TestContext(), chain)).response?.status).toBe(200);
    expect((await run(new TestContext(), chain)).response?.status).toBe(200);
    expect((await run(new TestContext(), limitedChain)).response?.status).toBe(200);
    const limited = await run(new TestContext(), limitedChain);
    expect(limited.response?.status).toBe(429);
    expect(limited.response?.headers).toEqual({
      'x-local-rate-limit': 'true',
      'x-envoy-ratelimited': 'true',
    });
  });
});
