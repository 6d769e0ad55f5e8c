import { describe, expect, it } from 'vitest';
import { ConfigError, createLoadBalancer, type HostInput, type LoadBalancerPolicy } from '@meshlet/lb';
import { seeded } from './helpers.ts';

describe('locality-weighted MAGLEV agrees with Envoy (maglev_lb_test.cc)', () => {
  it('"LocalityWeightedSameLocalityWeights": host weights 1 and 2 in two zones of weight 1', () => {
    const lb = createLoadBalancer(
      'MAGLEV',
      [
        { address: '127.0.0.1', port: 90, weight: 1, locality: { zone: 'A' }, localityWeight: 1 },
        { address: '127.0.0.1', port: 91, weight: 2, locality: { zone: 'B' }, localityWeight: 1 },
      ],
      { maglev: { tableSize: 17 }, localityWeighted: true },
    );
    const expected = [1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1];
    for (let i = 0; i < 34; i++) expect(lb.pick({ hash: i })?.port).toBe(90 + (expected[i % 17] as number));
    expect(lb.stats().priorities[0]?.table).toMatchObject({ minEntriesPerHost: 8, maxEntriesPerHost: 9 });
  });

  it('"LocalityWeightedDifferentLocalityWeights": zones A, B, C weighted 8, 0, 2', () => {
    const lb = createLoadBalancer(
      'MAGLEV',
      [
        { address: '127.0.0.1', port: 90, weight: 1, locality: { zone: 'A' }, localityWeight: 8 },
        { address: '127.0.0.1', port: 92, weight: 3, locality: { zone: 'B' }, localityWeight: 0 },
        { address: '127.0.0.1', port: 91, weight: 2, locality: { zone: 'C' }, localityWeight: 2 },
      ],
      { maglev: { tableSize: 17 }, localityWeighted: true },
    );
    const expected = [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0];
    for (let i = 0; i < 34; i++) expect(lb.pick({ hash: i })?.port).toBe(90 + (expected[i % 17] as number));
    expect(lb.stats().priorities[0]?.table).toMatchObject({ minEntriesPerHost: 4, maxEntriesPerHost: 13 });
  });

  it('all locality weights 0: no host (Envoy "LocalityWeightedAllZeroLocalityWeights")', () => {
    const lb = createLoadBalancer('MAGLEV', [{ address: '127.0.0.1', port: 90, localityWeight: 0 }], {
      maglev: { tableSize: 17 },
      localityWeighted: true,
    });
    expect(lb.pick({ hash: 0 })).toBeNull();
  });
});

const zones = (healthyInA: number): HostInput[] => [
  ...Array.from({ length: 4 }, (_, i) => ({
    address: `10.0.1.${i + 1}`,
    port: 80,
    locality: { zone: 'a' },
    localityWeight: 3,
    health: i < healthyInA ? ('healthy' as const) : ('unhealthy' as const),
  })),
  ...Array.from({ length: 2 }, (_, i) => ({
    address: `10.0.2.${i + 1}`,
    port: 80,
    locality: { zone: 'b' },
    localityWeight: 1,
  })),
];

describe.each<LoadBalancerPolicy>(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM'])(
  'locality-weighted %s',
  (policy) => {
    const shareOfA = (hosts: HostInput[]): number => {
      const lb = createLoadBalancer(policy, hosts, {
        localityWeighted: true,
        random: seeded(3),
        healthyPanicThreshold: 0,
      });
      let a = 0;
      for (let i = 0; i < 8000; i++) if (lb.pick()?.locality?.zone === 'a') a++;
      return a / 8000;
    };

    it('splits traffic by locality weight, whatever the host counts', () => {
      // Zone a has 4 hosts and weight 3, zone b 2 hosts and weight 1: 75 % / 25 % (not 4:2).
      expect(Math.abs(shareOfA(zones(4)) - 0.75)).toBeLessThan(0.02);
    });

    it("scales a locality's weight down by its availability (x 1.4, capped at 1)", () => {
      // 3 of 4 healthy: min(1, 1.4 * 0.75) = 1 -> unchanged. 2 of 4: 0.7 -> 2.1 : 1.
      expect(Math.abs(shareOfA(zones(3)) - 0.75)).toBeLessThan(0.02);
      expect(Math.abs(shareOfA(zones(2)) - 2.1 / 3.1)).toBeLessThan(0.02);
    });

    it('is off unless asked for: hosts share evenly', () => {
      const lb = createLoadBalancer(policy, zones(4), { random: seeded(4) });
      let a = 0;
      for (let i = 0; i < 6000; i++) if (lb.pick()?.locality?.zone === 'a') a++;
      expect(Math.abs(a / 6000 - 4 / 6)).toBeLessThan(0.03);
    });
  },
);

it('rejects hosts of one locality that disagree on its weight', () => {
  expect(() =>
    createLoadBalancer('ROUND_ROBIN', [
      { address: 'a', port: 1, locality: { zone: 'z' }, localityWeight: 1 },
      { address: 'b', port: 1, locality: { zone: 'z' }, localityWeight: 2 },
    ]),
  ).toThrow(ConfigError);
});
