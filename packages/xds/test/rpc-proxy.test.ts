// The RPC proxy's config: meshlet's TypedStruct (`meshlet.rpc.v1.RpcProxy`) with HTTP filters,
// timeouts, retries and subset matches; Envoy's dubbo_proxy metadata_match.
import { describe, expect, it } from 'vitest';
import { TYPE_URLS, translateResource, type Listener, type RpcProxyFilter } from '@meshlet/xds';
import { at } from './helpers.js';

function listenerWith(typedConfig: Record<string, unknown>): Record<string, unknown> {
  return {
    '@type': TYPE_URLS.listener,
    name: 'rpc',
    address: { socket_address: { address: '127.0.0.1', port_value: 12200 } },
    filter_chains: [{ filters: [{ name: 'rpc', typed_config: typedConfig }] }],
  };
}

function rpcStruct(value: Record<string, unknown>): Record<string, unknown> {
  return listenerWith({
    '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
    type_url: 'type.googleapis.com/meshlet.rpc.v1.RpcProxy',
    value,
  });
}

function filterOf(resource: Record<string, unknown>): {
  filter: RpcProxyFilter | undefined;
  errors: string[];
} {
  const out = translateResource(resource);
  if (!out.ok) return { filter: undefined, errors: out.errors.map((e) => `${e.path}: ${e.message}`) };
  const f = at(at((out.resource.value as Listener).filterChains, 0).filters, 0);
  return { filter: f.kind === 'rpc_proxy' ? f : undefined, errors: [] };
}

describe('rpc_proxy config', () => {
  it('translates http_filters, defaults, per-route timeouts, retries and subset matches', () => {
    const { filter, errors } = filterOf(
      rpcStruct({
        protocol: 'bolt',
        stat_prefix: 'bolt_in',
        request_timeout_ms: 2000,
        max_frame_size: 65536,
        frame_timeout_ms: 2500,
        http_filters: [
          {
            name: 'envoy.filters.http.local_ratelimit',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
              stat_prefix: 'rl',
              token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: '1s' },
            },
          },
          {
            name: 'tenant',
            typed_config: {
              '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
              type_url: 'type.googleapis.com/acme.tenant',
              value: { deny_list: ['x'] },
            },
          },
        ],
        routes: [
          {
            match: { method: { prefix: 'get' } },
            cluster: 'users',
            timeout_ms: 500,
            idempotent: true,
            num_retries: 2,
            metadata_match: { filter_metadata: { 'envoy.lb': { stage: 'canary' } } },
          },
        ],
      }),
    );
    expect(errors).toEqual([]);
    const config = filter?.config;
    expect(config?.requestTimeoutMs).toBe(2000);
    expect(config?.maxFrameSize).toBe(65536);
    expect(config?.frameTimeoutMs).toBe(2500);
    expect(config?.httpFilters?.map((f) => f.config.type)).toEqual(['local_rate_limit', 'custom']);
    expect(config?.httpFilters?.[0]?.config).toMatchObject({
      tokenBucket: { maxTokens: 10, tokensPerFill: 10, fillIntervalMs: 1000 },
    });
    // A user filter's own config keeps its keys as written.
    expect(config?.httpFilters?.[1]?.config).toEqual({
      type: 'custom',
      typeUrl: 'type.googleapis.com/acme.tenant',
      value: { deny_list: ['x'] },
    });
    expect(config?.routes[0]).toEqual({
      match: { headers: [], method: { prefix: 'get', ignoreCase: false } },
      cluster: 'users',
      timeoutMs: 500,
      idempotent: true,
      numRetries: 2,
      metadataMatch: { 'envoy.lb': { stage: 'canary' } },
    });
  });

  it('rejects the router in http_filters and bad numbers, naming the field', () => {
    const { errors } = filterOf(
      rpcStruct({
        protocol: 'bolt',
        max_frame_size: 0,
        http_filters: [
          {
            name: 'envoy.filters.http.router',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
          },
        ],
        routes: [{ cluster: 'a', timeout_ms: -1 }],
      }),
    );
    expect(errors).toEqual([
      expect.stringMatching(/routes\[0\].*timeout_ms: must be a non-negative integer/),
      expect.stringMatching(/http_filters\[0\].*the router is implicit/),
      expect.stringMatching(/max_frame_size: must be positive/),
    ]);
  });

  it("carries dubbo_proxy's metadata_match", () => {
    const { filter, errors } = filterOf(
      listenerWith({
        '@type': TYPE_URLS.dubboProxy,
        stat_prefix: 'dubbo',
        route_config: [
          {
            interface: 'org.acme.Orders',
            routes: [
              {
                match: { method: { name: { exact: 'get' } } },
                route: { cluster: 'orders', metadata_match: { filter_metadata: { 'envoy.lb': { v: '2' } } } },
              },
            ],
          },
        ],
      }),
    );
    expect(errors).toEqual([]);
    expect(filter?.config.routes[0]?.metadataMatch).toEqual({ 'envoy.lb': { v: '2' } });
  });
});
