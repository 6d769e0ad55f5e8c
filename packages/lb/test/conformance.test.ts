// One suite, run against every policy (and against each behind a subset balancer): what any
// balancer must do whatever its algorithm.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLoadBalancer,
  type Host,
  type HostHealth,
  type HostInput,
  type LoadBalancerOptions,
  type LoadBalancerPolicy,
  type PickContext,
} from '@meshlet/lb';
import { hostsOf, randomHash, seeded } from './helpers.ts';

const POLICIES: readonly LoadBalancerPolicy[] = [
  'ROUND_ROBIN',
  'LEAST_REQUEST',
  'RANDOM',
  'RING_HASH',
  'MAGLEV',
];

interface Variant {
  readonly name: string;
  readonly options: LoadBalancerOptions;
  /** Context fields every pick of this variant carries. */
  readonly ctx: PickContext;
}

const VARIANTS: readonly Variant[] = [
  { name: 'plain', options: {}, ctx: {} },
  {
    name: 'behind a subset selector',
    options: { subset: { selectors: [['pool']], fallbackPolicy: 'NO_FALLBACK' } },
    ctx: { metadataMatch: { pool: 'main' } },
  },
];

const HEALTH: readonly HostHealth[] = ['healthy', 'degraded', 'unhealthy', 'ejected'];

for (const policy of POLICIES) {
  for (const variant of VARIANTS) {
    describe(`${policy} (${variant.name}) conformance`, () => {
      const make = (hosts: readonly HostInput[], options: LoadBalancerOptions = {}, seed = 1) =>
        createLoadBalancer(
          policy,
          hosts.map((h) => ({ ...h, metadata: { pool: 'main', ...h.metadata } })),
          { ...variant.options, ...options, random: seeded(seed) },
        );
      const pickN = (lb: ReturnType<typeof make>, n: number, seed = 7): (Host | null)[] => {
        const random = seeded(seed);
        const out: (Host | null)[] = [];
        for (let i = 0; i < n; i++) out.push(lb.pick({ ...variant.ctx, hash: randomHash(random) }));
        return out;
      };

      it('an empty set returns null, with or without a context', () => {
        const lb = make([]);
        expect(lb.pick()).toBeNull();
        expect(lb.pick({ ...variant.ctx, hash: 42n })).toBeNull();
        lb.update(hostsOf(3));
        lb.update([]);
        expect(lb.pick({ ...variant.ctx, hash: 42n })).toBeNull();
      });

      it('never returns an unhealthy or ejected host while a healthy one exists (panic disabled)', () => {
        fc.assert(
          fc.property(
            fc.array(fc.constantFrom(...HEALTH), { minLength: 1, maxLength: 12 }),
            fc.nat(11),
            fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 12, maxLength: 12 }),
            (health, healthyAt, weights) => {
              const hosts = hostsOf(health.length, (i) => ({
                health: i === healthyAt % health.length ? 'healthy' : (health[i] as HostHealth),
                weight: weights[i] as number,
              }));
              const lb = make(hosts, { healthyPanicThreshold: 0 });
              for (const host of pickN(lb, 60)) {
                expect(host).not.toBeNull();
                expect(['healthy', 'degraded']).toContain(host?.health);
              }
            },
          ),
          { numRuns: 60 },
        );
      });

      it('with the default 50 % panic threshold, a level that is mostly healthy never serves unhealthy hosts', () => {
        const lb = make(hostsOf(10, (i) => ({ health: i < 4 ? 'unhealthy' : 'healthy' })));
        for (const host of pickN(lb, 500)) expect(host?.health).toBe('healthy');
        // Below the threshold (3 of 10 healthy) the level is in panic: every host takes traffic.
        lb.update(
          hostsOf(10, (i) => ({ health: i < 7 ? 'ejected' : 'healthy', metadata: { pool: 'main' } })),
        );
        const seen = new Set(pickN(lb, 2000).map((h) => h?.health));
        expect(seen).toEqual(new Set(['ejected', 'healthy']));
      });

      it('never returns a removed host', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 20 }),
            fc.uniqueArray(fc.nat(19), { maxLength: 19 }),
            (n, drop) => {
              const all = hostsOf(20, () => ({ metadata: { pool: 'main' } }));
              const lb = make(all.slice(0, Math.max(n, 1)));
              pickN(lb, 20);
              const kept = all.filter((_, i) => !drop.includes(i));
              const removedObjects = lb.hosts.filter((h) => drop.some((i) => all[i]?.address === h.address));
              lb.update(kept);
              const keys = new Set(kept.map((h) => `${h.address}:${h.port}`));
              for (const host of pickN(lb, 100)) {
                if (kept.length === 0) expect(host).toBeNull();
                else {
                  expect(keys.has(host?.key ?? '')).toBe(true);
                  expect(removedObjects).not.toContain(host);
                }
              }
            },
          ),
          { numRuns: 40 },
        );
      });

      it('long-run shares follow weights within 2 percentage points (40,000 picks)', () => {
        const weights = [1, 2, 3, 4];
        const lb = make(hostsOf(4, (i) => ({ weight: weights[i] as number })));
        const counts = new Map<string, number>();
        const picks = pickN(lb, 40_000, 99);
        for (const host of picks) counts.set(host?.key ?? 'null', (counts.get(host?.key ?? 'null') ?? 0) + 1);
        lb.hosts.forEach((host, i) => {
          const share = (counts.get(host.key) ?? 0) / picks.length;
          expect(Math.abs(share - (weights[i] as number) / 10), `${host.key}: ${share}`).toBeLessThan(0.02);
        });
      });

      it('a retry predicate is honoured while another host is available', () => {
        const lb = make(hostsOf(5));
        const random = seeded(3);
        for (let i = 0; i < 200; i++) {
          const tried = new Set<Host>();
          for (let attempt = 0; attempt < 3; attempt++) {
            const host = lb.pick({
              ...variant.ctx,
              hash: randomHash(random),
              hostSelectionRetryCount: 50,
              shouldSelectAnotherHost: (h) => tried.has(h),
            });
            expect(host).not.toBeNull();
            expect(tried.has(host as Host)).toBe(false);
            tried.add(host as Host);
          }
        }
      });

      it('never throws on a malformed context', () => {
        const lb = make(hostsOf(3));
        const bad = [
          { hash: -1 },
          { hash: 1.5 },
          { hash: -5n },
          { hash: 1n << 70n },
          { hash: 'x' },
          { hostSelectionRetryCount: -3 },
        ];
        for (const ctx of bad) expect(lb.pick({ ...variant.ctx, ...(ctx as PickContext) })).not.toBeNull();
        expect(() => lb.pick(null as never)).not.toThrow();
      });
    });
  }
}
