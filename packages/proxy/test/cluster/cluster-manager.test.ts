import { describe, expect, it } from 'vitest';
import { ConfigError } from '@meshlet/errors';
import type { Host } from '@meshlet/lb';
import { createClusterManager } from '../../src/cluster/index.js';
import { must } from './helpers.js';
import type { DefaultClusterManager, ManagedCluster } from '../../src/cluster/index.js';
import {
  assignment,
  cluster,
  clusters,
  endpoint,
  NO_ENDPOINTS,
  namedServer,
  staticCluster,
  httpServer,
} from './helpers.js';
import type { TestServer } from './helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanup = cleanupAfterEach();

function manager(): DefaultClusterManager {
  const m = createClusterManager();
  cleanup.push(() => m.close());
  return m;
}

async function server(name: string): Promise<TestServer & { status: number }> {
  const s = await namedServer(name);
  cleanup.push(() => s.close());
  return s;
}

async function get(c: ManagedCluster, host: Host): Promise<string> {
  const res = await c.dispatcher(host, 'http1').request({ method: 'GET', path: '/' });
  return res.body.text();
}

describe('cluster manager: STATIC clusters', () => {
  it('picks hosts round robin and sends requests over their kept-alive pools', async () => {
    const a = await server('a');
    const b = await server('b');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port, b.port])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    expect(web.name).toBe('web');
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const host = must(web.pick({}));
      seen.push(await get(web, host));
    }
    expect(seen.sort()).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
    // Keep-alive: three requests each, one connection each.
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(1);
  });

  it('returns the same dispatcher for a host and protocol, and separate ones per protocol', async () => {
    const a = await server('a');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const host = must(web.pick({}));
    expect(must(web.pools(host)).used).toBe(false); // made on first use
    const d = web.dispatcher(host, 'http1');
    expect(web.dispatcher(host, 'http1')).toBe(d);
    expect(web.dispatcher(host, 'http2')).not.toBe(d);
    expect(must(web.pools(host)).used).toBe(true);
  });

  it('maps endpoint weight, health, locality, priority and envoy.lb metadata onto the hosts', () => {
    const m = manager();
    m.update(
      clusters(
        cluster({
          name: 'c',
          type: 'STATIC',
          lb_subset_config: { subset_selectors: [{ keys: ['version'] }], fallback_policy: 'ANY_ENDPOINT' },
          load_assignment: {
            cluster_name: 'c',
            endpoints: [
              {
                locality: { region: 'eu', zone: 'a' },
                load_balancing_weight: 3,
                lb_endpoints: [
                  endpoint('127.0.0.1', 1001, {
                    load_balancing_weight: 7,
                    metadata: {
                      filter_metadata: { 'envoy.lb': { version: 'v2', canary: true, nested: { x: 1 } } },
                    },
                  }),
                  endpoint('127.0.0.1', 1002, { health_status: 'DRAINING' }),
                  endpoint('127.0.0.1', 1003, { health_status: 'DEGRADED' }),
                ],
              },
              { priority: 1, lb_endpoints: [endpoint('127.0.0.2', 1001, { health_status: 'TIMEOUT' })] },
            ],
          },
        }),
      ),
      NO_ENDPOINTS,
    );
    const lb = must(m.get('c')).loadBalancer;
    const h1 = must(lb.get('127.0.0.1:1001'));
    expect(h1.weight).toBe(7);
    expect(h1.metadata).toEqual({ version: 'v2', canary: true });
    expect(h1.locality).toEqual({ region: 'eu', zone: 'a', subZone: '' });
    expect(h1.localityWeight).toBe(3);
    expect(must(lb.get('127.0.0.1:1002')).health).toBe('unhealthy');
    expect(must(lb.get('127.0.0.1:1003')).health).toBe('degraded');
    expect(must(lb.get('127.0.0.2:1001')).priority).toBe(1);
    expect(must(lb.get('127.0.0.2:1001')).health).toBe('unhealthy');
    // Subsets: a route asking for version v2 gets the one host that has it.
    expect(must(m.get('c')).pick({ metadataMatch: { version: 'v2' } })).toBe(h1);
  });

  it('builds the balancer of the cluster lb_policy with its options', () => {
    const m = manager();
    m.update(
      clusters(
        staticCluster('ring', [1, 2, 3], {
          lb_policy: 'RING_HASH',
          ring_hash_lb_config: { minimum_ring_size: 64 },
        }),
        staticCluster('mag', [1, 2], { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 13 } }),
        staticCluster('lr', [1, 2], {
          lb_policy: 'LEAST_REQUEST',
          least_request_lb_config: { choice_count: 3 },
        }),
      ),
      NO_ENDPOINTS,
    );
    const ring = must(m.get('ring'));
    expect(ring.loadBalancer.policy).toBe('RING_HASH');
    const hash = 12345678901234567n;
    expect(ring.pick({ hash })).toBe(ring.pick({ hash }));
    expect(must(must(must(m.get('mag')).loadBalancer.stats().priorities[0]).table).entries).toBe(13);
    expect(must(m.get('lr')).loadBalancer.policy).toBe('LEAST_REQUEST');
  });
});

