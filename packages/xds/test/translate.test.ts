import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { at, defined } from './helpers.js';
import {
  TYPE_URLS,
  XdsTranslationError,
  encodeResource,
  formatIssue,
  fromEnvoy,
  translate,
  translateResource,
  type Cluster,
  type HttpConnectionManager,
  type Listener,
  type RouteConfiguration,
} from '@meshlet/xds';

const shopText = readFileSync(new URL('./fixtures/shop.yaml', import.meta.url), 'utf8');
const shop = parse(shopText) as Record<string, Record<string, unknown>[]>;

/** The same document with every key camelCased except map keys (typed_per_filter_config...). */
function camelKeys(v: unknown, keepKeys = false): unknown {
  if (Array.isArray(v)) return v.map((x) => camelKeys(x));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const name =
      keepKeys || k.startsWith('@') ? k : k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    const isMap = [
      'typed_per_filter_config',
      'typed_extension_protocol_options',
      'policies',
      'filter_metadata',
      'value',
      'metadata',
    ].includes(k);
    out[name] = isMap ? mapValues(x) : camelKeys(x);
  }
  return out;
}
function mapValues(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return camelKeys(v);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = camelKeys(x);
  return out;
}

function one<T>(list: T[], name: string, by: (t: T) => string): T {
  const found = list.find((x) => by(x) === name);
  if (!found) throw new Error(`no ${name}`);
  return found;
}

