import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createLoadBalancer,
  type Host,
  type HostSetChange,
  type LoadBalancerPolicy,
} from '@meshlet/lb';
import { hostsOf, seeded } from './helpers.ts';

describe('ROUND_ROBIN', () => {
  it('equal weights: a strict rotation', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(4), { random: seeded(1) });
    const first = Array.from({ length: 4 }, () => lb.pick()?.key);
    expect(new Set(first).size).toBe(4);
    for (let round = 0; round < 5; round++) for (const key of first) expect(lb.pick()?.key).toBe(key);
  });

  it('weights: smooth EDF schedule, every prefix within one pick of its weighted share', () => {
    const weights = [1, 2, 5, 8];
    const lb = createLoadBalancer(
      'ROUND_ROBIN',
      hostsOf(4, (i) => ({ weight: weights[i] as number })),
      { random: seeded(2) },
    );
    const total = weights.reduce((a, b) => a + b);
    const counts = new Map<string, number>();
    for (let k = 1; k <= 1600; k++) {
      const host = lb.pick() as Host;
      counts.set(host.key, (counts.get(host.key) ?? 0) + 1);
      for (const h of lb.hosts) {
        // A burst scheduler (A A A A A B ...) breaks this at once.
        expect(Math.abs((counts.get(h.key) ?? 0) - (k * h.weight) / total)).toBeLessThanOrEqual(2);
      }
    }
  });
});

describe('LEAST_REQUEST', () => {
  it('equal weights: power of two choices never picks the busier of its two samples', () => {
    const lb = createLoadBalancer('LEAST_REQUEST', hostsOf(2), { random: seeded(3) });
    const [a, b] = lb.hosts as [Host, Host];
    a.activeRequests = 10;
    let toA = 0;
    for (let i = 0; i < 1000; i++) if (lb.pick() === a) toA++;
    // Only when both samples are `a` (probability 1/4) does it go to the busy host.
    expect(toA / 1000).toBeGreaterThan(0.18);
    expect(toA / 1000).toBeLessThan(0.32);
    b.activeRequests = 20;
    let toB = 0;
    for (let i = 0; i < 1000; i++) if (lb.pick() === b) toB++;
    expect(toB / 1000).toBeLessThan(0.32);
  });

  it('with three choices, a busy host is chosen less often than with two', () => {
    const share = (choiceCount: number): number => {
      const lb = createLoadBalancer('LEAST_REQUEST', hostsOf(4), {
        random: seeded(4),
        leastRequest: { choiceCount },
      });
      const busy = lb.hosts[0] as Host;
      busy.activeRequests = 5;
      let n = 0;
      for (let i = 0; i < 8000; i++) if (lb.pick() === busy) n++;
      return n / 8000;
    };
    expect(share(3)).toBeLessThan(share(2));
  });

  it('unequal weights: weight / (active + 1) ^ bias steers away from busy hosts', () => {
    const lb = createLoadBalancer(
      'LEAST_REQUEST',
      hostsOf(2, (i) => ({ weight: i + 1 })),
      { random: seeded(5) },
    );
    const [light, heavy] = lb.hosts as [Host, Host];
    heavy.activeRequests = 3; // effective weight 2 / 4 = 0.5 against 1 / 1
    let toLight = 0;
    for (let i = 0; i < 3000; i++) if (lb.pick() === light) toLight++;
    expect(Math.abs(toLight / 3000 - 2 / 3)).toBeLessThan(0.02);
    const ignoring = createLoadBalancer(
      'LEAST_REQUEST',
      hostsOf(2, (i) => ({ weight: i + 1 })),
      {
        random: seeded(5),
        leastRequest: { activeRequestBias: 0 },
      },
    );
    (ignoring.hosts[1] as Host).activeRequests = 3;
    let toHeavy = 0;
    for (let i = 0; i < 3000; i++) if (ignoring.pick() === ignoring.hosts[1]) toHeavy++;
    expect(Math.abs(toHeavy / 3000 - 2 / 3)).toBeLessThan(0.02);
  });
});

