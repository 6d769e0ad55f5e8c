// Cluster stats across config updates: a cluster that stays (unchanged or rebuilt) keeps
// counting where it was; a removed cluster's stats leave the store.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { HttpProxy } from '../../src/index.js';
import { ClusterStats, hostStatsOf } from '../../src/index.js';
import { cluster, gateway, match, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { start, upstream } = e2eScope();

function counter(proxy: HttpProxy, name: string): number | undefined {
  const store = proxy.stats;
  if (store === null) throw new Error('stats are off');
  for (const c of store.counters()) if (c.name === name) return c.value;
  return undefined;
}

async function get(proxy: HttpProxy, path: string): Promise<number> {
  const res = await request(`${origin(proxy)}${path}`);
  await res.body.text();
  return res.statusCode;
}

describe('cluster stats across update()', () => {
  it('kept and rebuilt clusters go on counting; removed ones are dropped; stats off records nothing', async () => {
    const up = await upstream('up');
    const config = (clusters: ReturnType<typeof cluster>[]) =>
      gateway({
        routes: clusters.map((c) =>
          route(c.name, { match: match(`/${c.name}`), route: routeAction(c.name) }),
        ),
        clusters,
      });
    const proxy = await start(
      config([cluster('kept', [up.port]), cluster('rebuilt', [up.port]), cluster('gone', [up.port])]),
    );
    expect(await get(proxy, '/kept')).toBe(200);
    expect(await get(proxy, '/rebuilt')).toBe(200);
    expect(await get(proxy, '/gone')).toBe(200);
    const keptBefore = proxy.clusters.get('kept');
    const rebuiltBefore = proxy.clusters.get('rebuilt');

    await proxy.update(
      config([
        cluster('kept', [up.port]),
        cluster('rebuilt', [up.port], { connectTimeoutMs: 2000 }),
        cluster('fresh', [up.port]),
      ]),
    );
    // The same cluster object for an unchanged config, a new one for a changed config.
    expect(proxy.clusters.get('kept')).toBe(keptBefore);
    expect(proxy.clusters.get('rebuilt')).not.toBe(rebuiltBefore);
    expect(proxy.clusters.get('rebuilt')?.stats).toBeInstanceOf(ClusterStats);
    expect(counter(proxy, 'cluster.gone.upstream_rq_total')).toBeUndefined();
    expect(proxy.stats?.prometheus()).not.toContain('envoy_cluster_name="gone"');
    expect(counter(proxy, 'cluster.fresh.upstream_rq_total')).toBe(0);

    expect(await get(proxy, '/kept')).toBe(200);
    expect(await get(proxy, '/rebuilt')).toBe(200);
    expect(await get(proxy, '/fresh')).toBe(200);
    expect(counter(proxy, 'cluster.kept.upstream_rq_total')).toBe(2);
    expect(counter(proxy, 'cluster.rebuilt.upstream_rq_total')).toBe(2);
    expect(counter(proxy, 'cluster.fresh.upstream_rq_total')).toBe(1);
    const kept = proxy.clusters.get('kept');
    const host = kept?.loadBalancer.hosts[0];
    if (kept === undefined || host === undefined) throw new Error('no host');
    expect(hostStatsOf(kept, host)?.rqTotal).toBe(2);

    const off = await start(config([cluster('kept', [up.port])]), { stats: false });
    expect(off.stats).toBeNull();
    expect(await get(off, '/kept')).toBe(200);
    const offCluster = off.clusters.get('kept');
    if (offCluster === undefined) throw new Error('no cluster');
    expect(offCluster.stats).not.toBeInstanceOf(ClusterStats);
    expect(hostStatsOf(offCluster, offCluster.loadBalancer.hosts[0] as never)).toBeUndefined();
  });
});
