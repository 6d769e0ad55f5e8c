import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, SlidingWindow } from '../src/index.ts';
import { ManualClock } from './helpers.ts';

describe('SlidingWindow (counter approximation)', () => {
  it('weights the previous window by the part the sliding window still covers', () => {
    const clock = new ManualClock(0);
    const w = new SlidingWindow({ limit: 10, windowMs: 1000, clock });
    for (let i = 0; i < 10; i++) expect(w.consume().allowed).toBe(true);
    expect(w.consume()).toEqual({ allowed: false, limit: 10, remaining: 0, resetAfterMs: 1000 });
    clock.advance(1250); // previous = 10, weight 0.75: estimate 7.5, room for 2
    expect(w.consume(2)).toMatchObject({ allowed: true, remaining: 0, resetAfterMs: 750 });
    expect(w.consume().allowed).toBe(false);
    clock.advance(250); // weight 0.5: 5 + 2 = 7
    expect(w.consume(3)).toMatchObject({ allowed: true, remaining: 0 });
    clock.advance(2000); // two windows later both counts are gone
    expect(w.consume(10).allowed).toBe(true);
  });

  it('never admits more than limit within one fixed window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 300 }), n: fc.integer({ min: 0, max: 4 }) }), {
          maxLength: 80,
        }),
        (ops) => {
          const clock = new ManualClock(0);
          const w = new SlidingWindow({ limit: 7, windowMs: 500, clock });
          const perWindow = new Map<number, number>();
          for (const { dt, n } of ops) {
            clock.advance(dt);
            if (!w.consume(n).allowed) continue;
            const k = Math.floor(clock.time / 500);
            perWindow.set(k, (perWindow.get(k) ?? 0) + n);
            // Two adjacent windows never admit more than 2 x limit, and one never more than limit.
            expect(perWindow.get(k)).toBeLessThanOrEqual(7);
          }
        },
      ),
    );
  });

  it('rejects bad options', () => {
    expect(() => new SlidingWindow({ limit: 0, windowMs: 10 })).toThrow(ConfigError);
    expect(() => new SlidingWindow({ limit: 1, windowMs: 0 })).toThrow(ConfigError);
  });
});
