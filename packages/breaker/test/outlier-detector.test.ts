import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, OutlierDetector, TimerWheel } from '@meshlet/breaker';
import type { EjectReason, OutlierDetectorOptions } from '@meshlet/breaker';
import { FakeTime } from '../../../test/support/fake-time.js';

interface Host {
  readonly name: string;
  healthy: boolean;
}

function setup(options: OutlierDetectorOptions<Host> = {}, hosts = 10) {
  const time = new FakeTime();
  const wheel = new TimerWheel({ tickMs: 10, clock: time, scheduler: time });
  const log: string[] = [];
  const detector = new OutlierDetector<Host>({
    wheel,
    target: {
      eject: (h, reason) => {
        h.healthy = false;
        log.push(`eject ${h.name} ${reason}`);
      },
      uneject: (h) => {
        h.healthy = true;
        log.push(`uneject ${h.name}`);
      },
    },
    ...options,
  });
  const list = Array.from({ length: hosts }, (_, i) => ({ name: `h${i}`, healthy: true }));
  const monitors = list.map((h) => detector.addHost(h));
  return { time, detector, hosts: list, monitors, log };
}

/** The i-th element, which the test knows exists. */
function at<T>(list: readonly T[], i: number): T {
  return list[i] as T;
}

function report(
  monitor: { reportHttpStatus(s: number): void },
  ok: number,
  failed: number,
  status = 500,
): void {
  for (let i = 0; i < ok; i++) monitor.reportHttpStatus(200);
  for (let i = 0; i < failed; i++) monitor.reportHttpStatus(status);
}