describe('cluster manager: update()', () => {
  it('keeps an unchanged cluster: same object, same balancer, same pools', async () => {
    const a = await server('a');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const host = must(web.pick({}));
    const d = web.dispatcher(host, 'http1');
    for (let i = 0; i < 3; i++) expect(await get(web, host)).toBe('a');
    // undici's pool may open a second connection for back-to-back requests; no more after that.
    const opened = a.connections;
    expect(opened).toBeLessThanOrEqual(2);
    // A new but equal config object (as a new snapshot brings).
    m.update(clusters(staticCluster('web', [a.port])), NO_ENDPOINTS);
    expect(m.get('web')).toBe(web);
    expect(web.pick({})).toBe(host);
    expect(web.dispatcher(host, 'http1')).toBe(d);
    for (let i = 0; i < 3; i++) expect(await get(web, host)).toBe('a');
    expect(a.connections).toBe(opened);
  });

  it('applies changed endpoints of an unchanged cluster through the balancer: surviving hosts keep their pools, removed ones close', async () => {
    const a = await server('a');
    const b = await server('b');
    const c = await server('c');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port, b.port])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const ha = must(web.loadBalancer.get(`127.0.0.1:${a.port}`));
    const hb = must(web.loadBalancer.get(`127.0.0.1:${b.port}`));
    const da = web.dispatcher(ha, 'http1');
    const db = web.dispatcher(hb, 'http1');
    await get(web, ha);
    await get(web, hb);
    const poolsB = must(web.pools(hb));
    m.update(clusters(staticCluster('web', [a.port, c.port])), NO_ENDPOINTS);
    expect(m.get('web')).toBe(web);
    expect(web.loadBalancer.get(`127.0.0.1:${a.port}`)).toBe(ha);
    expect(web.dispatcher(ha, 'http1')).toBe(da);
    expect(web.loadBalancer.get(`127.0.0.1:${b.port}`)).toBeUndefined();
    expect(poolsB.closed).toBe(true);
    expect(db).toHaveProperty('closed', true);
    const hc = must(web.loadBalancer.get(`127.0.0.1:${c.port}`));
    expect(await get(web, hc)).toBe('c');
    expect(await get(web, ha)).toBe('a');
  });

  it('rebuilds a changed cluster and closes the old pools only after their requests finish', async () => {
    let release: () => void = () => undefined;
    const slow = await httpServer((req, res) => {
      req.resume();
      release = () => res.end('slow done');
    });
    cleanup.push(() => slow.close());
    const m = manager();
    m.update(clusters(staticCluster('web', [slow.port])), NO_ENDPOINTS);
    const old = must(m.get('web'));
    const host = must(old.pick({}));
    const oldPool = old.dispatcher(host, 'http1');
    const inFlight = oldPool.request({ method: 'GET', path: '/' });
    await new Promise<void>((resolve) =>
      slow.server.once('request', () => {
        resolve();
      }),
    );
    m.update(clusters(staticCluster('web', [slow.port], { lb_policy: 'RANDOM' })), NO_ENDPOINTS);
    const rebuilt = must(m.get('web'));
    expect(rebuilt).not.toBe(old);
    expect(rebuilt.loadBalancer.policy).toBe('RANDOM');
    expect(old.closed).toBe(true);
    release();
    const res = await inFlight;
    expect(await res.body.text()).toBe('slow done');
    await old.close();
    expect(oldPool).toHaveProperty('closed', true);
  });

  it('removes a cluster missing from the update and closes its pools', async () => {
    const a = await server('a');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port]), staticCluster('other', [a.port])), NO_ENDPOINTS);
    const other = must(m.get('other'));
    const pool = other.dispatcher(must(other.pick({})), 'http1');
    m.update(clusters(staticCluster('web', [a.port])), NO_ENDPOINTS);
    expect(m.get('other')).toBeUndefined();
    await other.close();
    expect(pool).toHaveProperty('closed', true);
  });

  it('rejects an invalid update with a ConfigError and changes nothing', async () => {
    const a = await server('a');
    const b = await server('b');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const bad = [
      clusters(staticCluster('web', [b.port]), cluster({ name: 'x', type: 'ORIGINAL_DST' })),
      clusters(
        staticCluster('web', [b.port]),
        cluster({ name: 'dns', type: 'STATIC', load_assignment: assignmentOf('dns', 'example.com') }),
      ),
      clusters(staticCluster('web', [b.port]), staticCluster('dup', [5, 5])),
      clusters(
        staticCluster('web', [b.port]),
        staticCluster('hc', [5], {
          health_checks: [
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 1,
              healthy_threshold: 1,
              tcp_health_check: {},
            },
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 1,
              healthy_threshold: 1,
              tcp_health_check: {},
            },
          ],
        }),
      ),
    ];
    for (const config of bad) {
      expect(() => {
        m.update(config, NO_ENDPOINTS);
      }).toThrow(ConfigError);
      expect(m.get('web')).toBe(web);
      expect(web.loadBalancer.hosts.map((h) => h.port)).toEqual([a.port]);
      expect(m.clusters.size).toBe(1);
    }
  });

  it('takes EDS endpoints from the snapshot by eds service name, and applies their changes in place', async () => {
    const a = await server('a');
    const b = await server('b');
    const m = manager();
    const eds = cluster({ name: 'api', type: 'EDS', eds_cluster_config: { service_name: 'api-v1' } });
    m.update(clusters(eds), NO_ENDPOINTS); // the cluster first, its endpoints later (CDS then EDS)
    const api = must(m.get('api'));
    expect(api.pick({})).toBeNull();
    m.update(clusters(eds), new Map([['api-v1', assignment('api-v1', [endpoint('127.0.0.1', a.port)])]]));
    expect(m.get('api')).toBe(api);
    const ha = must(api.pick({}));
    expect(await get(api, ha)).toBe('a');
    m.update(
      clusters(eds),
      new Map([
        ['api-v1', assignment('api-v1', [endpoint('127.0.0.1', a.port), endpoint('127.0.0.1', b.port)])],
      ]),
    );
    expect(m.get('api')).toBe(api);
    expect(api.loadBalancer.hosts.length).toBe(2);
    expect(api.loadBalancer.get(`127.0.0.1:${a.port}`)).toBe(ha);
    // No endpoints for it: an empty cluster, no host to pick.
    m.update(clusters(eds), NO_ENDPOINTS);
    expect(api.pick({})).toBeNull();
  });
});

