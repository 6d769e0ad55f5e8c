// Translation of a large snapshot: 1000 clusters, 1000 routes and 10,000 endpoints, from Envoy
// JSON (what a bootstrap file gives) and from protobuf Anys (what a DiscoveryResponse gives).
// Time per snapshot, and the memory the translated model keeps.
import { TYPE_URLS, encodeResource, translate } from '@meshlet/xds';
import { bytes, consume, fmt, gcCost, measure, smoke, table } from '../../../bench/harness.ts';

const CLUSTERS = 1000;
const ENDPOINTS_PER_CLUSTER = 10;

const clusters = Array.from({ length: CLUSTERS }, (_, i) => ({
  name: `svc-${i}`,
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
  connect_timeout: '0.25s',
  lb_policy: i % 3 === 0 ? 'RING_HASH' : 'ROUND_ROBIN',
  circuit_breakers: { thresholds: [{ max_connections: 1000, max_requests: 1000 }] },
  outlier_detection: { consecutive_5xx: 5, interval: '10s' },
}));
const endpoints = clusters.map((c, i) => ({
  cluster_name: c.name,
  endpoints: [
    {
      locality: { region: 'eu', zone: `eu-${i % 3}` },
      lb_endpoints: Array.from({ length: ENDPOINTS_PER_CLUSTER }, (_, j) => ({
        endpoint: {
          address: { socket_address: { address: `10.${i >> 8}.${i & 255}.${j}`, port_value: 8080 } },
        },
        health_status: 'HEALTHY',
      })),
    },
  ],
}));
const routes = [
  {
    name: 'main',
    virtual_hosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: clusters.map((c, i) => ({
          match: {
            prefix: `/${c.name}`,
            headers: i % 10 === 0 ? [{ name: 'x-canary', string_match: { exact: '1' } }] : [],
          },
          route: { cluster: c.name, timeout: '2s', retry_policy: { retry_on: '5xx', num_retries: 2 } },
        })),
      },
    ],
  },
];
const json = { clusters, endpoints, routes };
const anys = [
  ...clusters.map((r) => encodeResource(r, TYPE_URLS.cluster)),
  ...endpoints.map((r) => encodeResource(r, TYPE_URLS.clusterLoadAssignment)),
  ...routes.map((r) => encodeResource(r, TYPE_URLS.routeConfiguration)),
];

const check = translate(json);
if (check.errors.length || check.clusters.length !== CLUSTERS)
  throw new Error('the benchmark snapshot does not translate');

const [fromJson, fromWire] = await measure(
  [
    {
      name: 'JSON',
      fn: () => {
        consume(translate(json));
      },
    },
    {
      name: 'protobuf',
      fn: () => {
        consume(translate(anys));
      },
    },
  ],
  smoke ? 1 : 3000,
);
if (!fromJson || !fromWire) throw new Error('missing result');

// Memory the translated model keeps: heap after translating (and holding) one snapshot.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const before = process.memoryUsage().heapUsed;
const held = translate(anys);
gc?.();
const retained = process.memoryUsage().heapUsed - before;
consume(held);
const cost = await gcCost(() => {
  consume(translate(anys));
});

table(
  `Translating a snapshot of ${fmt(CLUSTERS)} clusters, ${fmt(CLUSTERS)} routes, ${fmt(CLUSTERS * ENDPOINTS_PER_CLUSTER)} endpoints (lower is better)`,
  [
    {
      source: 'Envoy JSON (snake_case)',
      'ms per snapshot': fmt(fromJson.meanNs / 1e6, 1),
      'p99 ms': fmt(fromJson.p99Ns / 1e6, 1),
    },
    {
      source: 'protobuf Anys (DiscoveryResponse)',
      'ms per snapshot': fmt(fromWire.meanNs / 1e6, 1),
      'p99 ms': fmt(fromWire.p99Ns / 1e6, 1),
    },
  ],
);
table('Memory of one translated snapshot', [
  {
    'model retained (heap)': bytes(Math.max(0, retained)),
    'GCs during one translation': cost.count,
    'GC ms': fmt(cost.ms, 1),
    'wall ms': fmt(cost.wallMs, 0),
  },
]);