describe('slow start', () => {
  for (const policy of ['ROUND_ROBIN', 'LEAST_REQUEST'] as const) {
    it(`${policy}: a new host ramps up over the window, from the minimum weight`, () => {
      let now = 1000;
      const lb = createLoadBalancer(policy, hostsOf(3), {
        random: seeded(6),
        clock: () => now,
        slowStart: { window: 10_000, minWeightPercent: 10 },
      });
      lb.update([...hostsOf(4)]);
      const fresh = lb.get('10.0.0.4:8080') as Host;
      const share = (): number => {
        let n = 0;
        for (let i = 0; i < 4000; i++) if (lb.pick() === fresh) n++;
        return n / 4000;
      };
      // At t = 0 the factor is max(1 ms / 10 s, 10 %) = 0.1: 0.1 / 3.1 of the picks.
      expect(Math.abs(share() - 0.1 / 3.1)).toBeLessThan(0.01);
      now += 5000; // half way, linear ramp (aggression 1): 0.5 / 3.5
      expect(Math.abs(share() - 0.5 / 3.5)).toBeLessThan(0.02);
      now += 5000; // window over: full weight, equal shares again
      expect(Math.abs(share() - 0.25)).toBeLessThan(0.02);
    });
  }

  it('aggression shapes the ramp: (t / window) ^ (1 / aggression)', () => {
    let now = 0;
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(1), {
      random: seeded(7),
      clock: () => now,
      slowStart: { window: 1000, aggression: 2, minWeightPercent: 1 },
    });
    lb.update(hostsOf(2));
    const fresh = lb.get('10.0.0.2:8080') as Host;
    now = 250; // factor sqrt(0.25) = 0.5
    let n = 0;
    for (let i = 0; i < 3000; i++) if (lb.pick() === fresh) n++;
    expect(Math.abs(n / 3000 - 0.5 / 1.5)).toBeLessThan(0.02);
  });

  it('a host returning to health starts slow again', () => {
    let now = 0;
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(2), {
      random: seeded(8),
      clock: () => now,
      slowStart: { window: 1000 },
    });
    const host = lb.hosts[1] as Host;
    lb.setHealth(host, 'unhealthy');
    now = 50;
    lb.setHealth(host, 'healthy');
    let n = 0;
    for (let i = 0; i < 2000; i++) if (lb.pick() === host) n++;
    expect(n / 2000).toBeLessThan(0.15);
  });
});

describe('subsets', () => {
  const hosts = [
    { address: '10.0.0.1', port: 80, metadata: { version: 'v1', stage: 'prod' } },
    { address: '10.0.0.2', port: 80, metadata: { version: 'v1', stage: 'prod' } },
    { address: '10.0.0.3', port: 80, metadata: { version: 'v2', stage: 'canary' } },
    { address: '10.0.0.4', port: 80, metadata: { stage: 'prod' } },
  ];
  const selectors = [['version'], ['version', 'stage']];

  it('routes a metadata match to its subset only, for every policy', () => {
    for (const policy of [
      'ROUND_ROBIN',
      'LEAST_REQUEST',
      'RANDOM',
      'RING_HASH',
      'MAGLEV',
    ] as LoadBalancerPolicy[]) {
      const lb = createLoadBalancer(policy, hosts, { subset: { selectors }, random: seeded(9) });
      for (let i = 0; i < 100; i++) {
        expect(lb.pick({ metadataMatch: { version: 'v2' }, hash: i })?.address).toBe('10.0.0.3');
        expect(['10.0.0.1', '10.0.0.2']).toContain(
          lb.pick({ metadataMatch: { stage: 'prod', version: 'v1' }, hash: i })?.address,
        );
      }
    }
  });

  it('NO_FALLBACK: no subset, no host', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hosts, { subset: { selectors } });
    expect(lb.pick({ metadataMatch: { version: 'v3' } })).toBeNull();
    expect(lb.pick({ metadataMatch: { stage: 'prod' } })).toBeNull(); // no selector for {stage}
    expect(lb.pick()).toBeNull();
  });

  it('ANY_ENDPOINT: any host', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hosts, {
      subset: { selectors, fallbackPolicy: 'ANY_ENDPOINT' },
    });
    const seen = new Set(
      Array.from({ length: 8 }, () => lb.pick({ metadataMatch: { version: 'v3' } })?.address),
    );
    expect(seen.size).toBe(4);
  });

  it('DEFAULT_SUBSET: the hosts matching the default subset', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hosts, {
      subset: { selectors, fallbackPolicy: 'DEFAULT_SUBSET', defaultSubset: { version: 'v1' } },
    });
    for (let i = 0; i < 10; i++)
      expect(['10.0.0.1', '10.0.0.2']).toContain(lb.pick({ metadataMatch: { version: 'v9' } })?.address);
  });

  it('follows updates: a host that changes version moves subset', () => {
    const lb = createLoadBalancer('MAGLEV', hosts, { subset: { selectors } });
    lb.update(
      hosts.map((h) => (h.address === '10.0.0.1' ? { ...h, metadata: { version: 'v2', stage: 'prod' } } : h)),
    );
    const seen = new Set(
      Array.from({ length: 200 }, (_, i) => lb.pick({ metadataMatch: { version: 'v2' }, hash: i })?.address),
    );
    expect(seen).toEqual(new Set(['10.0.0.1', '10.0.0.3']));
  });
});

