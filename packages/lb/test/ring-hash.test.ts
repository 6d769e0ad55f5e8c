import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLoadBalancer, type HostInput } from '@meshlet/lb';
import { Host } from '../src/host.ts';
import { RingHashTable } from '../src/ring-hash.ts';

const ports = (from: number, to: number, address = '127.0.0.1'): HostInput[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ address, port: from + i }));

const ring = (inputs: readonly HostInput[], min = 1024, max = 8_388_608): RingHashTable =>
  new RingHashTable(
    inputs.map((i) => new Host(i, 0)),
    min,
    max,
  );

describe('RING_HASH agrees with Envoy (ring_hash_lb_test.cc "Basic")', () => {
  // Envoy's ring for 127.0.0.1:90..95 with minimum_ring_size 12: two entries per host, the first
  // at 833437586790550860 (:94), the last at 16117243373044804889 (:90).
  const lb = createLoadBalancer('RING_HASH', ports(90, 95), { ringHash: { minimumRingSize: 12 } });

  it('hash 0 and hash 2^64-1 land on the first entry (:94)', () => {
    expect(lb.pick({ hash: 0 })?.port).toBe(94);
    expect(lb.pick({ hash: (1n << 64n) - 1n })?.port).toBe(94);
  });

  it('a hash equal to an entry lands on it; one above lands on the next', () => {
    expect(lb.pick({ hash: 3551244743356806947n })?.port).toBe(95);
    expect(lb.pick({ hash: 3551244743356806948n })?.port).toBe(93);
    expect(lb.pick({ hash: 16117243373044804880n })?.port).toBe(90);
  });

  it('builds 12 entries, two per host', () => {
    const t = ring(ports(90, 95), 12);
    expect(t.size).toBe(12);
    expect([...t.hashesPerHost]).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('a retry selection moves along the ring (Envoy: as if the host were not there)', () => {
    // Ring order: :94 :92 :90 :95 :93 :91 ...; hash 0 -> :94, next selection -> :92.
    expect(lb.pick({ hash: 0, shouldSelectAnotherHost: (h) => h.port === 94 })?.port).toBe(92);
  });
});

describe('RING_HASH ring properties', () => {
  it('sizes the ring as Envoy: whole entries for the lightest host, within [min, max]', () => {
    expect(ring(ports(1, 10), 1024).size).toBe(1030); // ceil(102.4) = 103 per host
    expect(ring(ports(1, 3), 1024, 300).size).toBe(300);
    const weighted = ring(
      [1, 3].map((weight, i) => ({ address: '10.0.0.1', port: i, weight })),
      1024,
    );
    expect([...weighted.hashesPerHost]).toEqual([256, 768]);
  });

  it('equal weights: each host gets the same number of entries', () => {
    const t = ring(ports(1, 7), 1024);
    expect(new Set(t.hashesPerHost).size).toBe(1);
  });

  it('weights: the share of the hash space follows weight', () => {
    const inputs = [1, 2, 3, 4].map((weight, i) => ({ address: '10.0.0.2', port: i, weight }));
    const t = ring(inputs, 4096);
    const counts = new Map<number, number>();
    const samples = 40_000;
    for (let k = 0; k < samples; k++) {
      const host = t.choose(Math.floor(((k * 0.6180339887) % 1) * 2 ** 32) >>> 0, (k * 2654435761) >>> 0, 0);
      counts.set(host?.port ?? -1, (counts.get(host?.port ?? -1) ?? 0) + 1);
    }
    for (const input of inputs)
      expect(Math.abs((counts.get(input.port) ?? 0) / samples - input.weight / 10)).toBeLessThan(0.03);
  });

  it('does not depend on the order of the hosts', () => {
    const inputs = ports(1, 30, '10.0.0.3').map((h, i) => ({ ...h, weight: 1 + (i % 4) }));
    const probe = (t: RingHashTable): string[] =>
      Array.from(
        { length: 500 },
        (_, k) => t.choose((k * 8589935) >>> 0, (k * 2654435761) >>> 0, 0)?.key ?? '',
      );
    const reference = probe(ring(inputs));
    fc.assert(
      fc.property(
        fc.shuffledSubarray(inputs, { minLength: inputs.length, maxLength: inputs.length }),
        (shuffled) => {
          expect(probe(ring(shuffled))).toEqual(reference);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('disruption: removing one of N hosts moves few keys of the others', () => {
    // Measured over 20,000 keys, each host removed in turn: N = 100, worst 0.22 % (the ring keeps
    // 11 entries per host; float rounding of the running target adds or drops an entry here and
    // there, as in Envoy); N = 10, worst 7.6 %: the ring is rescaled from 103 to 114 entries per
    // host, so new entries take keys (a property of Envoy's ring sizing, kept for agreement).
    const measure = (n: number, removedList: readonly number[]): number => {
      const inputs = ports(1, n, '10.0.0.4');
      const before = ring(inputs);
      let worst = 0;
      for (const removed of removedList) {
        const after = ring(inputs.filter((_, i) => i !== removed));
        let kept = 0;
        let moved = 0;
        for (let k = 0; k < 20_000; k++) {
          const hi = (k * 2654435761) >>> 0;
          const lo = (k * 40503) >>> 0;
          const owner = before.choose(hi, lo, 0);
          if (owner?.port === removed + 1) continue;
          kept++;
          if (after.choose(hi, lo, 0)?.key !== owner?.key) moved++;
        }
        worst = Math.max(worst, moved / kept);
      }
      return worst;
    };
    expect(measure(100, [0, 50, 99])).toBeLessThan(0.01);
    expect(measure(10, [0, 5, 9])).toBeLessThan(0.1);
  });

  it('rejects minimumRingSize > maximumRingSize', () => {
    expect(() =>
      createLoadBalancer('RING_HASH', [], { ringHash: { minimumRingSize: 20, maximumRingSize: 10 } }),
    ).toThrow(ConfigError);
  });
});
