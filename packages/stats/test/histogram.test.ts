import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Float64Histogram } from 'hdr-histogram-js';
import { FastIndexHistogram, unitRanges } from '../src/histogram.js';
import { createStatsStore, envoyBuckets } from '../src/index.js';

describe('Histogram', () => {
  it('reports percentiles of 1..10000 ms within HDR precision (1%)', () => {
    const h = createStatsStore().histogram('rq_time', 'milliseconds');
    for (let v = 1; v <= 10_000; v++) h.record(v);
    expect(h.count).toBe(10_000);
    expect(h.sum).toBe(50_005_000);
    const expected: [number, number][] = [
      [50, 5000],
      [90, 9000],
      [99, 9900],
      [99.9, 9990],
      [100, 10_000],
    ];
    for (const [p, value] of expected) {
      expect(Math.abs(h.percentile(p) - value) / value, `p${p} = ${h.percentile(p)}`).toBeLessThanOrEqual(
        0.01,
      );
    }
    expect(h.percentile(100)).toBe(10_000);
  });

  it('keeps sub-millisecond precision', () => {
    const h = createStatsStore().histogram('rq_time', 'milliseconds');
    for (let i = 0; i < 100; i++) h.record(0.25);
    h.record(0.75);
    expect(h.percentile(50)).toBeCloseTo(0.25, 2);
    expect(h.percentile(100)).toBeCloseTo(0.75, 2);
  });

  it('clamps negative and NaN values to 0 and huge ones to the range', () => {
    const h = createStatsStore().histogram('h', 'milliseconds');
    h.record(-5);
    h.record(Number.NaN);
    h.record(1e15);
    expect(h.count).toBe(3);
    expect(h.percentile(0)).toBe(0);
    expect(h.percentile(50)).toBe(0);
    expect(h.percentile(100)).toBe(86_400_000);
    expect(h.sum).toBe(86_400_000);
  });

  it('is empty before the first record', () => {
    const h = createStatsStore().histogram('h');
    expect(h.count).toBe(0);
    expect(h.sum).toBe(0);
    expect(h.percentile(50)).toBeNaN();
    expect(h.buckets([1, 2])).toEqual([0, 0]);
    expect(() => h.percentile(101)).toThrow(/0..100/);
  });

  it('counts bucket bounds inclusively (le) and cumulatively', () => {
    const h = createStatsStore().histogram('h', 'milliseconds');
    for (const v of [0.2, 0.5, 0.7, 1, 3, 5, 10, 11, 100_000]) h.record(v);
    expect(h.buckets([0.5, 1, 5, 10, 25])).toEqual([2, 4, 6, 7, 8]);
    expect(() => h.buckets([5, 1])).toThrow(/increasing/);
  });

  it('bucket counts are cumulative, monotone and agree with the values within 1%', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 4_000_000, noNaN: true }), { maxLength: 200 }),
        (values) => {
          const h = createStatsStore().histogram('h', 'milliseconds');
          for (const v of values) h.record(v);
          const counts = h.buckets(envoyBuckets);
          for (let i = 0; i < counts.length; i++) {
            if (i > 0) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] as number);
            const bound = envoyBuckets[i] as number;
            // Exact below the bound's HDR bucket, exact above it: only values within 1% are unsure.
            const surelyIn = values.filter((v) => v <= bound * 0.99).length;
            const maybeIn = values.filter((v) => v <= bound * 1.01).length;
            expect(counts[i]).toBeGreaterThanOrEqual(surelyIn);
            expect(counts[i]).toBeLessThanOrEqual(maybeIn);
          }
          expect(counts[counts.length - 1]).toBeLessThanOrEqual(h.count);
          expect(h.count).toBe(values.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps each unit with its precision: bytes exactly at small sizes', () => {
    const h = createStatsStore().histogram('size', 'bytes');
    for (const v of [1, 2, 3, 100]) h.record(v);
    expect(h.percentile(0)).toBe(1);
    expect(h.percentile(100)).toBe(100);
    expect(h.unit).toBe('bytes');
  });

  it("FastIndexHistogram's bit-twiddled counts index equals hdr-histogram-js' own, for every digit count", () => {
    const maxTicks = Math.max(...Object.values(unitRanges).map((r) => r.max * r.scale));
    for (const digits of [1, 2, 3, 4, 5] as const) {
      const fast = new FastIndexHistogram(1, maxTicks, digits);
      const original = new Float64Histogram(1, maxTicks, digits);
      const check = (v: number): void => {
        expect(fast.countsArrayIndex(v), `value ${v}, ${digits} digits`).toBe(original.countsArrayIndex(v));
      };
      // Every power of two and its neighbours, where bucket boundaries are.
      for (let e = 0; 2 ** e <= maxTicks; e++) for (const v of [2 ** e - 1, 2 ** e, 2 ** e + 1]) check(v);
      fc.assert(
        fc.property(fc.oneof(fc.nat({ max: 1_000_000 }), fc.integer({ min: 0, max: maxTicks })), (v) => {
          check(v);
        }),
        { numRuns: 300 },
      );
      // Not an integer: the original handles it.
      expect(fast.countsArrayIndex(1.5)).toBe(original.countsArrayIndex(1.5));
    }
  });
});
