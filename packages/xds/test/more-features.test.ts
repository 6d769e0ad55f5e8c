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
});
