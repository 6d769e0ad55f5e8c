import { describe, expect, it } from 'vitest';
import { CachedClock, TokenBucket, systemClock } from '../src/index.ts';

describe('CachedClock', () => {
  it('returns the time of the last update, never going backwards', () => {
    const clock = new CachedClock(100);
    expect(clock.now()).toBe(100);
    expect(clock.update(250)).toBe(250);
    expect(clock.update(200)).toBe(250);
    expect(clock.now()).toBe(250);
    const before = systemClock.now();
    clock.update();
    expect(clock.now()).toBeGreaterThanOrEqual(before);
  });

  it('drives a bucket: refills happen at updates, not between them', () => {
    const clock = new CachedClock(0);
    const bucket = new TokenBucket({ maxTokens: 1, fillIntervalMs: 100, clock });
    expect(bucket.tryConsume()).toBe(true);
    expect(bucket.tryConsume()).toBe(false);
    clock.update(100);
    expect(bucket.tryConsume()).toBe(true);
  });
});
