import { afterEach, describe, expect, it } from 'vitest';
import {
  TYPE_URLS,
  createAdsClient,
  createTestControlPlane,
  encodeResource,
  formatIssue,
  parseBootstrap,
  validate,
  type AdsClient,
  type AdsClientEvents,
  type ReceivedRequest,
  type TestControlPlane,
  type XdsSnapshot,
} from '@meshlet/xds';
import { ManualTimers } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function controlPlane(port = 0): Promise<TestControlPlane> {
  const cp = createTestControlPlane({ port });
  await cp.start();
  cleanups.push(() => cp.close());
  return cp;
}

function client(server: string, timers: ManualTimers, random = (): number => 0.5): AdsClient {
  const c = createAdsClient({
    server,
    node: { id: 'shop-1', cluster: 'shop', metadata: { team: 'payments' } },
    timers,
    random,
  });
  cleanups.push(() => {
    c.close();
  });
  return c;
}

function next<K extends keyof AdsClientEvents>(c: AdsClient, event: K): Promise<AdsClientEvents[K]> {
  return new Promise((resolve) => {
    c.once(event, (...args: AdsClientEvents[K]) => {
      resolve(args);
    });
  });
}

/** The first snapshot, from now on, for which `test` holds (the resources of one update warm in steps). */
function snapshotWhere(c: AdsClient, test: (s: XdsSnapshot) => boolean): Promise<XdsSnapshot> {
  return new Promise((resolve) => {
    const check = (s: XdsSnapshot): void => {
      if (!test(s)) return;
      c.off('snapshot', check);
      resolve(s);
    };
    c.on('snapshot', check);
  });
}

const hcm = (rds: string) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type': TYPE_URLS.httpConnectionManager,
    stat_prefix: 'http',
    rds: { route_config_name: rds, config_source: { ads: {} } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } }],
  },
});
const listener = (name: string, port: number, rds: string) => ({
  name,
  address: { socket_address: { address: '127.0.0.1', port_value: port } },
  filter_chains: [{ filters: [hcm(rds)] }],
});
const routes = (name: string, cluster: string) => ({
  name,
  virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
});
const edsCluster = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
  connect_timeout: '1s',
  ...extra,
});
const cla = (name: string, ...ports: number[]) => ({
  cluster_name: name,
  endpoints: [
    {
      lb_endpoints: ports.map((p) => ({
        endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } },
      })),
    },
  ],
});
const ports = (s: XdsSnapshot, cluster: string): number[] =>
  (s.endpoints.get(cluster)?.endpoints ?? []).flatMap((l) =>
    l.lbEndpoints.map((e) => ('socketAddress' in e.address ? e.address.socketAddress.port : 0)),
  );

const base = {
  version: '1',
  listeners: [listener('ingress', 8080, 'main')],
  routes: [routes('main', 'carts')],
  clusters: [edsCluster('carts'), edsCluster('payments')],
  endpoints: [cla('carts', 9001, 9002), cla('payments', 9101)],
};

/** A control plane serving `base`, a client on it, and the client's first (complete) snapshot. */
async function synced(
  timers = new ManualTimers(),
): Promise<{ cp: TestControlPlane; ads: AdsClient; first: XdsSnapshot; timers: ManualTimers }> {
  const cp = await controlPlane();
  cp.setSnapshot(base);
  const ads = client(cp.address, timers);
  const first = next(ads, 'snapshot');
  ads.start();
  const [snapshot] = await first;
  return { cp, ads, first: snapshot, timers };
}

