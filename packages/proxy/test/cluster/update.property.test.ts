// Property: whatever sequence of EDS endpoint sets arrives, an unchanged cluster stays the same
// object, its hosts are exactly the endpoints, a host that stays keeps its Host object (and with
// it its pools and outlier monitor), and a host that leaves has its pools closed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Host } from '@meshlet/lb';
import type { ClusterLoadAssignment, HealthStatus, LbEndpoint } from '@meshlet/xds';
import { createClusterManager } from '../../src/cluster/index.js';
import type { HostPools } from '../../src/cluster/index.js';
import { cluster, clusters, FakeTime, must } from './helpers.js';

interface Ep {
  readonly last: number;
  readonly port: number;
  readonly weight: number;
  readonly priority: number;
  readonly health: HealthStatus;
}

const endpointArb: fc.Arbitrary<Ep> = fc.record({
  last: fc.integer({ min: 1, max: 12 }),
  port: fc.constantFrom(80, 81),
  weight: fc.integer({ min: 1, max: 5 }),
  priority: fc.integer({ min: 0, max: 1 }),
  health: fc.constantFrom<HealthStatus>('UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DEGRADED', 'DRAINING'),
});

const setArb = fc.uniqueArray(endpointArb, { selector: (e) => `${e.last}:${e.port}`, maxLength: 15 });

function toAssignment(eps: readonly Ep[]): ClusterLoadAssignment {
  const byPriority = [0, 1].map((priority) => ({
    locality: { region: '', zone: '', subZone: '' },
    priority,
    lbEndpoints: eps
      .filter((e) => e.priority === priority)
      .map((e): LbEndpoint => ({
        address: { socketAddress: { address: `127.0.0.${e.last}`, port: e.port, protocol: 'TCP' } },
        hostname: '',
        healthStatus: e.health,
        loadBalancingWeight: e.weight,
        metadata: {},
      })),
  }));
  return {
    clusterName: 'svc',
    endpoints: byPriority,
    policy: { overprovisioningFactor: 140, dropOverloads: [] },
  };
}

const HEALTH: Record<HealthStatus, string> = {
  UNKNOWN: 'healthy',
  HEALTHY: 'healthy',
  UNHEALTHY: 'unhealthy',
  DRAINING: 'unhealthy',
  TIMEOUT: 'unhealthy',
  DEGRADED: 'degraded',
};

describe('update() with EDS endpoint sets (property)', () => {
  it('keeps the cluster and the Host objects of surviving hosts; hosts equal the endpoints', async () => {
    const config = cluster({ name: 'svc', type: 'EDS', outlier_detection: {} });
    await fc.assert(
      fc.asyncProperty(fc.array(setArb, { minLength: 1, maxLength: 6 }), async (sets) => {
        const time = new FakeTime(1000);
        const m = createClusterManager({ now: time.now, timers: time });
        try {
          m.update(clusters(config), new Map([['svc', toAssignment(sets[0] ?? [])]]));
          const svc = must(m.get('svc'));
          let previous = new Map<string, { host: Host; pools: HostPools }>();
          for (const set of sets) {
            m.update(clusters(config), new Map([['svc', toAssignment(set)]]));
            expect(m.get('svc')).toBe(svc);
            const hosts = svc.loadBalancer.hosts;
            expect(hosts.map((h) => h.key).sort()).toEqual(
              set.map((e) => `127.0.0.${e.last}:${e.port}`).sort(),
            );
            const current = new Map<string, { host: Host; pools: HostPools }>();
            for (const e of set) {
              const host = must(svc.loadBalancer.get(`127.0.0.${e.last}:${e.port}`));
              expect(host.weight).toBe(e.weight);
              expect(host.priority).toBe(e.priority);
              expect(host.declaredHealth).toBe(HEALTH[e.health]);
              const before = previous.get(host.key);
              if (before) {
                expect(host).toBe(before.host);
                expect(svc.pools(host)).toBe(before.pools);
              }
              current.set(host.key, { host, pools: must(svc.pools(host)) });
            }
            for (const [key, before] of previous)
              if (!current.has(key)) expect(before.pools.closed).toBe(true);
            expect(must(svc.outlierDetector).size).toBe(set.length);
            previous = current;
          }
        } finally {
          await m.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
