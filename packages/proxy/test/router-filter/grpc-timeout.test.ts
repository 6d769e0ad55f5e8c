import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGrpcTimeout } from '../../src/router-filter/index.js';

describe('parseGrpcTimeout', () => {
  it('reads every unit, rounding up to milliseconds', () => {
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('2M')).toBe(120_000);
    expect(parseGrpcTimeout('10S')).toBe(10_000);
    expect(parseGrpcTimeout('100m')).toBe(100);
    expect(parseGrpcTimeout('1500u')).toBe(2);
    expect(parseGrpcTimeout('1n')).toBe(1);
    expect(parseGrpcTimeout('0m')).toBe(0);
  });

  it('ignores malformed values', () => {
    for (const bad of ['', '10', 'S', '123456789S', '1.5S', '10s', '-1S', ' 1S', undefined]) {
      expect(parseGrpcTimeout(bad)).toBeUndefined();
    }
    expect(parseGrpcTimeout(['1S', '2S'])).toBeUndefined();
  });

  it('never under-states a deadline', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.constantFrom('S', 'm', 'u', 'n'), (n, unit) => {
        const ms = parseGrpcTimeout(`${n}${unit}`) as number;
        const exact = n * { S: 1000, m: 1, u: 1e-3, n: 1e-6 }[unit];
        expect(ms).toBeGreaterThanOrEqual(exact - 1e-6);
        expect(ms - exact).toBeLessThan(1);
      }),
    );
  });
});
