import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, TimerEntry, TimerWheel } from '@meshlet/breaker';
import { FakeTime } from '../../../test/support/fake-time.js';

describe('TimerWheel', () => {
  it('fires each entry once, in deadline order, within one tick after its deadline, never early', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.constantFrom(2, 8, 64),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 40 }),
        (tickMs, slots, delays, steps) => {
          const time = new FakeTime(123);
          const wheel = new TimerWheel({ tickMs, slots, clock: time, scheduler: time });
          const firedAt = new Map<number, number>();
          const order: number[] = [];
          delays.forEach((delay, i) => {
            wheel.schedule(
              new TimerEntry(() => {
                expect(firedAt.has(i)).toBe(false);
                firedAt.set(i, time.now());
                order.push(i);
              }),
              delay,
            );
          });
          for (const step of steps) time.advance(step);
          time.advance(5000 + tickMs * 2);
          delays.forEach((delay, i) => {
            const at = firedAt.get(i);
            expect(at).toBeDefined();
            const due = 123 + delay;
            expect(at as number).toBeGreaterThanOrEqual(due);
            // Late by at most a tick, plus the step granularity of the fake clock.
            expect(at as number).toBeLessThanOrEqual(Math.ceil(due / tickMs) * tickMs + tickMs);
          });
          // Entries firing in one sweep fire by deadline, ties in scheduling order.
          for (let k = 1; k < order.length; k++) {
            const prev = order[k - 1] as number;
            const cur = order[k] as number;
            if (firedAt.get(prev) === firedAt.get(cur)) {
              const [dp, dc] = [delays[prev] as number, delays[cur] as number];
              expect(dp < dc || (dp === dc && prev < cur)).toBe(true);
            }
          }
          expect(wheel.size).toBe(0);
          expect(time.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('cancels and reschedules in place, including from inside a callback', () => {
    const time = new FakeTime();
    const wheel = new TimerWheel({ tickMs: 10, clock: time, scheduler: time });
    const fired: string[] = [];
    const b = new TimerEntry(() => fired.push('b'));
    const a = new TimerEntry(() => {
      fired.push('a');
      wheel.cancel(b); // due in the same tick, not fired yet
      wheel.schedule(a, 100); // again, later
    });
    wheel.schedule(a, 50);
    wheel.schedule(b, 50);
    expect(wheel.size).toBe(2);
    time.advance(60);
    expect(fired).toEqual(['a']);
    expect(wheel.size).toBe(1);
    expect(a.scheduled).toBe(true);
    expect(wheel.cancel(a)).toBe(true);
    expect(wheel.cancel(a)).toBe(false);
    time.advance(1000);
    expect(fired).toEqual(['a']);
  });

  it('sets no timer while empty and one timer while entries wait', () => {
    const time = new FakeTime();
    const wheel = new TimerWheel({ tickMs: 10, clock: time, scheduler: time });
    expect(wheel.armed).toBe(false);
    const entries = Array.from({ length: 1000 }, () => new TimerEntry());
    for (const e of entries) wheel.schedule(e, 10_000);
    expect(time.pendingTimers).toBe(1);
    expect(time.timersSet).toBe(1);
    time.advance(10_010);
    expect(wheel.size).toBe(0);
    expect(wheel.armed).toBe(false);
    expect(time.pendingTimers).toBe(0);
  });

  it('rejects a bad resolution or slot count', () => {
    expect(() => new TimerWheel({ tickMs: 0 })).toThrow(ConfigError);
    expect(() => new TimerWheel({ slots: 100 })).toThrow(/power of two/);
  });

  it('works on the real clock and timers', async () => {
    const wheel = new TimerWheel({ tickMs: 5 });
    const started = performance.now();
    const at = await new Promise<number>((resolve) => {
      wheel.schedule(
        new TimerEntry(() => {
          resolve(performance.now());
        }),
        20,
      );
    });
    expect(at - started).toBeGreaterThanOrEqual(19);
  });
});