describe('ADS client against the test control plane', () => {
  it('syncs: CDS → EDS → LDS → RDS on the first stream, node on the first request only, then one complete snapshot', async () => {
    const cp = await controlPlane();
    cp.setSnapshot(base);
    const ads = client(cp.address, new ManualTimers());
    const snapshots: XdsSnapshot[] = [];
    ads.on('snapshot', (s) => snapshots.push(s));
    const first = next(ads, 'snapshot');
    ads.start();
    const [s] = await first;
    expect([...s.listeners.keys()]).toEqual(['ingress']);
    expect([...s.routeConfigurations.keys()]).toEqual(['main']);
    expect([...s.clusters.keys()].sort()).toEqual(['carts', 'payments']);
    expect(ports(s, 'carts')).toEqual([9001, 9002]);
    expect(ports(s, 'payments')).toEqual([9101]);
    expect(snapshots).toHaveLength(1);
    // Complete and consistent: every reference resolves within the snapshot.
    expect(validate(s)).toEqual([]);

    // Warming order: the first request of each type comes in the order CDS, EDS, LDS, RDS.
    const firstOf = (url: string): number => cp.requests.findIndex((r) => r.typeUrl === url);
    expect(firstOf(TYPE_URLS.cluster)).toBe(0);
    expect(firstOf(TYPE_URLS.cluster)).toBeLessThan(firstOf(TYPE_URLS.clusterLoadAssignment));
    expect(firstOf(TYPE_URLS.clusterLoadAssignment)).toBeLessThan(firstOf(TYPE_URLS.listener));
    expect(firstOf(TYPE_URLS.listener)).toBeLessThan(firstOf(TYPE_URLS.routeConfiguration));
    expect(cp.requests[0]).toMatchObject({
      nodeId: 'shop-1',
      typeUrl: TYPE_URLS.cluster,
      resourceNames: [],
      versionInfo: '',
      responseNonce: '',
    });
    expect(cp.requests.slice(1).every((r) => r.nodeId === undefined)).toBe(true);
    // Wildcard for LDS and CDS, names for RDS and EDS; every response ACKed with its version.
    expect(cp.requests.find((r) => r.typeUrl === TYPE_URLS.clusterLoadAssignment)?.resourceNames).toEqual([
      'carts',
      'payments',
    ]);
    expect(cp.requests.find((r) => r.typeUrl === TYPE_URLS.routeConfiguration)?.resourceNames).toEqual([
      'main',
    ]);
    expect(cp.requests.filter((r) => r.typeUrl === TYPE_URLS.listener).map((r) => r.resourceNames)).toEqual([
      [],
      [],
    ]);
    await untilRequests(cp, () => cp.requests.filter((r) => r.responseNonce !== '').length === 4);
    const acks = cp.requests.filter((r) => r.responseNonce !== '');
    expect(acks.map((r) => r.versionInfo)).toEqual(['1', '1', '1', '1']);
    expect(acks.every((r) => r.errorDetail === undefined)).toBe(true);
  });

  it('connects from a bootstrap: the ADS server is its static cluster, the node its node', async () => {
    const cp = await controlPlane();
    cp.setSnapshot(base);
    const [host, port] = cp.address.split(':');
    const { bootstrap } = parseBootstrap({
      node: { id: 'from-bootstrap', cluster: 'shop' },
      static_resources: {
        clusters: [
          {
            name: 'xds',
            type: 'STATIC',
            connect_timeout: '1s',
            load_assignment: {
              cluster_name: 'xds',
              endpoints: [
                {
                  lb_endpoints: [
                    {
                      endpoint: { address: { socket_address: { address: host, port_value: Number(port) } } },
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
      dynamic_resources: {
        ads_config: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds' } }] },
        lds_config: { ads: {} },
        cds_config: { ads: {} },
      },
    });
    const ads = createAdsClient({ bootstrap, timers: new ManualTimers() });
    cleanups.push(() => {
      ads.close();
    });
    const first = next(ads, 'snapshot');
    ads.start();
    const [s] = await first;
    expect([...s.listeners.keys()]).toEqual(['ingress']);
    expect(cp.requests[0]?.nodeId).toBe('from-bootstrap');
  });

  it('applies updates and removals; unchanged resources keep their identity', async () => {
    const { cp, ads, first: s1 } = await synced();

    const update = next(ads, 'snapshot');
    cp.setSnapshot({ ...base, version: '2', endpoints: [cla('carts', 9001, 9003), cla('payments', 9101)] });
    const [s2] = await update;
    expect(ports(s2, 'carts')).toEqual([9001, 9003]);
    expect(s2.clusters.get('carts')).toBe(s1.clusters.get('carts'));
    expect(s2.endpoints.get('payments')).toBe(s1.endpoints.get('payments'));
    expect(s2.listeners.get('ingress')).toBe(s1.listeners.get('ingress'));

    // Absence from CDS deletes the cluster; its endpoints are unsubscribed.
    const removal = next(ads, 'snapshot');
    cp.setSnapshot({
      ...base,
      version: '3',
      clusters: [edsCluster('carts')],
      endpoints: [cla('carts', 9001, 9003)],
    });
    const [s3] = await removal;
    expect([...s3.clusters.keys()]).toEqual(['carts']);
    expect([...s3.endpoints.keys()]).toEqual(['carts']);
    await untilRequests(cp, () =>
      cp.requests.some(
        (r) => r.typeUrl === TYPE_URLS.clusterLoadAssignment && r.resourceNames.join() === 'carts',
      ),
    );

    // Absence from LDS deletes the listener.
    const gone = next(ads, 'snapshot');
    cp.setSnapshot({
      ...base,
      version: '4',
      listeners: [],
      clusters: [edsCluster('carts')],
      endpoints: [cla('carts', 9001, 9003)],
    });
    const [s4] = await gone;
    expect(s4.listeners.size).toBe(0);
  });

  it('NACKs an invalid resource with error_detail and keeps serving the last good config', async () => {
    const { cp, ads, first: good } = await synced();
    const snapshots: XdsSnapshot[] = [];
    ads.on('snapshot', (s) => snapshots.push(s));

    const nack = next(ads, 'nack');
    const serverNack = new Promise<[ReceivedRequest]>((resolve) => {
      cp.once('nack', (r) => {
        resolve([r]);
      });
    });
    cp.setSnapshot({
      ...base,
      version: '2',
      clusters: [edsCluster('carts', { lb_policy: 'CLUSTER_PROVIDED' }), edsCluster('payments')],
    });
    const [info] = await nack;
    expect(info.typeUrl).toBe(TYPE_URLS.cluster);
    expect(info.errors.map(formatIssue)).toEqual([
      'cluster "carts" › lb_policy: load balancing policy CLUSTER_PROVIDED is not supported (meshlet has ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)',
    ]);
    const [req] = await serverNack;
    expect(req.versionInfo).toBe('1'); // the last version applied
    expect(req.errorDetail?.code).toBe(3);
    expect(req.errorDetail?.message).toMatch(/^cluster "carts" › lb_policy/);
    expect(ads.snapshot).toBe(good);
    expect(snapshots).toHaveLength(0);

    // A good version after the bad one is applied.
    const recovered = next(ads, 'snapshot');
    cp.setSnapshot({ ...base, version: '3', endpoints: [cla('carts', 9009), cla('payments', 9101)] });
    expect(ports((await recovered)[0], 'carts')).toEqual([9009]);
  });

  it('applies the valid resources of a NACKed response; each invalid one keeps its last good version', async () => {
    const { cp, ads, first: good } = await synced();
    const carts = good.clusters.get('carts');

    // carts turns invalid, payments changes, orders is new: NACKed, but payments and orders apply.
    const nack = next(ads, 'nack');
    const applied = snapshotWhere(ads, (s) => s.clusters.has('orders'));
    cp.setSnapshot({
      ...base,
      version: '2',
      clusters: [
        edsCluster('carts', { lb_policy: 'CLUSTER_PROVIDED' }),
        edsCluster('payments', { connect_timeout: '2s' }),
        edsCluster('orders'),
      ],
      endpoints: [...base.endpoints, cla('orders', 9201)],
    });
    const [info] = await nack;
    expect(info.errors.map(formatIssue)).toEqual([
      expect.stringMatching(/^cluster "carts" › lb_policy: load balancing policy CLUSTER_PROVIDED/),
    ]);
    const s2 = await applied;
    expect(s2.clusters.get('carts')).toBe(carts);
    expect(s2.clusters.get('payments')?.connectTimeoutMs).toBe(2000);
    expect(ports(s2, 'orders')).toEqual([9201]);
    expect(validate(s2)).toEqual([]);

    // Leaving payments out of a response that is NACKed for carts still deletes payments.
    const removed = snapshotWhere(ads, (s) => !s.clusters.has('payments'));
    cp.setSnapshot({
      ...base,
      version: '3',
      clusters: [edsCluster('carts', { lb_policy: 'CLUSTER_PROVIDED' }), edsCluster('orders')],
      endpoints: [cla('carts', 9001, 9002), cla('orders', 9201)],
    });
    const s3 = await removed;
    expect([...s3.clusters.keys()].sort()).toEqual(['carts', 'orders']);
    expect(s3.clusters.get('carts')).toBe(carts);
  });

  it('NACKs a response that names one resource twice', async () => {
    const { cp, ads } = await synced();
    const nack = next(ads, 'nack');
    const dup = encodeResource(edsCluster('carts'), TYPE_URLS.cluster);
    cp.setSnapshot({
      ...base,
      version: '2',
      clusters: [dup, dup, encodeResource(edsCluster('payments'), TYPE_URLS.cluster)],
    });
    const [info] = await nack;
    expect(info.errors.map(formatIssue)).toEqual(['cluster "carts": named twice in one response']);
    expect(ads.snapshot?.clusters.size).toBe(2);
  });

  it('NACKs hostile bytes (invalid UTF-8, garbage) and keeps the last good config', async () => {
    const { cp, ads, first: good } = await synced();
    const bad = Buffer.from(encodeResource(edsCluster('caf\u00e9'), TYPE_URLS.cluster).value);
    bad[bad.indexOf(Buffer.from('caf\u00e9')) + 3] = 0xff;
    const nack = next(ads, 'nack');
    cp.setSnapshot({
      ...base,
      version: '2',
      clusters: [
        { typeUrl: TYPE_URLS.cluster, value: bad },
        { typeUrl: TYPE_URLS.cluster, value: Buffer.from([0xff, 0xff, 0xff]) },
        { typeUrl: 'type.googleapis.com/acme.Unknown', value: Buffer.from('x') },
      ],
    });
    const [info] = await nack;
    expect(info.errors.map(formatIssue)).toEqual([
      'cluster (undecodable): invalid UTF-8 in a string field of Cluster',
      expect.stringMatching(/^cluster \(undecodable\): malformed Cluster: /),
      'resources[2]: type type.googleapis.com/acme.Unknown in a type.googleapis.com/envoy.config.cluster.v3.Cluster response',
    ]);
    expect(ads.snapshot).toBe(good);
  });

  it('reconnects after the server restarts, with backoff, and loses no config meanwhile', async () => {
    const { cp, ads, timers, first: before } = await synced();
    const snapshots: XdsSnapshot[] = [];
    ads.on('snapshot', (s) => snapshots.push(s));

    const port = Number(cp.address.split(':')[1]);
    const lost = next(ads, 'streamError');
    await cp.close();
    const [{ retryInMs }] = await lost;
    expect(retryInMs).toBe(1000); // initial backoff, jitter centred by random() = 0.5
    expect(ads.status).toBe('disconnected');
    expect(ads.snapshot).toBe(before); // still served while disconnected

    const cp2 = await controlPlane(port);
    cp2.setSnapshot(base);
    const acked = new Promise<void>((resolve) => {
      cp2.on('request', (r) => {
        if (r.typeUrl === TYPE_URLS.routeConfiguration && r.responseNonce !== '') resolve();
      });
    });
    timers.advance(retryInMs);
    await acked;
    expect(ads.status).toBe('connected');
    // The new stream starts with the node and the versions the client holds.
    expect(cp2.requests[0]).toMatchObject({
      nodeId: 'shop-1',
      typeUrl: TYPE_URLS.cluster,
      versionInfo: '1',
      responseNonce: '',
    });
    // Same resources again: nothing changed, no new snapshot.
    expect(snapshots).toHaveLength(0);
    expect(ads.snapshot).toBe(before);
  });

  it('backs off exponentially with jitter while the server is down, and starts over after a response', async () => {
    const cp = await controlPlane();
    const port = Number(cp.address.split(':')[1]);
    await cp.close();
    const timers = new ManualTimers();
    let r = 0;
    const randoms = [0, 1, 0.5, 0.5, 0.5];
    const ads = client(`127.0.0.1:${port}`, timers, () => randoms[r++ % randoms.length] ?? 0.5);
    const delays: number[] = [];
    let failed = next(ads, 'streamError');
    ads.start();
    for (let i = 0; i < 4; i++) {
      const [{ retryInMs }] = await failed;
      delays.push(retryInMs);
      failed = next(ads, 'streamError');
      if (i < 3) timers.advance(retryInMs);
    }
    expect(delays).toEqual([800, 1920, 2560, 4096]); // 1000·1.6^n, ±20 %

    const cp2 = await controlPlane(port);
    cp2.setSnapshot(base);
    const synced = next(ads, 'snapshot');
    timers.advance(delays[3] ?? 0);
    await synced;
    const lost = next(ads, 'streamError');
    await cp2.close();
    expect((await lost)[0].retryInMs).toBe(1000);
  });

  it('deems a resource that never comes non-existent after 15 s, and the snapshot warms without it', async () => {
    const cp = await controlPlane();
    cp.setSnapshot({ ...base, endpoints: [cla('carts', 9001)] }); // no endpoints for payments
    const timers = new ManualTimers();
    const ads = client(cp.address, timers);
    const missing = next(ads, 'resourceDoesNotExist');
    ads.start();
    await untilRequests(cp, () =>
      cp.requests.some((q) => q.typeUrl === TYPE_URLS.clusterLoadAssignment && q.responseNonce !== ''),
    );
    expect(ads.snapshot).toBeUndefined(); // payments is still warming: no snapshot, no LDS yet
    expect(cp.requests.some((q) => q.typeUrl === TYPE_URLS.listener)).toBe(false);
    const snap = next(ads, 'snapshot');
    timers.advance(14_999);
    expect(ads.snapshot).toBeUndefined();
    timers.advance(1);
    expect((await missing)[0]).toEqual({ typeUrl: TYPE_URLS.clusterLoadAssignment, name: 'payments' });
    const [s] = await snap;
    expect(ports(s, 'payments')).toEqual([]);
    expect(ports(s, 'carts')).toEqual([9001]);
  });

  it('keeps a listener at its old version while its new route table warms', async () => {
    const { cp, ads, first: s1 } = await synced();
    const snapshots: XdsSnapshot[] = [];
    ads.on('snapshot', (s) => snapshots.push(s));
    // v2 moves the listener to route table "next", which the server does not have yet.
    cp.setSnapshot({ ...base, version: '2', listeners: [listener('ingress', 8080, 'next')] });
    await untilRequests(cp, () =>
      cp.requests.some((q) => q.typeUrl === TYPE_URLS.routeConfiguration && q.resourceNames.includes('next')),
    );
    expect(snapshots).toHaveLength(0);
    expect(ads.snapshot?.listeners.get('ingress')).toBe(s1.listeners.get('ingress'));
    const warmed = next(ads, 'snapshot');
    cp.setSnapshot({
      ...base,
      version: '3',
      listeners: [listener('ingress', 8080, 'next')],
      routes: [routes('main', 'carts'), routes('next', 'payments')],
    });
    const [s3] = await warmed;
    expect([...s3.routeConfigurations.keys()]).toEqual(['next']);
  });
});

/** Resolves once `condition` holds, re-checked on each request the control plane receives. */
function untilRequests(cp: TestControlPlane, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (condition()) {
      resolve();
      return;
    }
    const check = (): void => {
      if (!condition()) return;
      cp.off('request', check);
      resolve();
    };
    cp.on('request', check);
  });
}
