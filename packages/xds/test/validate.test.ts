import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  XdsValidationError,
  assertValid,
  formatIssue,
  translate,
  validate,
  type Cluster,
  type RouteConfiguration,
} from '@meshlet/xds';
import { at } from './helpers.js';

const shop = translate(readFileSync(new URL('./fixtures/shop.yaml', import.meta.url), 'utf8'));

/** A typed config written in code: what a user of the model writes by hand. */
const carts: Cluster = {
  name: 'carts',
  type: 'STATIC',
  lbPolicy: 'ROUND_ROBIN',
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
    policy: { overprovisioningFactor: 140, dropOverloads: [] },
  },
};

const noHeaders = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};
function routesTo(...clusters: string[]): RouteConfiguration {
  return {
    name: 'main',
    typedPerFilterConfig: {},
    ...noHeaders,
    virtualHosts: [
      {
        name: 'shop',
        domains: ['*'],
        requireTls: 'NONE',
        typedPerFilterConfig: {},
        ...noHeaders,
        routes: clusters.map((cluster, i) => ({
          name: `r${i}`,
          match: {
            prefix: `/${cluster}`,
            caseSensitive: true,
            headers: [],
            queryParameters: [],
            grpc: false,
          },
          route: {
            cluster,
            autoHostRewrite: false,
            timeoutMs: 15_000,
            hashPolicy: [],
            requestMirrorPolicies: [],
            priority: 'DEFAULT',
            upgradeConfigs: [],
          },
          metadata: {},
          typedPerFilterConfig: {},
          ...noHeaders,
        })),
      },
    ],
  };
}

describe('validate', () => {
  it('accepts the translated shop fixture as a whole', () => {
    expect(validate(shop).map(formatIssue)).toEqual([]);
  });

  it('accepts a typed config written in code', () => {
    expect(validate({ routeConfigurations: [routesTo('carts')], clusters: [carts] })).toEqual([]);
  });

  it('reports every unknown cluster with resource and field path, not just the first', () => {
    const errors = validate({
      routeConfigurations: [routesTo('carts', 'ghosts', 'carts', 'phantoms')],
      clusters: [carts],
    });
    expect(errors.map(formatIssue)).toEqual([
      'route_config "main" › virtual_hosts[0] › routes[1] › route.cluster: unknown cluster "ghosts"',
      'route_config "main" › virtual_hosts[0] › routes[3] › route.cluster: unknown cluster "phantoms"',
    ]);
    expect(() => {
      assertValid({ routeConfigurations: [routesTo('ghosts')], clusters: [carts] });
    }).toThrow(XdsValidationError);
  });

  it('checks clusters, endpoints and listeners semantically', () => {
    const bad: Cluster = {
      ...carts,
      name: 'bad',
      connectTimeoutMs: 0,
      lbPolicy: 'MAGLEV',
      maglevLbConfig: { tableSize: 65536 },
    };
    const listeners = shop.listeners.map((l) =>
      l.name === 'tcp'
        ? { ...l, address: { socketAddress: { address: '0.0.0.0', port: 70000, protocol: 'TCP' as const } } }
        : l,
    );
    const errors = validate({ clusters: [bad, carts, carts], listeners, routeConfigurations: [] }).map(
      formatIssue,
    );
    expect(errors).toEqual([
      'cluster "carts": duplicate cluster name',
      'listener "ingress" › filter_chains[0] › filters[0] › typed_config.rds.route_config_name: unknown route_config "main"',
      'listener "tcp" › address.socket_address.port_value: port 70000 is out of range',
      'listener "tcp" › filter_chains[0] › filters[0] › typed_config.weighted_clusters.clusters[1] › name: unknown cluster "payments"',
      'listener "dubbo" › filter_chains[0] › filters[0] › typed_config.routes[0] › cluster: unknown cluster "payments"',
      'cluster "bad" › connect_timeout: must be above 0',
      'cluster "bad" › maglev_lb_config.table_size: table size 65536 must be a prime no larger than 5000011',
    ]);
  });

  it('rejects regexes RE2 does not accept (backreferences, lookarounds)', () => {
    const rc = routesTo('carts');
    const route = at(at(rc.virtualHosts, 0).routes, 0);
    const withRegex: RouteConfiguration = {
      ...rc,
      virtualHosts: [
        {
          ...at(rc.virtualHosts, 0),
          routes: [
            {
              ...route,
              match: {
                caseSensitive: true,
                headers: [],
                queryParameters: [],
                grpc: false,
                safeRegex: '(a)\\1',
              },
            },
          ],
        },
      ],
    };
    expect(validate({ routeConfigurations: [withRegex] }).map(formatIssue)).toEqual([
      expect.stringMatching(
        /^route_config "main" › virtual_hosts\[0\] › routes\[0\] › match\.safe_regex: invalid RE2 regex/,
      ),
    ]);
  });
});
