// The README's examples, run: the typed config in code and the bootstrap file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  adsServerAddress,
  formatIssue,
  loadBootstrap,
  validate,
  type Cluster,
  type RouteConfiguration,
} from '@meshlet/xds';

it('README: a typed config in code, validated', () => {
  const carts: Cluster = {
    name: 'carts',
    type: 'STATIC',
    lbPolicy: 'MAGLEV',
    maglevLbConfig: { tableSize: 65537 },
    connectTimeoutMs: 250,
    circuitBreakers: { thresholds: [] },
    healthChecks: [],
    upstreamHttpProtocolOptions: {
      protocol: 'http1',
      commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
      autoSni: false,
    },
    healthyPanicThreshold: 50,
    localityWeightedLb: false,
    dnsRefreshRateMs: 5000,
    dnsLookupFamily: 'AUTO',
    respectDnsTtl: false,
    metadata: {},
    loadAssignment: {
      clusterName: 'carts',
      policy: { overprovisioningFactor: 140, dropOverloads: [] },
      endpoints: [
        {
          locality: { region: '', zone: '', subZone: '' },
          priority: 0,
          lbEndpoints: [
            {
              address: { socketAddress: { address: '127.0.0.1', port: 8080, protocol: 'TCP' } },
              hostname: '',
              healthStatus: 'HEALTHY',
              loadBalancingWeight: 1,
              metadata: {},
            },
          ],
        },
      ],
    },
  };
  const none = {
    requestHeadersToAdd: [],
    requestHeadersToRemove: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
  };
  const routes: RouteConfiguration = {
    name: 'main',
    typedPerFilterConfig: {},
    ...none,
    virtualHosts: [
      {
        name: 'shop',
        domains: ['*'],
        requireTls: 'NONE',
        typedPerFilterConfig: {},
        ...none,
        routes: [
          {
            name: 'carts',
            metadata: {},
            typedPerFilterConfig: {},
            ...none,
            match: { prefix: '/carts', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
            route: {
              cluster: 'cart',
              timeoutMs: 2000,
              autoHostRewrite: false,
              hashPolicy: [{ header: { headerName: 'x-user' }, terminal: false }],
              requestMirrorPolicies: [],
              priority: 'DEFAULT',
              upgradeConfigs: [],
            },
          },
        ],
      },
    ],
  };
  expect(validate({ routeConfigurations: [routes], clusters: [carts] }).map(formatIssue)).toEqual([
    'route_config "main" › virtual_hosts[0] › routes[0] › route.cluster: unknown cluster "cart"',
  ]);
});

it('README: the bootstrap file', () => {
  const yaml = `# bootstrap.yaml: the ADS server is a static cluster, listeners and clusters come over ADS.
node: { id: shop-1, cluster: shop }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 9901 } }
static_resources:
  clusters:
    - name: xds
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: xds
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } } }] }]
dynamic_resources:
  ads_config: { api_type: GRPC, grpc_services: [{ envoy_grpc: { cluster_name: xds } }] }
  lds_config: { ads: {} }
  cds_config: { ads: {} }
`;
  const file = join(mkdtempSync(join(tmpdir(), 'meshlet-readme-')), 'bootstrap.yaml');
  writeFileSync(file, yaml);
  const { bootstrap } = loadBootstrap(file);
  expect(adsServerAddress(bootstrap)).toBe('127.0.0.1:18000');
  expect(bootstrap.node.id).toBe('shop-1');
});