describe('translate: the shop fixture', () => {
  const result = translate(shopText);

  it('translates every resource without errors, and warns about the optional filter it skips', () => {
    expect(result.errors.map(formatIssue)).toEqual([]);
    expect(result.listeners).toHaveLength(3);
    expect(result.routeConfigurations).toHaveLength(1);
    expect(result.clusters).toHaveLength(4);
    expect(result.endpoints).toHaveLength(3);
    expect(result.warnings.map(formatIssue)).toEqual([
      'listener "ingress" › filter_chains[0] › filters[0] › typed_config.http_filters[6] › typed_config: optional filter "envoy.filters.http.lua" (type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua) is not supported by meshlet; skipped',
    ]);
  });

  it('gives the same model from snake_case and camelCase', () => {
    const camel = translate(camelKeys(shop));
    expect(camel.errors.map(formatIssue)).toEqual([]);
    expect(camel.listeners).toEqual(result.listeners);
    expect(camel.routeConfigurations).toEqual(result.routeConfigurations);
    expect(camel.clusters).toEqual(result.clusters);
    expect(camel.endpoints).toEqual(result.endpoints);
  });

  it('gives the same model from protobuf Anys as from JSON', () => {
    const anys = [
      ...defined(shop.listeners).map((r) => encodeResource(r, TYPE_URLS.listener)),
      ...defined(shop.routes).map((r) => encodeResource(r, TYPE_URLS.routeConfiguration)),
      ...defined(shop.clusters).map((r) => encodeResource(r, TYPE_URLS.cluster)),
      ...defined(shop.endpoints).map((r) => encodeResource(r, TYPE_URLS.clusterLoadAssignment)),
    ];
    const wire = translate(anys);
    expect(wire.errors.map(formatIssue)).toEqual([]);
    expect(wire.listeners).toEqual(result.listeners);
    expect(wire.routeConfigurations).toEqual(result.routeConfigurations);
    expect(wire.clusters).toEqual(result.clusters);
    expect(wire.endpoints).toEqual(result.endpoints);
  });

  it('translates the listener, its filter chain match and the connection manager', () => {
    const l: Listener = one(result.listeners, 'ingress', (x) => x.name);
    expect(l.address).toEqual({ socketAddress: { address: '0.0.0.0', port: 8080, protocol: 'TCP' } });
    expect(l.listenerFilters).toEqual([
      { name: 'envoy.filters.listener.tls_inspector', kind: 'tls_inspector' },
    ]);
    const chain = at(l.filterChains, 0);
    expect(chain.filterChainMatch).toMatchObject({
      destinationPort: 8080,
      serverNames: ['shop.example.com'],
      transportProtocol: 'raw_buffer',
    });
    const f = at(chain.filters, 0);
    expect(f.kind).toBe('http_connection_manager');
    const hcm = f.config as HttpConnectionManager;
    expect(hcm).toMatchObject({
      statPrefix: 'ingress_http',
      codecType: 'AUTO',
      rds: { routeConfigName: 'main' },
      streamIdleTimeoutMs: 300_000,
      requestTimeoutMs: 500,
      useRemoteAddress: true,
      xffNumTrustedHops: 1,
      commonHttpProtocolOptions: {
        idleTimeoutMs: 60_000,
        maxHeadersCount: 100,
        headersWithUnderscoresAction: 'REJECT_REQUEST',
      },
    });
    expect(hcm.httpFilters.map((x) => x.config.type)).toEqual([
      'fault',
      'local_rate_limit',
      'rbac',
      'cors',
      'header_mutation',
      'custom',
      'router',
    ]);
    expect(hcm.httpFilters[0]?.config).toEqual({
      type: 'fault',
      delay: { fixedDelayMs: 100, headerDelay: false, percentage: { numerator: 5, denominator: 100 } },
      abort: { httpStatus: 503, headerAbort: false, percentage: { numerator: 1, denominator: 10_000 } },
      headers: [],
      upstreamCluster: '',
      downstreamNodes: [],
      maxActiveFaults: 10,
    });
    expect(hcm.httpFilters[1]?.config).toMatchObject({
      type: 'local_rate_limit',
      tokenBucket: { maxTokens: 100, tokensPerFill: 10, fillIntervalMs: 1000 },
      filterEnabled: { numerator: 100, denominator: 100 },
      status: 429,
      responseHeadersToAdd: [
        {
          header: { key: 'x-limited', value: 'true' },
          appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
          keepEmptyValue: false,
        },
      ],
    });
    expect(hcm.httpFilters[2]?.config).toEqual({
      type: 'rbac',
      rules: {
        action: 'DENY',
        policies: {
          'block-admin': {
            permissions: [{ urlPath: { prefix: '/admin', ignoreCase: false } }],
            principals: [{ notId: { remoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } } }],
          },
        },
      },
    });
    expect(hcm.httpFilters[4]?.config).toEqual({
      type: 'header_mutation',
      requestMutations: [{ remove: 'x-debug' }],
      responseMutations: [
        {
          append: {
            header: { key: 'x-served-by', value: 'meshlet' },
            appendAction: 'APPEND_IF_EXISTS_OR_ADD',
            keepEmptyValue: false,
          },
        },
      ],
    });
    expect(hcm.httpFilters[5]?.config).toEqual({
      type: 'custom',
      typeUrl: 'type.googleapis.com/acme.filters.Audit',
      value: { level: 'full', sample: 0.5 },
    });
  });

  it('translates the TCP proxy and the Dubbo proxy', () => {
    const tcp = one(result.listeners, 'tcp', (x) => x.name).filterChains[0]?.filters[0];
    expect(tcp).toEqual({
      name: 'envoy.filters.network.tcp_proxy',
      kind: 'tcp_proxy',
      config: {
        statPrefix: 'tcp',
        maxConnectAttempts: 1,
        weightedClusters: [
          { name: 'carts', weight: 1 },
          { name: 'payments', weight: 3 },
        ],
        idleTimeoutMs: 30_000,
      },
    });
    const dubbo = one(result.listeners, 'dubbo', (x) => x.name).filterChains[0]?.filters[0];
    expect(dubbo).toEqual({
      name: 'envoy.filters.network.dubbo_proxy',
      kind: 'rpc_proxy',
      config: {
        statPrefix: 'dubbo',
        protocol: 'dubbo',
        routes: [
          {
            match: {
              headers: [],
              service: { exact: 'org.acme.OrderService', ignoreCase: false },
              method: { prefix: 'get', ignoreCase: false },
            },
            cluster: 'payments',
          },
        ],
      },
    });
  });

  it('translates routes: matchers, actions, rewrites, retries, hashing, mirrors, per-filter config', () => {
    const rc: RouteConfiguration = at(result.routeConfigurations, 0);
    expect(rc.responseHeadersToAdd[0]?.header).toEqual({ key: 'x-route-table', value: 'main' });
    const vh = at(rc.virtualHosts, 0);
    expect(vh.domains).toEqual(['shop.example.com', '*.shop.example.com']);
    expect(vh.requireTls).toBe('EXTERNAL_ONLY');
    expect(vh.retryPolicy).toMatchObject({ retryOn: ['5xx', 'reset'], numRetries: 2 });
    expect(vh.typedPerFilterConfig['envoy.filters.http.cors']).toMatchObject({
      type: 'cors',
      policy: {
        allowOriginStringMatch: [{ suffix: '.example.com', ignoreCase: false }],
        allowMethods: 'GET,POST',
        maxAge: '600',
      },
    });
    const [carts, checkout, redirect, health] = [0, 1, 2, 3].map((i) => at(vh.routes, i));
    expect(carts?.match).toEqual({
      prefix: '/carts',
      caseSensitive: true,
      grpc: false,
      headers: [
        {
          name: 'x-tenant',
          stringMatch: { exact: 'acme', ignoreCase: false },
          invertMatch: false,
          treatMissingHeaderAsEmpty: false,
        },
      ],
      queryParameters: [{ name: 'debug', presentMatch: true }],
    });
    expect(carts?.route).toMatchObject({
      cluster: 'carts',
      timeoutMs: 2500,
      prefixRewrite: '/v2/carts',
      retryPolicy: {
        retryOn: ['5xx', 'connect-failure', 'retriable-status-codes'],
        numRetries: 3,
        perTryTimeoutMs: 250,
        retriableStatusCodes: [503],
        retryBackOff: { baseIntervalMs: 10, maxIntervalMs: 100 },
        retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
      },
      hashPolicy: [
        { header: { headerName: 'x-user' }, terminal: false },
        { cookie: { name: 'session', path: '/', ttlMs: 3_600_000 }, terminal: true },
      ],
      requestMirrorPolicies: [{ cluster: 'shadow', runtimeFraction: { numerator: 10, denominator: 100 } }],
      metadataMatch: { 'envoy.lb': { version: 'v2' } },
    });
    expect(checkout?.match).toMatchObject({ safeRegex: '^/checkout/[0-9]+$', grpc: true });
    expect(checkout?.route).toMatchObject({
      weightedClusters: {
        totalWeight: 100,
        clusters: [
          { name: 'payments', weight: 90 },
          { name: 'payments-canary', weight: 10 },
        ],
      },
      regexRewrite: { pattern: '^/checkout/(.*)$', substitution: '/pay/\\1' },
      hostRewriteLiteral: 'payments.internal',
      timeoutMs: 15_000,
    });
    expect(checkout?.route?.weightedClusters?.clusters[1]?.requestHeadersToAdd[0]?.header).toEqual({
      key: 'x-canary',
      value: '1',
    });
    expect(checkout?.typedPerFilterConfig['envoy.filters.http.fault']).toEqual({ type: 'disabled' });
    expect(redirect?.redirect).toEqual({
      httpsRedirect: true,
      pathRedirect: '/new',
      responseCode: 308,
      stripQuery: false,
    });
    expect(health?.match.caseSensitive).toBe(false);
    expect(health?.directResponse).toEqual({ status: 200, body: { inlineString: 'ok' } });
  });

  it('translates clusters: discovery, LB policies, breakers, outlier detection, health checks, protocol, TLS', () => {
    const carts: Cluster = one(result.clusters, 'carts', (c) => c.name);
    expect(carts).toMatchObject({
      type: 'EDS',
      edsServiceName: 'carts-v1',
      connectTimeoutMs: 250,
      lbPolicy: 'RING_HASH',
      ringHashLbConfig: { minimumRingSize: 512, maximumRingSize: 4096, hashFunction: 'XX_HASH' },
      healthyPanicThreshold: 25,
      lbSubsetConfig: { fallbackPolicy: 'ANY_ENDPOINT', subsetSelectors: [{ keys: ['version'] }] },
      upstreamHttpProtocolOptions: {
        protocol: 'http2',
        http2ProtocolOptions: { maxConcurrentStreams: 100 },
        commonHttpProtocolOptions: { idleTimeoutMs: 30_000, maxRequestsPerConnection: 1000 },
      },
    });
    expect(carts.circuitBreakers.thresholds).toEqual([
      {
        priority: 'DEFAULT',
        maxConnections: 100,
        maxPendingRequests: 50,
        maxRequests: 200,
        maxRetries: 5,
        trackRemaining: false,
      },
      {
        priority: 'HIGH',
        maxConnections: 1000,
        maxPendingRequests: 1024,
        maxRequests: 1024,
        maxRetries: 3,
        trackRemaining: false,
      },
    ]);
    expect(carts.outlierDetection).toMatchObject({
      consecutive5xx: 3,
      intervalMs: 5000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 50,
      consecutiveGatewayFailure: 5,
    });
    expect(carts.healthChecks[0]).toMatchObject({
      timeoutMs: 1000,
      intervalMs: 5000,
      unhealthyThreshold: 2,
      http: { path: '/health', expectedStatuses: [{ start: 200, end: 300 }] },
    });
    const payments = one(result.clusters, 'payments', (c) => c.name);
    expect(payments).toMatchObject({
      type: 'STRICT_DNS',
      lbPolicy: 'MAGLEV',
      maglevLbConfig: { tableSize: 65537 },
    });
    expect(payments.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.address).toEqual({
      socketAddress: { address: 'payments.internal', port: 443, protocol: 'TCP' },
    });
    expect(payments.tls).toEqual({
      sni: 'payments.internal',
      alpnProtocols: ['h2'],
      certificates: [],
      validation: {
        trustedCa: { filename: '/etc/ssl/ca.pem' },
        matchSubjectAltNames: [{ exact: 'payments.internal', ignoreCase: false }],
      },
    });
    expect(one(result.clusters, 'payments-canary', (c) => c.name)).toMatchObject({
      lbPolicy: 'LEAST_REQUEST',
      leastRequestLbConfig: { choiceCount: 3 },
    });
    expect(one(result.clusters, 'shadow', (c) => c.name).lbPolicy).toBe('RANDOM');
  });

  it('translates endpoints: priorities, localities, weights, health, metadata', () => {
    const cla = one(result.endpoints, 'carts-v1', (e) => e.clusterName);
    expect(cla.policy.overprovisioningFactor).toBe(120);
    expect(cla.endpoints[0]).toMatchObject({
      locality: { region: 'eu-west-1', zone: 'eu-west-1a', subZone: '' },
      priority: 0,
      loadBalancingWeight: 3,
    });
    expect(cla.endpoints[0]?.lbEndpoints.map((e) => [e.healthStatus, e.loadBalancingWeight])).toEqual([
      ['HEALTHY', 2],
      ['DRAINING', 1],
    ]);
    expect(cla.endpoints[0]?.lbEndpoints[0]?.metadata).toEqual({ 'envoy.lb': { version: 'v2' } });
    expect(cla.endpoints[1]?.lbEndpoints[0]?.healthCheckPort).toBe(9901);
  });
});