describe("OutlierDetector: Envoy's defaults", () => {
  it('ejects on 5 consecutive 5xx at once; a success in between resets the run; 4xx is a success', () => {
    const { detector, monitors, hosts, log } = setup();
    const m = at(monitors, 0);
    report(m, 0, 4);
    m.reportHttpStatus(404);
    report(m, 0, 4);
    expect(at(hosts, 0).healthy).toBe(true);
    m.reportHttpStatus(500);
    expect(at(hosts, 0).healthy).toBe(false);
    expect(log).toEqual(['eject h0 consecutive-5xx']);
    expect(detector.isEjected(at(hosts, 0))).toBe(true);
    expect(detector.stats()).toMatchObject({ ejectionsActive: 1, ejectionsEnforcedTotal: 1 });
  });

  it('detects consecutive gateway failures but does not enforce them (0 %) unless asked', () => {
    const seen: [string, EjectReason, boolean][] = [];
    const { detector, monitors } = setup({ consecutive5xx: 0 });
    detector.on('detected', (h, reason, ejected) => seen.push([h.name, reason, ejected]));
    report(at(monitors, 0), 0, 5, 503);
    expect(seen).toEqual([['h0', 'consecutive-gateway-failure', false]]);
    expect(detector.stats().detected['consecutive-gateway-failure']).toBe(1);
    expect(detector.stats().ejectionsActive).toBe(0);

    const enforced = setup({ consecutive5xx: 0, enforcingConsecutiveGatewayFailure: 100 });
    report(at(enforced.monitors, 1), 0, 4, 502);
    at(enforced.monitors, 1).reportHttpStatus(500); // a non-gateway 5xx breaks the gateway run
    report(at(enforced.monitors, 1), 0, 4, 504);
    expect(enforced.log).toEqual([]);
    at(enforced.monitors, 1).reportHttpStatus(503);
    expect(enforced.log).toEqual(['eject h1 consecutive-gateway-failure']);
  });

  it('maps local-origin errors to 503/504 unless split; split, they have their own consecutive count', () => {
    const { monitors, log } = setup({ enforcingConsecutiveGatewayFailure: 100, consecutive5xx: 0 });
    for (let i = 0; i < 3; i++) at(monitors, 0).reportLocalOrigin('connect-failed');
    at(monitors, 0).reportLocalOrigin('connect-success'); // not a final result: no reset
    at(monitors, 0).reportLocalOrigin('timeout');
    at(monitors, 0).reportLocalOrigin('timeout');
    expect(log).toEqual(['eject h0 consecutive-gateway-failure']);

    const split = setup({ splitExternalLocalOriginErrors: true });
    for (let i = 0; i < 4; i++) at(split.monitors, 0).reportLocalOrigin('connect-failed');
    report(at(split.monitors, 0), 0, 4); // 5xx are counted apart
    expect(split.log).toEqual([]);
    at(split.monitors, 0).reportLocalOrigin('timeout');
    expect(split.log).toEqual(['eject h0 consecutive-local-origin-failure']);
  });

  it('keeps at most max_ejection_percent of hosts out, counting the one to eject; one always with alwaysEjectOneHost', () => {
    const ten = setup(); // 10 % of 10 hosts: 1
    report(at(ten.monitors, 0), 0, 5);
    report(at(ten.monitors, 1), 0, 5);
    expect(ten.log).toEqual(['eject h0 consecutive-5xx']);
    expect(ten.detector.stats().ejectionsOverflow).toBe(1);

    const three = setup({}, 3); // one of 3 hosts is 33 % > 10 %: none (Envoy's default)
    report(at(three.monitors, 2), 0, 5);
    expect(three.log).toEqual([]);
    expect(three.detector.stats()).toMatchObject({ ejectionsOverflow: 1, ejectionsActive: 0 });
    const one = setup({ alwaysEjectOneHost: true }, 3);
    report(at(one.monitors, 2), 0, 5);
    report(at(one.monitors, 1), 0, 5);
    expect(one.log).toEqual(['eject h2 consecutive-5xx']);

    // No room is an overflow even when enforcement would have said no.
    const noRoom = setup({ maxEjectionPercent: 0, enforcingConsecutive5xx: 0 }, 3);
    report(at(noRoom.monitors, 0), 0, 5);
    expect(noRoom.detector.stats().ejectionsOverflow).toBe(1);

    const half = setup({ maxEjectionPercent: 50 }, 4);
    for (const m of half.monitors) report(m, 0, 5);
    expect(half.detector.stats().ejectionsActive).toBe(2);
  });

  it('ejects for base × times ejected, capped by the max time; un-ejects on the interval; the multiplier decays', () => {
    const { time, monitors, log, detector } = setup(); // interval 10 s, base 30 s
    const m = at(monitors, 0);
    time.advance(1000);
    report(m, 0, 5); // ejected at t = 1 s, multiplier 1
    time.advance(29_000); // t = 30 s: 29 s out
    expect(m.ejected).toBe(true);
    time.advance(10_000); // interval at t = 40 s: 39 s >= 30 s
    expect(log).toEqual(['eject h0 consecutive-5xx', 'uneject h0']);
    expect(m.ejections).toBe(1);
    time.advance(500);
    report(m, 0, 5); // ejected again before the multiplier decayed: 2 × 30 s
    expect(m.ejections).toBe(2);
    time.advance(59_500); // t = 100 s: 59.5 s out
    expect(m.ejected).toBe(true);
    time.advance(10_000); // t = 110 s
    expect(m.ejected).toBe(false);
    report(m, 0, 4); // the run was reset on un-ejection: 4 more errors do not eject
    expect(m.ejected).toBe(false);
    m.reportHttpStatus(200);
    time.advance(20_000); // two clean intervals: 2 -> 0
    expect(m.ejections).toBe(0);
    expect(detector.stats().intervals).toBe(13);

    const capped = setup({ baseEjectionTimeMs: 100, maxEjectionTimeMs: 250, intervalMs: 10 });
    const c = at(capped.monitors, 0);
    const outFor: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = capped.time.now();
      report(c, 0, 5);
      while (c.ejected) capped.time.advance(10);
      outFor.push(capped.time.now() - start);
    }
    // 100, 200, then min(300, 250) and again 250: base × multiplier is capped by the max.
    expect(outFor.map((d) => Math.ceil(d / 10) * 10)).toEqual([100, 200, 250, 250]);
  });
});

