// The cluster layer's cost per request and per config update.
//
// Per request: pick() + dispatcher() (the lookup of a host's kept-alive undici pool), and
// report() (outlier detection), against the bare balancer's pick() as the baseline: the
// difference is what the cluster layer adds. Each timed call makes 100 requests' worth.
// Per update: update() of an EDS cluster of 1000 hosts when nothing changed (a new, equal
// snapshot), when one endpoint changed, and when the cluster config changed (a rebuild).
import { createClusterManager } from '@meshlet/proxy';
import type { Cluster, ClusterLoadAssignment } from '@meshlet/xds';
import { fromEnvoy, TYPE_URLS } from '@meshlet/xds';
import { consume, fmt, gcCost, measure, smoke, table } from '../../../bench/harness.ts';

const PER_CALL = 100;

function cluster(name: string, extra: Record<string, unknown> = {}): Cluster {
  return fromEnvoy({ '@type': TYPE_URLS.cluster, name, type: 'EDS', ...extra }).value as Cluster;
}

function assignment(name: string, n: number, port = 8080, heavy = -1): ClusterLoadAssignment {
  const lbEndpoints = Array.from({ length: n }, (_, i) => ({
    endpoint: {
      address: { socket_address: { address: `10.1.${i >> 8}.${i & 255}`, port_value: port } },
    },
    load_balancing_weight: i === heavy ? 5 : 1,
  }));
  return fromEnvoy({
    '@type': TYPE_URLS.clusterLoadAssignment,
    cluster_name: name,
    endpoints: [{ lb_endpoints: lbEndpoints }],
  }).value as ClusterLoadAssignment;
}

const sizes = smoke ? [10] : [10, 100, 1000];
const OUTLIER = { outlier_detection: { consecutive_5xx: 5 } };

const rows = [];
const managers = [];
for (const n of sizes) {
  const m = createClusterManager();
  managers.push(m);
  const eps = new Map([[`c${n}`, assignment(`c${n}`, n)]]);
  m.update(new Map([[`c${n}`, cluster(`c${n}`, OUTLIER)]]), eps);
  const c = m.get(`c${n}`);
  if (!c) throw new Error('no cluster');
  const lb = c.loadBalancer;
  for (const host of lb.hosts) c.dispatcher(host, 'http1'); // pools made once, as after warm-up
  const ctx = {};
  const [bare, lookup, full] = await measure(
    [
      {
        name: `lb.pick ${n}`,
        fn: () => {
          for (let k = 0; k < PER_CALL; k++) consume(lb.pick(ctx));
        },
      },
      {
        name: `pick+dispatcher ${n}`,
        fn: () => {
          for (let k = 0; k < PER_CALL; k++) {
            const host = c.pick(ctx);
            if (host) consume(c.dispatcher(host, c.protocolFor('HTTP/1.1')));
          }
        },
      },
      {
        name: `pick+dispatcher+report ${n}`,
        fn: () => {
          const outcome = { kind: 'response', status: 200 } as const;
          for (let k = 0; k < PER_CALL; k++) {
            const host = c.pick(ctx);
            if (host) {
              consume(c.dispatcher(host, c.protocolFor('HTTP/1.1')));
              c.report(host, outcome);
            }
          }
        },
      },
    ],
    400,
  );
  const gc = await gcCost(() => {
    for (let k = 0; k < (smoke ? 1_000 : 1_000_000); k++) {
      const host = c.pick(ctx);
      if (host) consume(c.dispatcher(host, 'http1'));
    }
  });
  rows.push({
    hosts: n,
    'lb.pick()': `${fmt((bare?.meanNs ?? 0) / PER_CALL, 1)} ns`,
    'pick() + dispatcher()': `${fmt((lookup?.meanNs ?? 0) / PER_CALL, 1)} ns`,
    '+ report()': `${fmt((full?.meanNs ?? 0) / PER_CALL, 1)} ns`,
    [`GCs in ${smoke ? '1k' : '1M'} pick+dispatcher`]: gc.count,
  });
}
table('per request: time per request, ROUND_ROBIN with outlier detection (lower is better)', rows);

// update() with 1000 hosts.
const N = smoke ? 100 : 1000;
const m = createClusterManager();
managers.push(m);
const base = cluster('big', OUTLIER);
const changedConfig = cluster('big', { ...OUTLIER, lb_policy: 'LEAST_REQUEST' });
const first = assignment('big', N);
const equal = assignment('big', N); // a new object, equal: what a new snapshot brings
const oneChanged = assignment('big', N, 8080, 7);
const moved = assignment('big', N, 9090);
const clusters = new Map([['big', base]]);
const changedClusters = new Map([['big', changedConfig]]);
m.update(clusters, new Map([['big', first]]));
let flip = false;
const updates = await measure(
  [
    {
      name: 'unchanged',
      fn: () => {
        flip = !flip;
        m.update(clusters, new Map([['big', flip ? equal : first]]));
      },
    },
    {
      name: 'one endpoint changed',
      fn: () => {
        flip = !flip;
        // Alternates between two sets that differ in one endpoint's weight.
        m.update(clusters, new Map([['big', flip ? oneChanged : first]]));
      },
    },
    {
      name: 'every endpoint replaced',
      fn: () => {
        flip = !flip;
        m.update(clusters, new Map([['big', flip ? moved : first]]));
      },
    },
    {
      name: 'cluster config changed (rebuild)',
      fn: () => {
        flip = !flip;
        m.update(flip ? changedClusters : clusters, new Map([['big', first]]));
      },
    },
  ],
  400,
);
table(
  `update() of one EDS cluster of ${N} hosts: time per update (lower is better)`,
  updates.map((r) => ({ case: r.name, 'per update': `${fmt(r.meanNs / 1e3, 1)} µs` })),
);
for (const manager of managers) await manager.close();
