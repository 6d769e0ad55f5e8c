import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TYPE_URLS, formatIssue, translate, translateResource, type Cluster } from '@meshlet/xds';
import { at } from './helpers.js';

const result = translate(readFileSync(new URL('./fixtures/more-features.yaml', import.meta.url), 'utf8'));
const cluster = (name: string): Cluster | undefined => result.clusters.find((c) => c.name === name);

describe('translate: more features', () => {
  it('reports exactly the two deliberate errors of the fixture', () => {
    expect(result.errors.map(formatIssue)).toEqual([
      'listener "tls" › default_filter_chain.filters[0] › typed_config: network filter "envoy.filters.network.http_connection_manager" has a type meshlet does not support: type.googleapis.com/envoy.extensions.network.http_connection_manager.v3.Unused',
      'cluster "tcp-checked" › lb_policy: load balancing policy CLUSTER_PROVIDED is not supported (meshlet has ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)',
    ]);
  });

  it('translates downstream TLS of a default filter chain', () => {
    const fixed = translateResource({
      '@type': TYPE_URLS.listener,
      name: 'tls',
      address: { socket_address: { address: '::', port_value: 8443 } },
      default_filter_chain: {
        transport_socket: {
          name: 'tls',
          typed_config: {
            '@type': TYPE_URLS.downstreamTlsContext,
            require_client_certificate: true,
            common_tls_context: {
              alpn_protocols: ['h2'],
              tls_certificates: [
                { certificate_chain: { filename: '/c.crt' }, private_key: { filename: '/c.key' } },
              ],
              validation_context: { trusted_ca: { inline_string: 'PEM' } },
            },
          },
        },
        filters: [
          { name: 'tcp', typed_config: { '@type': TYPE_URLS.tcpProxy, stat_prefix: 't', cluster: 'c' } },
        ],
      },
    });
    expect(
      fixed.ok && fixed.resource.kind === 'listener'
        ? fixed.resource.value.defaultFilterChain?.tls
        : undefined,
    ).toEqual({
      certificates: [{ certificateChain: { filename: '/c.crt' }, privateKey: { filename: '/c.key' } }],
      alpnProtocols: ['h2'],
      requireClientCertificate: true,
      validation: { trustedCa: { inlineString: 'PEM' }, matchSubjectAltNames: [] },
    });
  });

  it('translates header matcher forms, cluster_header, hash sources, rewrites, redirects, file bodies', () => {
    const routes = at(at(result.routeConfigurations, 0).virtualHosts, 0).routes;
    const [all, files, legacy, maintenance] = [0, 1, 2, 3].map((i) => at(routes, i));
    expect(
      all?.match.headers.map((h) => [h.name, h.stringMatch, h.rangeMatch, h.presentMatch, h.invertMatch]),
    ).toEqual([
      ['x-a', { exact: 'a', ignoreCase: false }, undefined, undefined, false],
      ['x-b', { prefix: 'b', ignoreCase: false }, undefined, undefined, false],
      ['x-c', undefined, { start: 1, end: 10 }, undefined, false],
      ['x-d', undefined, undefined, true, true],
      ['x-e', { safeRegex: '^e+$', ignoreCase: false }, undefined, undefined, false],
    ]);
    expect(all?.route).toMatchObject({
      clusterHeader: 'x-cluster',
      autoHostRewrite: true,
      idleTimeoutMs: 5000,
      priority: 'HIGH',
      upgradeConfigs: [{ upgradeType: 'websocket', enabled: true }],
      hashPolicy: [
        { connectionProperties: { sourceIp: true }, terminal: false },
        { queryParameter: { name: 'user' }, terminal: false },
        { filterState: { key: 'io.istio.peer' }, terminal: false },
      ],
    });
    expect(files?.match.pathSeparatedPrefix).toBe('/files');
    expect(files?.route).toMatchObject({
      cluster: 'files',
      hostRewriteHeader: 'x-host',
      maxStreamDurationMs: 60_000,
      grpcTimeoutHeaderMaxMs: 30_000,
    });
    expect(legacy?.redirect).toEqual({
      httpsRedirect: false,
      hostRedirect: 'new.example.com',
      portRedirect: 8443,
      regexRewrite: { pattern: '^/legacy/(.*)$', substitution: '/\\1' },
      responseCode: 302,
      stripQuery: true,
    });
    expect(maintenance?.directResponse).toEqual({
      status: 503,
      body: { filename: '/var/www/maintenance.html' },
    });
  });

  it('translates DNS clusters, TCP and gRPC health checks, downstream/auto protocols, auto SNI', () => {
    expect(cluster('grpc-checked')).toMatchObject({
      type: 'LOGICAL_DNS',
      dnsLookupFamily: 'V4_ONLY',
      dnsRefreshRateMs: 30_000,
      respectDnsTtl: true,
      localityWeightedLb: true,
      upstreamHttpProtocolOptions: {
        protocol: 'downstream',
        http2ProtocolOptions: { initialStreamWindowSize: 65536 },
      },
    });
    expect(cluster('grpc-checked')?.healthChecks).toEqual([
      {
        timeoutMs: 1000,
        intervalMs: 2000,
        intervalJitterMs: 0,
        unhealthyThreshold: 3,
        healthyThreshold: 2,
        noTrafficIntervalMs: 60_000,
        tcp: { send: '50494e47', receive: ['504f4e47'] },
      },
      {
        timeoutMs: 1000,
        intervalMs: 2000,
        intervalJitterMs: 0,
        unhealthyThreshold: 3,
        healthyThreshold: 2,
        noTrafficIntervalMs: 60_000,
        grpc: { serviceName: 'grpc.health.v1.Health', authority: 'backend' },
      },
    ]);
    expect(cluster('auto')?.upstreamHttpProtocolOptions).toMatchObject({ protocol: 'auto', autoSni: true });
  });

  it('translates RBAC principals and permissions, rate limit descriptors and fault headers', () => {
    const filters = [
      {
        name: 'envoy.filters.http.fault',
        typed_config: {
          '@type': TYPE_URLS.fault,
          headers: [{ name: 'x-chaos', present_match: true }],
          upstream_cluster: 'carts',
          downstream_nodes: ['web'],
          delay: { header_delay: {}, percentage: { numerator: 50, denominator: 'MILLION' } },
          abort: { grpc_status: 14, percentage: { numerator: 1 } },
        },
      },
      {
        name: 'envoy.filters.http.local_ratelimit',
        typed_config: {
          '@type': TYPE_URLS.localRateLimit,
          stat_prefix: 'rl',
          status: { code: 'ServiceUnavailable' },
          descriptors: [
            {
              entries: [{ key: 'path', value: '/login' }],
              token_bucket: { max_tokens: 5, tokens_per_fill: 5, fill_interval: '60s' },
            },
          ],
          local_rate_limit_per_downstream_connection: true,
          enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
        },
      },
      {
        name: 'envoy.filters.http.rbac',
        typed_config: {
          '@type': TYPE_URLS.rbac,
          rules: {
            action: 'ALLOW',
            policies: {
              p: {
                permissions: [
                  {
                    and_rules: {
                      rules: [
                        { header: { name: ':method', string_match: { exact: 'GET' } } },
                        { destination_port: 8080 },
                      ],
                    },
                  },
                  {
                    or_rules: {
                      rules: [
                        { destination_ip: { address_prefix: '10.0.0.0', prefix_len: 8 } },
                        { requested_server_name: { suffix: '.internal' } },
                      ],
                    },
                  },
                  { destination_port_range: { start: 9000, end: 9100 } },
                ],
                principals: [
                  { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/shop/sa/web' } } },
                  {
                    or_ids: {
                      ids: [
                        { source_ip: { address_prefix: '192.168.0.0', prefix_len: 16 } },
                        { direct_remote_ip: { address_prefix: '127.0.0.1', prefix_len: 32 } },
                      ],
                    },
                  },
                  {
                    and_ids: {
                      ids: [
                        { header: { name: 'x-user', present_match: true } },
                        { url_path: { path: { prefix: '/public' } } },
                      ],
                    },
                  },
                ],
              },
            },
          },
          shadow_rules: { action: 'DENY', policies: {} },
        },
      },
      { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } },
    ];
    const out = translateResource({
      '@type': TYPE_URLS.listener,
      name: 'l',
      address: { socket_address: { address: '::', port_value: 80 } },
      filter_chains: [
        {
          filters: [
            {
              name: 'hcm',
              typed_config: {
                '@type': TYPE_URLS.httpConnectionManager,
                stat_prefix: 's',
                rds: { route_config_name: 'r' },
                http_filters: filters,
              },
            },
          ],
        },
      ],
    });
    expect(out.ok ? [] : out.errors.map(formatIssue)).toEqual([]);
    if (!out.ok || out.resource.kind !== 'listener') return;
    const f = at(at(out.resource.value.filterChains, 0).filters, 0);
    if (f.kind !== 'http_connection_manager') throw new Error('not an HCM');
    const [fault, rl, rbac] = [0, 1, 2].map((i) => at(f.config.httpFilters, i).config);
    expect(fault).toEqual({
      type: 'fault',
      headers: [
        { name: 'x-chaos', presentMatch: true, invertMatch: false, treatMissingHeaderAsEmpty: false },
      ],
      upstreamCluster: 'carts',
      downstreamNodes: ['web'],
      delay: { headerDelay: true, percentage: { numerator: 50, denominator: 1_000_000 } },
      abort: { grpcStatus: 14, headerAbort: false, percentage: { numerator: 1, denominator: 100 } },
    });
    expect(rl).toMatchObject({
      type: 'local_rate_limit',
      status: 503,
      descriptors: [
        {
          entries: [{ key: 'path', value: '/login' }],
          tokenBucket: { maxTokens: 5, tokensPerFill: 5, fillIntervalMs: 60_000 },
        },
      ],
      localRateLimitPerDownstreamConnection: true,
      enableXRatelimitHeaders: 'DRAFT_VERSION_03',
    });
    expect(rbac).toEqual({
      type: 'rbac',
      rules: {
        action: 'ALLOW',
        policies: {
          p: {
            permissions: [
              {
                andRules: [
                  {
                    header: {
                      name: ':method',
                      stringMatch: { exact: 'GET', ignoreCase: false },
                      invertMatch: false,
                      treatMissingHeaderAsEmpty: false,
                    },
                  },
                  { destinationPort: 8080 },
                ],
              },
              {
                orRules: [
                  { destinationIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } },
                  { requestedServerName: { suffix: '.internal', ignoreCase: false } },
                ],
              },
              { destinationPortRange: { start: 9000, end: 9100 } },
            ],
            principals: [
              {
                authenticated: {
                  principalName: { exact: 'spiffe://cluster.local/ns/shop/sa/web', ignoreCase: false },
                },
              },
              {
                orIds: [
                  { sourceIp: { addressPrefix: '192.168.0.0', prefixLen: 16 } },
                  { directRemoteIp: { addressPrefix: '127.0.0.1', prefixLen: 32 } },
                ],
              },
              {
                andIds: [
                  {
                    header: {
                      name: 'x-user',
                      presentMatch: true,
                      invertMatch: false,
                      treatMissingHeaderAsEmpty: false,
                    },
                  },
                  { urlPath: { prefix: '/public', ignoreCase: false } },
                ],
              },
            ],
          },
        },
      },
      shadowRules: { action: 'DENY', policies: {} },
    });
  });
});