describe('OutlierDetector: success rate (gRFC A50 steps)', () => {
  const base = { consecutive5xx: 0, maxEjectionPercent: 100 } as const;

  it('ejects a host below mean − 1.9 × stdev, computed over hosts with enough volume', () => {
    // Success rates 100, 100, 100, 100, 50 over 100 requests each:
    // mean 90, stdev sqrt((4 × 10² + 40²) / 5) = 20, threshold 90 − 1.9 × 20 = 52: 50 is out.
    const { time, monitors, log } = setup(base, 6);
    for (let i = 0; i < 4; i++) report(at(monitors, i), 100, 0);
    report(at(monitors, 4), 50, 50);
    report(at(monitors, 5), 0, 99); // under the request volume: not part of the statistics
    time.advance(10_000);
    expect(log).toEqual(['eject h4 success-rate']);
  });

  it('does not eject when the factor puts the threshold below the host (factor 3000)', () => {
    // threshold 90 − 3 × 20 = 30 < 50
    const { time, monitors, log, detector } = setup({ ...base, successRateStdevFactor: 3000 }, 5);
    for (let i = 0; i < 4; i++) report(at(monitors, i), 100, 0);
    report(at(monitors, 4), 50, 50);
    time.advance(10_000);
    expect(log).toEqual([]);
    expect(detector.stats().detected['success-rate']).toBe(0);
  });

  it('skips the algorithm with fewer than successRateMinimumHosts hosts of enough volume', () => {
    const { time, monitors, log } = setup(base, 5);
    for (let i = 0; i < 3; i++) report(at(monitors, i), 100, 0);
    report(at(monitors, 3), 10, 90);
    report(at(monitors, 4), 99, 0); // 99 < 100 requests
    time.advance(10_000);
    expect(log).toEqual([]);
  });

  it('uses only the last interval: counts are swapped on each sweep', () => {
    const { time, monitors, log } = setup(base, 5);
    for (let i = 0; i < 4; i++) report(at(monitors, i), 100, 0);
    time.advance(10_000); // interval 1: all fine
    report(at(monitors, 4), 50, 50); // interval 2: h4 has traffic, the others none
    time.advance(10_000);
    expect(log).toEqual([]); // one host with volume < 5
  });

  it('draws the enforcement percentage from the injected random source', () => {
    for (const [draw, ejected] of [
      [0.49, true],
      [0.5, false],
    ] as const) {
      const { time, monitors, log } = setup({ ...base, enforcingSuccessRate: 50, random: () => draw }, 5);
      for (let i = 0; i < 4; i++) report(at(monitors, i), 100, 0);
      report(at(monitors, 4), 50, 50);
      time.advance(10_000);
      expect(log.length).toBe(ejected ? 1 : 0);
    }
  });
});

describe('OutlierDetector: failure percentage', () => {
  it('detects at or above the threshold; enforcement defaults to 0 %', () => {
    const { time, monitors, log, detector } = setup({ consecutive5xx: 0, maxEjectionPercent: 100 }, 5);
    report(at(monitors, 0), 15, 85); // 85 % failed
    time.advance(10_000);
    expect(log).toEqual([]);
    expect(detector.stats()).toMatchObject({ ejectionsOverflow: 0, ejectionsActive: 0 });
    expect(detector.stats().detected['failure-percentage']).toBe(1);
  });

  it('ejects at 85 % and not at 84 %, with min hosts and request volume', () => {
    const opts = {
      consecutive5xx: 0,
      enforcingFailurePercentage: 100,
      enforcingSuccessRate: 0,
      maxEjectionPercent: 100,
    };
    const { time, monitors, log } = setup(opts, 5);
    report(at(monitors, 0), 15, 85);
    report(at(monitors, 1), 16, 84);
    report(at(monitors, 2), 0, 49); // under 50 requests
    time.advance(10_000);
    expect(log).toEqual(['eject h0 failure-percentage']);

    const few = setup(opts, 4); // fewer hosts than failurePercentageMinimumHosts (5)
    report(at(few.monitors, 0), 0, 100);
    few.time.advance(10_000);
    expect(few.log).toEqual([]);
  });

  it('runs on local-origin counts too when split', () => {
    const { time, monitors, log } = setup(
      {
        splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 0,
        enforcingFailurePercentageLocalOrigin: 100,
        maxEjectionPercent: 100,
      },
      5,
    );
    for (let i = 0; i < 60; i++)
      at(monitors, 0).reportLocalOrigin(i < 55 ? 'connect-failed' : 'connect-success');
    time.advance(10_000);
    expect(log).toEqual(['eject h0 failure-percentage-local-origin']);
  });
});