describe('update(), setHealth() and events', () => {
  it('keeps Host objects (and their active request counts) across updates, emits what changed', () => {
    const lb = createLoadBalancer('LEAST_REQUEST', hostsOf(3));
    const first = lb.hosts[0] as Host;
    first.activeRequests = 4;
    const events: HostSetChange[] = [];
    lb.on('update', (change) => events.push(change));
    const change = lb.update(
      [...hostsOf(2), { address: '10.9.9.9', port: 1 }].map((h, i) => (i === 1 ? { ...h, weight: 7 } : h)),
    );
    expect(lb.hosts[0]).toBe(first);
    expect(first.activeRequests).toBe(4);
    expect(change.added.map((h) => h.key)).toEqual(['10.9.9.9:1']);
    expect(change.removed.map((h) => h.key)).toEqual(['10.0.0.3:8080']);
    expect(change.changed.map((h) => h.key)).toEqual(['10.0.0.2:8080']);
    expect(events).toEqual([change]);
    lb.update(lb.hosts.map((h) => ({ address: h.address, port: h.port, weight: h.weight })));
    expect(events).toHaveLength(1); // nothing changed, nothing emitted
  });

  it('carries a hostname, kept current by updates without a change event or a rebuild', () => {
    const lb = createLoadBalancer(
      'MAGLEV',
      hostsOf(2, (i) => (i === 0 ? { hostname: 'a.internal' } : {})),
    );
    const [first, second] = lb.hosts as [Host, Host];
    expect(first.hostname).toBe('a.internal');
    expect(second.hostname).toBeUndefined();
    const engine = (lb as unknown as { engine: { tableOf(p: number): unknown } }).engine;
    const table = engine.tableOf(0);
    const events: HostSetChange[] = [];
    lb.on('update', (change) => events.push(change));
    const change = lb.update(hostsOf(2, (i) => (i === 1 ? { hostname: 'b.internal' } : {})));
    expect(lb.hosts[0]).toBe(first);
    expect(lb.hosts[1]).toBe(second);
    expect(first.hostname).toBeUndefined();
    expect(second.hostname).toBe('b.internal');
    expect(change.changed).toEqual([]);
    expect(events).toEqual([]);
    expect(engine.tableOf(0)).toBe(table);
  });

  it('does not rebuild a Maglev table when nothing it depends on changed', () => {
    const lb = createLoadBalancer('MAGLEV', hostsOf(5));
    const engine = (lb as unknown as { engine: { tableOf(p: number): unknown } }).engine;
    const table = engine.tableOf(0);
    lb.update(hostsOf(5, () => ({ metadata: { team: 'a' } }))); // metadata only
    expect(engine.tableOf(0)).toBe(table);
    lb.update(hostsOf(5, (i) => ({ weight: i === 0 ? 2 : 1 })));
    expect(engine.tableOf(0)).not.toBe(table);
  });

  it('keeps the round-robin position across an update that changes only metadata', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(4), { random: seeded(12) });
    const order = Array.from({ length: 4 }, () => lb.pick()?.key);
    lb.pick(); // position 1 of the rotation
    lb.update(hostsOf(4, () => ({ metadata: { v: '2' } })));
    expect(lb.pick()?.key).toBe(order[1]);
  });

  it('setHealth: an ejected host gets no traffic, and comes back', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(4));
    expect(lb.setHealth('10.0.0.2:8080', 'ejected')).toBe(true);
    for (let i = 0; i < 20; i++) expect(lb.pick()?.key).not.toBe('10.0.0.2:8080');
    lb.setHealth('10.0.0.2:8080', 'healthy');
    expect(new Set(Array.from({ length: 4 }, () => lb.pick()?.key)).size).toBe(4);
    expect(lb.setHealth('10.9.9.9:1', 'healthy')).toBe(false);
  });

  it('an ejection survives host set updates; the host set can still mark a host unhealthy', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(3));
    lb.setHealth('10.0.0.1:8080', 'ejected');
    lb.update(hostsOf(3)); // EDS says nothing about health: the ejection stands
    expect(lb.get('10.0.0.1:8080')?.health).toBe('ejected');
    lb.setHealth('10.0.0.1:8080', 'healthy');
    expect(lb.get('10.0.0.1:8080')?.health).toBe('healthy');
    lb.update(hostsOf(3, (i) => (i === 1 ? { health: 'unhealthy' } : {})));
    lb.setHealth('10.0.0.2:8080', 'healthy'); // health checks pass, but the host set says unhealthy
    expect(lb.get('10.0.0.2:8080')?.health).toBe('unhealthy');
    for (let i = 0; i < 10; i++) expect(lb.pick()?.key).not.toBe('10.0.0.2:8080');
  });

  it('eject/uneject (outlier detection) and setHealth (health checks) never clear each other', () => {
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(4));
    const key = '10.0.0.2:8080';
    expect(lb.eject(key)).toBe(true);
    expect(lb.get(key)?.health).toBe('ejected');
    for (let i = 0; i < 20; i++) expect(lb.pick()?.key).not.toBe(key);
    lb.setHealth(key, 'healthy'); // a passing health check does not end the ejection
    expect(lb.get(key)?.health).toBe('ejected');
    lb.update(hostsOf(4)); // nor does an EDS update
    expect(lb.get(key)?.health).toBe('ejected');
    lb.setHealth(key, 'unhealthy');
    lb.uneject(key); // the ejection ends; the failing health check still stands
    expect(lb.get(key)?.health).toBe('unhealthy');
    for (let i = 0; i < 20; i++) expect(lb.pick()?.key).not.toBe(key);
    lb.setHealth(key, 'healthy');
    expect(lb.get(key)?.health).toBe('healthy');
    expect(new Set(Array.from({ length: 4 }, () => lb.pick()?.key)).size).toBe(4);
    expect(lb.eject('10.9.9.9:1')).toBe(false);
    expect(lb.uneject('10.9.9.9:1')).toBe(false);
  });

  it('rejects bad input with a ConfigError and changes nothing', () => {
    expect(() => createLoadBalancer('WEIGHTED' as LoadBalancerPolicy, [])).toThrow(ConfigError);
    expect(() => createLoadBalancer('ROUND_ROBIN', [], { maglev: { tableSize: 7 } })).toThrow(
      /applies to MAGLEV/,
    );
    const lb = createLoadBalancer('ROUND_ROBIN', hostsOf(2));
    const bad = [
      [{ address: '', port: 1 }],
      [{ address: 'a', port: 70000 }],
      [{ address: 'a', port: 1, weight: 0 }],
      [{ address: 'a', port: 1, health: 'sick' }],
      [{ address: 'a', port: 1, priority: -1 }],
      [{ address: 'a', port: 1, hostname: '' }],
      [{ address: 'a', port: 1, hostname: 42 }],
      [
        { address: 'a', port: 1 },
        { address: 'a', port: 1 },
      ],
    ];
    for (const hosts of bad) expect(() => lb.update(hosts as never)).toThrow(ConfigError);
    expect(lb.hosts.map((h) => h.key)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
  });
});

describe('RANDOM', () => {
  it('weighted picks follow weights exactly in expectation (alias table)', () => {
    // A deterministic, evenly spread sequence of draws: the alias table's share per host is exact.
    const weights = [1, 7, 2, 10, 5];
    let k = 0;
    const lb = createLoadBalancer(
      'RANDOM',
      hostsOf(5, (i) => ({ weight: weights[i] as number })),
      {
        random: () => (k++ * 0.6180339887498949) % 1,
      },
    );
    const counts = new Map<string, number>();
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const key = lb.pick()?.key ?? '';
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    lb.hosts.forEach((h, i) => {
      expect(Math.abs((counts.get(h.key) ?? 0) / n - (weights[i] as number) / 25)).toBeLessThan(0.005);
    });
  });
});