describe('cluster manager: lifecycle', () => {
  it('serves a host that left between pick() and dispatcher() with a one-off pool that closes after its request', async () => {
    const a = await server('a');
    const b = await server('b');
    const m = manager();
    m.update(clusters(staticCluster('web', [a.port, b.port])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const gone = must(web.loadBalancer.get(`127.0.0.1:${b.port}`));
    m.update(clusters(staticCluster('web', [a.port])), NO_ENDPOINTS);
    const d = web.dispatcher(gone, 'http1');
    const res = await d.request({ method: 'GET', path: '/' });
    expect(await res.body.text()).toBe('b');
    await web.close(); // waits for what it is closing, the one-off pool included
    expect(d).toHaveProperty('closed', true);
  });

  it('close() stops every health check, DNS refresh and outlier sweep, and closes the pools', async () => {
    const a = await server('a');
    const m = createClusterManager({
      resolver: { lookup: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]) },
    });
    m.update(
      clusters(
        staticCluster('web', [a.port], {
          outlier_detection: {},
          health_checks: [
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 1,
              healthy_threshold: 1,
              tcp_health_check: {},
            },
          ],
        }),
        cluster({
          name: 'dns',
          type: 'STRICT_DNS',
          load_assignment: {
            cluster_name: 'dns',
            endpoints: [{ lb_endpoints: [endpoint('a.test', a.port)] }],
          },
        }),
      ),
      NO_ENDPOINTS,
    );
    const web = must(m.get('web'));
    const pool = web.dispatcher(must(web.loadBalancer.hosts[0]), 'http1');
    expect(m.wheel.size).toBeGreaterThan(0);
    await m.close();
    expect(m.wheel.size).toBe(0);
    expect(pool).toHaveProperty('closed', true);
    expect(() => {
      m.update(NO_CLUSTERS, NO_ENDPOINTS);
    }).toThrow(ConfigError);
  });
});

