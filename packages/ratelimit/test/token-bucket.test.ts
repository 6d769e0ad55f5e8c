import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError, TokenBucket } from '../src/index.ts';
import { ManualClock } from './helpers.ts';

describe('TokenBucket, interval refill (Envoy fill_interval)', () => {
  it('starts full, admits maxTokens, then refuses until the next fill', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 2, fillIntervalMs: 1000, clock });
    expect([1, 2, 3, 4].map(() => bucket.consume().allowed)).toEqual([true, true, true, false]);
    const denied = bucket.consume();
    expect(denied).toEqual({ allowed: false, limit: 3, remaining: 0, resetAfterMs: 1000 });
    clock.advance(999);
    expect(bucket.consume().allowed).toBe(false);
    clock.advance(1);
    expect(bucket.consume()).toEqual({ allowed: true, limit: 3, remaining: 1, resetAfterMs: 1000 });
  });

  it('adds tokensPerFill per elapsed interval, on a grid that a late check does not shift, capped at maxTokens', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 100, clock });
    expect(bucket.tryConsume(10)).toBe(true);
    clock.advance(250); // two fills (at 100 and 200); the next is at 300
    expect(bucket.available).toBe(4);
    expect(bucket.msUntilNextFill).toBe(50);
    clock.advance(50);
    expect(bucket.available).toBe(6);
    clock.advance(10_000);
    expect(bucket.available).toBe(10);
    expect(bucket.msUntilFull).toBe(0);
  });

  it('is all or nothing, and never admits more than maxTokens at once', () => {
    const bucket = new TokenBucket({ maxTokens: 5, fillIntervalMs: 100, clock: new ManualClock() });
    expect(bucket.consume(6).allowed).toBe(false);
    expect(bucket.available).toBe(5);
    expect(bucket.consume(0)).toMatchObject({ allowed: true, remaining: 5 });
    expect(bucket.consume(5)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('rejects a fill interval under 50 ms, as Envoy validates', () => {
    expect(() => new TokenBucket({ maxTokens: 1, fillIntervalMs: 49 })).toThrow(ConfigError);
    expect(() => new TokenBucket({ maxTokens: 1, fillIntervalMs: 50 })).not.toThrow();
  });

  it('rejects bad options and bad counts with typed errors', () => {
    expect(() => new TokenBucket({ maxTokens: 0, fillIntervalMs: 100 })).toThrow(/maxTokens/);
    expect(() => new TokenBucket({ maxTokens: 1.5, fillIntervalMs: 100 })).toThrow(ConfigError);
    expect(() => new TokenBucket({ maxTokens: 1, tokensPerFill: 0, fillIntervalMs: 100 })).toThrow(
      /tokensPerFill/,
    );
    expect(
      () => new TokenBucket({ maxTokens: 1, fillIntervalMs: 100, refill: 'sometimes' as 'interval' }),
    ).toThrow(/refill/);
    const bucket = new TokenBucket({ maxTokens: 1, fillIntervalMs: 100 });
    expect(() => bucket.consume(-1)).toThrow(InvalidArgumentError);
    expect(() => bucket.consume(Number.NaN)).toThrow(InvalidArgumentError);
  });
});

describe('TokenBucket, continuous refill', () => {
  it('refills at tokensPerFill / fillIntervalMs per millisecond, with any interval', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({
      maxTokens: 10,
      tokensPerFill: 1,
      fillIntervalMs: 10,
      refill: 'continuous',
      clock,
    });
    expect(bucket.tryConsume(10)).toBe(true);
    clock.advance(25);
    expect(bucket.available).toBe(2);
    const d = bucket.consume(3);
    expect(d.allowed).toBe(false);
    expect(d.resetAfterMs).toBeCloseTo(5); // 2.5 tokens held, 3 wanted, 0.1 per ms
    const ok = bucket.consume(2);
    expect(ok.allowed).toBe(true);
    expect(ok.resetAfterMs).toBeCloseTo(5); // 0.5 held: next whole token in 5 ms
    clock.advance(1_000);
    expect(bucket.consume(0).resetAfterMs).toBe(0);
  });
});

// The property the issue names: over any interval of time, a bucket never admits more than its
// capacity plus what it refilled in that interval.
const op = fc.record({ dt: fc.integer({ min: 0, max: 400 }), n: fc.integer({ min: 0, max: 6 }) });

function admittedWithin(
  log: readonly { t: number; n: number }[],
  bound: (from: number, to: number) => number,
): void {
  for (let i = 0; i < log.length; i++) {
    let admitted = 0;
    for (let j = i; j < log.length; j++) {
      admitted += (log[j] as { n: number }).n;
      const from = (log[i] as { t: number }).t;
      const to = (log[j] as { t: number }).t;
      expect(admitted).toBeLessThanOrEqual(bound(from, to) + 1e-9);
    }
  }
}

describe('TokenBucket properties', () => {
  it('interval: admitted in any [t1, t2] <= maxTokens + tokensPerFill x (fills in (t1, t2])', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 50, max: 300 }),
        fc.array(op, { maxLength: 60 }),
        (maxTokens, perFill, interval, ops) => {
          const clock = new ManualClock(0);
          const bucket = new TokenBucket({
            maxTokens,
            tokensPerFill: perFill,
            fillIntervalMs: interval,
            clock,
          });
          const log: { t: number; n: number }[] = [];
          for (const { dt, n } of ops) {
            clock.advance(dt);
            if (bucket.consume(n).allowed) log.push({ t: clock.time, n });
          }
          const fills = (t: number): number => Math.floor(t / interval);
          admittedWithin(log, (from, to) => maxTokens + perFill * (fills(to) - fills(from)));
        },
      ),
    );
  });

  it('continuous: admitted in any [t1, t2] <= maxTokens + rate x (t2 - t1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(op, { maxLength: 60 }),
        (maxTokens, perFill, interval, ops) => {
          const clock = new ManualClock(0);
          const bucket = new TokenBucket({
            maxTokens,
            tokensPerFill: perFill,
            fillIntervalMs: interval,
            refill: 'continuous',
            clock,
          });
          const log: { t: number; n: number }[] = [];
          for (const { dt, n } of ops) {
            clock.advance(dt);
            if (bucket.consume(n).allowed) log.push({ t: clock.time, n });
          }
          admittedWithin(log, (from, to) => maxTokens + (perFill / interval) * (to - from));
        },
      ),
    );
  });

  it('remaining and the decision agree with what a later request can take', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const clock = new ManualClock(0);
        const bucket = new TokenBucket({ maxTokens: 5, tokensPerFill: 2, fillIntervalMs: 100, clock });
        for (const { dt, n } of ops) {
          clock.advance(dt);
          const d = bucket.consume(n);
          expect(d.remaining).toBeGreaterThanOrEqual(0);
          expect(d.remaining).toBeLessThanOrEqual(5);
          expect(bucket.consume(d.remaining).allowed).toBe(true);
          expect(bucket.available).toBe(0);
        }
      }),
    );
  });
});
