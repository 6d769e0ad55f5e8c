import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLoadBalancer, type HostInput, type LoadBalancerPolicy } from '@meshlet/lb';
import { computePriorityLoad } from '../src/priority-load.ts';
import { seeded } from './helpers.ts';

describe('priority load (Envoy LoadBalancerBase)', () => {
  it('a level at 1/1.4 availability or more takes all the load', () => {
    // 8 of 10 healthy: 140 * 8 / 10 = 112 -> capped at 100.
    const load = computePriorityLoad(
      [
        { total: 10, healthy: 8, degraded: 0 },
        { total: 5, healthy: 5, degraded: 0 },
      ],
      140,
      50,
    );
    expect(load.healthy).toEqual([100, 0]);
    expect(load.panic).toEqual([false, false]);
  });

  it('spills over to the next level: 1 of 2 healthy -> 70 % / 30 %', () => {
    const load = computePriorityLoad(
      [
        { total: 2, healthy: 1, degraded: 0 },
        { total: 1, healthy: 1, degraded: 0 },
      ],
      140,
      50,
    );
    expect(load.healthy).toEqual([70, 30]);
  });

  it("degraded hosts take what healthy ones cannot (Envoy's 10/20/10 % example)", () => {
    // Health 10 %, 20 %, 10 %; degraded 20 %, 10 %, 0 % (after the factor): 16/28/14 healthy and
    // 28/14/0 degraded, the first healthy level taking the 2 % rounding leftover.
    const load = computePriorityLoad(
      [
        { total: 14, healthy: 1, degraded: 2 },
        { total: 14, healthy: 2, degraded: 1 },
        { total: 14, healthy: 1, degraded: 0 },
      ],
      140,
      0,
    );
    expect(load.healthy).toEqual([16, 28, 14]);
    expect(load.degraded).toEqual([28, 14, 0]);
  });

  it('loads always sum to 100, and a level gets healthy load only if it has healthy hosts (or is in panic)', () => {
    const level = fc
      .record({ healthy: fc.nat(20), degraded: fc.nat(20), other: fc.nat(20) })
      .map(({ healthy, degraded, other }) => ({ total: healthy + degraded + other, healthy, degraded }));
    fc.assert(
      fc.property(
        fc.array(level, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 100 }),
        (levels, threshold) => {
          const load = computePriorityLoad(levels, 140, threshold);
          const sum = [...load.healthy, ...load.degraded].reduce((a, b) => a + b, 0);
          expect(sum).toBe(100);
          levels.forEach((l, i) => {
            expect(load.healthy[i]).toBeGreaterThanOrEqual(0);
            expect(load.degraded[i]).toBeGreaterThanOrEqual(0);
            if (l.degraded === 0 && !load.panic[i]) expect(load.degraded[i]).toBe(0);
          });
          const anyAvailable = levels.some((l) => l.healthy + l.degraded > 0);
          levels.forEach((l, i) => {
            if (anyAvailable && l.healthy === 0 && !load.panic[i]) expect(load.healthy[i]).toBe(0);
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('total panic spreads load by host counts', () => {
    const load = computePriorityLoad(
      [
        { total: 3, healthy: 0, degraded: 0 },
        { total: 1, healthy: 0, degraded: 0 },
      ],
      140,
      50,
    );
    expect(load.panic).toEqual([true, true]);
    expect(load.healthy).toEqual([75, 25]);
  });

  it('panic threshold 0 with nothing available sends everything to P0, where no host is found', () => {
    const load = computePriorityLoad([{ total: 3, healthy: 0, degraded: 0 }], 140, 0);
    expect(load).toEqual({ healthy: [100], degraded: [0], panic: [false] });
    const lb = createLoadBalancer('ROUND_ROBIN', [{ address: 'a', port: 1, health: 'unhealthy' }], {
      healthyPanicThreshold: 0,
    });
    expect(lb.pick()).toBeNull();
  });
});

const twoLevels = (p0Healthy: number): HostInput[] => [
  { address: '10.0.0.1', port: 80, health: p0Healthy > 0 ? 'healthy' : 'unhealthy' },
  { address: '10.0.0.2', port: 80, health: p0Healthy > 1 ? 'healthy' : 'unhealthy' },
  { address: '10.0.1.1', port: 80, priority: 1 },
];

describe.each<LoadBalancerPolicy>(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'])(
  '%s failover',
  (policy) => {
    it('uses P1 only when P0 cannot take all the load, in proportion', () => {
      const lb = createLoadBalancer(policy, twoLevels(2), { random: seeded(5) });
      const random = seeded(11);
      const count = (): number => {
        let p1 = 0;
        for (let i = 0; i < 10_000; i++)
          if (lb.pick({ hash: Math.floor(random() * 2 ** 52) })?.priority === 1) p1++;
        return p1 / 10_000;
      };
      expect(count()).toBe(0);
      lb.update(twoLevels(1)); // P0 at 70 %
      expect(Math.abs(count() - 0.3)).toBeLessThan(0.02);
      lb.update(twoLevels(0)); // P0 down
      expect(count()).toBe(1);
    });
  },
);

describe('hash-based priority choice (Envoy RingHashFailoverTest)', () => {
  it('hash % 100 + 1 <= 70 goes to P0, above to P1', () => {
    for (const policy of ['RING_HASH', 'MAGLEV'] as const) {
      const lb = createLoadBalancer(policy, twoLevels(1));
      expect(lb.pick({ hash: 69 })?.priority).toBe(0);
      expect(lb.pick({ hash: 71 })?.priority).toBe(1);
    }
  });
});