describe('OutlierDetector: hosts and config', () => {
  it('sweeps every interval on the wheel without drifting, until closed', () => {
    const { time, detector } = setup({ intervalMs: 1001 });
    for (let i = 0; i < 100; i++) time.advance(1001);
    expect(detector.stats().intervals).toBe(100); // a tick late each time would lose some
    detector.close();
    time.advance(10_000);
    expect(detector.stats().intervals).toBe(100);
  });

  it('adds the drawn jitter to the ejection time; unejectHost returns a host at once', () => {
    const { time, monitors, hosts, detector, log } = setup({
      intervalMs: 10,
      baseEjectionTimeMs: 100,
      maxEjectionTimeJitterMs: 50,
      maxEjectionPercent: 100,
      random: () => 0.5, // jitter floor(0.5 × 51) = 25 ms
    });
    report(at(monitors, 0), 0, 5);
    time.advance(120);
    expect(at(monitors, 0).ejected).toBe(true); // 100 ms + 25 ms not yet over
    time.advance(10);
    expect(at(monitors, 0).ejected).toBe(false);
    report(at(monitors, 1), 0, 5);
    expect(detector.unejectHost(at(hosts, 1))).toBe(true);
    expect(detector.unejectHost(at(hosts, 1))).toBe(false);
    expect(log.at(-1)).toBe('uneject h1');
  });

  it('forgets removed hosts and their ejections', () => {
    const { detector, hosts, monitors } = setup();
    report(at(monitors, 0), 0, 5);
    expect(detector.removeHost(at(hosts, 0))).toBe(true);
    expect(detector.stats()).toMatchObject({ hosts: 9, ejectionsActive: 0 });
    report(at(monitors, 0), 0, 5); // a stale monitor is inert
    expect(detector.removeHost(at(hosts, 0))).toBe(false);
    expect(detector.addHost(at(hosts, 1))).toBe(monitors[1]);
  });

  it('never has more hosts out than floor(percent × hosts), or one with alwaysEjectOneHost (random traffic)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 100 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(200, 500, 503, -1)), { maxLength: 400 }),
        (n, percent, always, traffic) => {
          const { time, detector, monitors } = setup(
            { maxEjectionPercent: percent, alwaysEjectOneHost: always, consecutive5xx: 2, intervalMs: 1000 },
            n,
          );
          for (const [pick, status] of traffic) {
            if (status === -1) time.advance(700);
            else at(monitors, pick % n).reportHttpStatus(status);
            const out = monitors.filter((m) => m.ejected).length;
            expect(out).toBe(detector.stats().ejectionsActive);
            const cap = Math.floor((percent * n) / 100);
            expect(out).toBeLessThanOrEqual(always ? Math.max(1, cap) : cap);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects bad options', () => {
    expect(() => new OutlierDetector({ maxEjectionPercent: 101 })).toThrow(ConfigError);
    expect(() => new OutlierDetector({ intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => new OutlierDetector({ interval: 10 } as OutlierDetectorOptions<string>)).toThrow(
      /unknown option interval/,
    );
    expect(() => new OutlierDetector({ baseEjectionTimeMs: 1000, maxEjectionTimeMs: 999 })).toThrow(
      /cannot be smaller/,
    );
    expect(() => new OutlierDetector({ target: {} as never })).toThrow(/target/);
    const d = new OutlierDetector();
    expect(() => {
      d.addHost('a').reportLocalOrigin('nope' as 'timeout');
    }).toThrow(/unknown result/);
    d.close();
  });
});