const NO_CLUSTERS = clusters();

function assignmentOf(name: string, address: string): Record<string, unknown> {
  return { cluster_name: name, endpoints: [{ lb_endpoints: [endpoint(address, 80)] }] };
}

describe('cluster manager: resource limits and protocols', () => {
  it('gives each priority its thresholds from circuit_breakers', () => {
    const m = manager();
    m.update(
      clusters(
        staticCluster('web', [1], {
          circuit_breakers: {
            thresholds: [
              { max_requests: 2, max_pending_requests: 5 },
              { priority: 'HIGH', max_requests: 9, retry_budget: { budget_percent: { value: 50 } } },
            ],
          },
        }),
      ),
      NO_ENDPOINTS,
    );
    const web = must(m.get('web'));
    const def = web.limits('default');
    expect(def.requests.max).toBe(2);
    expect(def.pendingRequests.max).toBe(5);
    expect(def.requests.tryAcquire()).toBe(true);
    expect(def.requests.tryAcquire()).toBe(true);
    expect(def.requests.tryAcquire()).toBe(false);
    expect(def.requests.overflows).toBe(1);
    expect(web.limits('high').requests.max).toBe(9);
    expect(web.limits('default')).toBe(def);
  });

  it('caps connections per host at max_connections and counts open connections cluster-wide', async () => {
    const releases: (() => void)[] = [];
    const slow = await httpServer((req, res) => {
      req.resume();
      releases.push(() => res.end('ok'));
    });
    cleanup.push(() => slow.close());
    const m = manager();
    m.update(
      clusters(
        staticCluster('web', [slow.port], { circuit_breakers: { thresholds: [{ max_connections: 1 }] } }),
      ),
      NO_ENDPOINTS,
    );
    const web = must(m.get('web'));
    const d = web.dispatcher(must(web.pick({})), 'http1');
    const first = d.request({ method: 'GET', path: '/1' });
    const second = d.request({ method: 'GET', path: '/2' });
    await new Promise<void>((resolve) =>
      slow.server.once('request', () => {
        resolve();
      }),
    );
    expect(slow.connections).toBe(1);
    expect(web.limits('default').connections.count).toBe(1);
    must(releases.shift())();
    await (await first).body.text();
    await new Promise<void>((resolve) => {
      if (releases.length > 0) resolve();
      else
        slow.server.once('request', () => {
          resolve();
        });
    });
    must(releases.shift())();
    await (await second).body.text();
    expect(slow.connections).toBe(1); // the second waited for the one connection
  });

  it('chooses the upstream protocol from upstream_http_protocol_options', () => {
    const m = manager();
    const opts = (config: Record<string, unknown>): Record<string, unknown> => ({
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          ...config,
        },
      },
    });
    m.update(
      clusters(
        staticCluster('h1', [1]),
        staticCluster('h2', [1], opts({ explicit_http_config: { http2_protocol_options: {} } })),
        staticCluster('ds', [1], opts({ use_downstream_protocol_config: {} })),
        staticCluster('auto', [1], opts({ auto_config: {} })),
      ),
      NO_ENDPOINTS,
    );
    expect(must(m.get('h1')).protocolFor('HTTP/2')).toBe('http1');
    expect(must(m.get('h2')).protocolFor('HTTP/1.1')).toBe('http2');
    expect(must(m.get('ds')).protocolFor('HTTP/2')).toBe('http2');
    expect(must(m.get('ds')).protocolFor('HTTP/1.1')).toBe('http1');
    // auto negotiates by ALPN over TLS; on cleartext it is HTTP/1.1, as in Envoy.
    expect(must(m.get('auto')).protocolFor('HTTP/2')).toBe('http1');
  });
});