describe('fromEnvoy', () => {
  it('translates one resource with @type and returns its kind and name', () => {
    const r = fromEnvoy({
      '@type': TYPE_URLS.cluster,
      name: 'carts',
      type: 'EDS',
      lb_policy: 'MAGLEV',
      connect_timeout: '0.25s',
    });
    expect(r.kind).toBe('cluster');
    expect(r.name).toBe('carts');
    expect((r.value as Cluster).connectTimeoutMs).toBe(250);
  });

  it('throws an XdsTranslationError naming resource and field for an unsupported required feature', () => {
    const bad = {
      '@type': TYPE_URLS.cluster,
      name: 'carts',
      lb_policy: 'CLUSTER_PROVIDED',
      transport_socket_matches: [{ name: 'x' }],
    };
    let err: unknown;
    try {
      fromEnvoy(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XdsTranslationError);
    expect((err as XdsTranslationError).code).toBe('MESHLET_ERR_XDS_TRANSLATION');
    expect((err as XdsTranslationError).issues.map(formatIssue)).toEqual([
      'cluster "carts" › transport_socket_matches: transport socket matches (per-endpoint TLS modes) are not supported; use transport_socket',
      'cluster "carts" › lb_policy: load balancing policy CLUSTER_PROVIDED is not supported (meshlet has ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)',
    ]);
  });

  it('rejects a required filter of an unknown type, and unknown fields, with their paths', () => {
    const hcm = {
      '@type': TYPE_URLS.httpConnectionManager,
      stat_prefix: 'x',
      route_config: {
        name: 'r',
        virtual_hosts: [
          {
            name: 'v',
            domains: ['*'],
            routes: [{ match: { prefix: '/' }, route: { cluster: 'c', bogus: 1 } }],
          },
        ],
      },
      http_filters: [
        { name: 'acme.waf', typed_config: { '@type': 'type.googleapis.com/acme.Waf' } },
        { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } },
      ],
    };
    const out = translateResource({
      '@type': TYPE_URLS.listener,
      name: 'l',
      address: { socket_address: { address: '::', port_value: 80 } },
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: hcm }] }],
    });
    expect(out.ok).toBe(false);
    expect(out.ok ? [] : out.errors.map(formatIssue)).toEqual([
      'listener "l" › filter_chains[0] › filters[0] › typed_config.route_config.virtual_hosts[0] › routes[0] › route.bogus: unknown field "bogus" in RouteAction',
    ]);
    delete (hcm.route_config.virtual_hosts[0]?.routes[0]?.route as Record<string, unknown>).bogus;
    const again = translateResource({
      '@type': TYPE_URLS.listener,
      name: 'l',
      address: { socket_address: { address: '::', port_value: 80 } },
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: hcm }] }],
    });
    expect(again.ok ? [] : again.errors.map(formatIssue)).toEqual([
      'listener "l" › filter_chains[0] › filters[0] › typed_config.http_filters[0] › typed_config: filter "acme.waf" has a type meshlet does not support: type.googleapis.com/acme.Waf',
    ]);
  });

  it('reports unknown resource types and missing @type without crashing', () => {
    expect(translateResource({ '@type': 'type.googleapis.com/acme.Thing', name: 'x' })).toMatchObject({
      ok: false,
      errors: [{ message: 'unknown resource type type.googleapis.com/acme.Thing' }],
    });
    expect(
      translateResource({ typeUrl: 'type.googleapis.com/acme.Thing', value: new Uint8Array([1, 2, 3]) }),
    ).toMatchObject({ ok: false });
    expect(translateResource({ name: 'x' })).toMatchObject({
      ok: false,
      errors: [{ message: 'a resource needs "@type"' }],
    });
    expect(translateResource(42)).toMatchObject({ ok: false });
    expect(translate([null, 'x', { '@type': TYPE_URLS.cluster }]).errors.length).toBe(3);
  });

  it('rejects wrong value types with the field path', () => {
    const out = translateResource({
      '@type': TYPE_URLS.cluster,
      name: 'c',
      connect_timeout: 'soon',
      circuit_breakers: { thresholds: [{ max_connections: -1 }] },
    });
    expect(out.ok ? [] : out.errors.map(formatIssue)).toEqual([
      'cluster "c" › connect_timeout: expected a duration such as "1.5s", got "soon"',
      'cluster "c" › circuit_breakers.thresholds[0] › max_connections: expected an unsigned integer, got -1',
    ]);
  });

  it('rejects both members of a oneof', () => {
    const out = translateResource({
      '@type': TYPE_URLS.routeConfiguration,
      name: 'r',
      virtual_hosts: [
        {
          name: 'v',
          domains: ['*'],
          routes: [{ match: { prefix: '/', path: '/x' }, route: { cluster: 'c' } }],
        },
      ],
    });
    expect(out.ok ? [] : out.errors.map(formatIssue)).toEqual([
      'route_config "r" › virtual_hosts[0] › routes[0] › match.path: only one of prefix and path may be set (oneof pathSpecifier)',
    ]);
  });

  it('rejects a per-route config used as a filter, and a filter config used per route', () => {
    const hcm = (filterType: string, perRoute: Record<string, unknown>) => ({
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
                route_config: {
                  name: 'r',
                  virtual_hosts: [
                    {
                      name: 'v',
                      domains: ['*'],
                      routes: [
                        {
                          match: { prefix: '/' },
                          route: { cluster: 'c' },
                          typed_per_filter_config: perRoute,
                        },
                      ],
                    },
                  ],
                },
                http_filters: [
                  { name: 'cors', typed_config: { '@type': filterType } },
                  { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } },
                ],
              },
            },
          ],
        },
      ],
    });
    const out = translateResource(hcm(TYPE_URLS.corsPolicy, { router: { '@type': TYPE_URLS.router } }));
    expect(out.ok ? [] : out.errors.map(formatIssue)).toEqual([
      'listener "l" › filter_chains[0] › filters[0] › typed_config.http_filters[0] › typed_config: type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy is a per-route config; filter "cors" needs the filter\'s own config type',
      'listener "l" › filter_chains[0] › filters[0] › typed_config.route_config.virtual_hosts[0] › routes[0] › typed_per_filter_config["router"]: type.googleapis.com/envoy.extensions.filters.http.router.v3.Router cannot be a per-route config',
    ]);
  });

  it("translates meshlet's own RPC proxy (a TypedStruct) for any codec protocol", () => {
    const r = fromEnvoy({
      '@type': TYPE_URLS.listener,
      name: 'bolt',
      address: { socket_address: { address: '127.0.0.1', port_value: 12200 } },
      filter_chains: [
        {
          filters: [
            {
              name: 'meshlet.rpc_proxy',
              typed_config: {
                '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
                type_url: 'type.googleapis.com/meshlet.rpc.v1.RpcProxy',
                value: {
                  protocol: 'bolt',
                  statPrefix: 'bolt',
                  routes: [
                    {
                      match: { service: { exact: 'com.acme.Orders:1.0' }, method: { prefix: 'get' } },
                      cluster: 'orders',
                    },
                    {
                      match: { headers: [{ name: 'x-zone', string_match: { exact: 'b' } }] },
                      weightedClusters: [{ name: 'b1', weight: 1 }],
                    },
                  ],
                },
              },
            },
          ],
        },
      ],
    });
    const f = at(at((r.value as Listener).filterChains, 0).filters, 0);
    expect(f).toEqual({
      name: 'meshlet.rpc_proxy',
      kind: 'rpc_proxy',
      config: {
        statPrefix: 'bolt',
        protocol: 'bolt',
        routes: [
          {
            match: {
              headers: [],
              service: { exact: 'com.acme.Orders:1.0', ignoreCase: false },
              method: { prefix: 'get', ignoreCase: false },
            },
            cluster: 'orders',
          },
          {
            match: {
              headers: [
                {
                  name: 'x-zone',
                  stringMatch: { exact: 'b', ignoreCase: false },
                  invertMatch: false,
                  treatMissingHeaderAsEmpty: false,
                },
              ],
            },
            weightedClusters: [{ name: 'b1', weight: 1 }],
          },
        ],
      },
    });
  });

  it('reads an Envoy admin config dump: static and dynamic resources of each section', () => {
    const dump = {
      configs: [
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
          bootstrap: { node: { id: 'x' } },
        },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
          static_clusters: [
            {
              cluster: {
                '@type': TYPE_URLS.cluster,
                name: 'static',
                type: 'STATIC',
                load_assignment: { cluster_name: 'static' },
              },
            },
          ],
          dynamic_active_clusters: [
            {
              version_info: '3',
              cluster: {
                '@type': TYPE_URLS.cluster,
                name: 'dyn',
                type: 'EDS',
                eds_cluster_config: { eds_config: { ads: {} } },
              },
            },
          ],
        },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
          dynamic_route_configs: [
            { route_config: { '@type': TYPE_URLS.routeConfiguration, name: 'main', virtual_hosts: [] } },
          ],
        },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
          dynamic_endpoint_configs: [
            {
              endpoint_config: {
                '@type': TYPE_URLS.clusterLoadAssignment,
                cluster_name: 'dyn',
                endpoints: [],
              },
            },
          ],
        },
      ],
    };
    const r = translate(JSON.stringify(dump));
    expect(r.errors).toEqual([]);
    expect(r.clusters.map((c) => c.name)).toEqual(['static', 'dyn']);
    expect(r.routeConfigurations.map((c) => c.name)).toEqual(['main']);
    expect(r.endpoints.map((c) => c.clusterName)).toEqual(['dyn']);
  });
});
