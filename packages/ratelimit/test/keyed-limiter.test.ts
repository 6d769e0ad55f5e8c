import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError, createKeyedLimiter } from '../src/index.ts';
import { ManualClock } from './helpers.ts';

const bucket = { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 };

describe('createKeyedLimiter', () => {
  it('keeps one bucket per key', () => {
    const limiter = createKeyedLimiter({ maxKeys: 10, ttlMs: 60_000, bucket, clock: new ManualClock() });
    expect(limiter.consume('a', 2).allowed).toBe(true);
    expect(limiter.consume('a').allowed).toBe(false);
    expect(limiter.consume('b').allowed).toBe(true);
    expect(limiter.size).toBe(2);
  });

  it('a flood of distinct keys stays within maxKeys; the evicted key comes back with a full bucket', () => {
    const limiter = createKeyedLimiter({ maxKeys: 100, ttlMs: 60_000, bucket, clock: new ManualClock() });
    expect(limiter.consume('victim', 2).allowed).toBe(true);
    expect(limiter.consume('victim').allowed).toBe(false);
    for (let i = 0; i < 10_000; i++) limiter.consume(`flood-${i}`);
    expect(limiter.size).toBe(100);
    expect(limiter.evictions).toBe(10_000 + 1 - 100);
    // The documented cost of eviction: the victim's state is gone, it starts full again.
    expect(limiter.consume('victim', 2).allowed).toBe(true);
  });

  it('a key used recently survives a flood smaller than the bound; the least recently used goes first', () => {
    const limiter = createKeyedLimiter({ maxKeys: 3, ttlMs: 60_000, bucket, clock: new ManualClock() });
    limiter.consume('a', 2);
    limiter.consume('b');
    limiter.consume('a'); // a is now the most recently used
    limiter.consume('c');
    limiter.consume('d'); // evicts b
    expect(limiter.consume('a').allowed).toBe(false); // a kept its empty bucket
    expect(limiter.consume('b', 2).allowed).toBe(true); // b was forgotten
  });

  it('forgets a key idle past ttlMs, on the injected clock', () => {
    const clock = new ManualClock();
    const limiter = createKeyedLimiter({
      maxKeys: 10,
      ttlMs: 5000,
      bucket: { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 100_000 },
      clock,
    });
    limiter.consume('a', 2);
    clock.advance(4000);
    expect(limiter.consume('a').allowed).toBe(false); // still known, and the use renews its TTL
    clock.advance(4000);
    expect(limiter.consume('a').allowed).toBe(false);
    clock.advance(6000);
    expect(limiter.consume('a', 2).allowed).toBe(true); // expired: a fresh bucket
  });

  it('a bad count throws and leaves no key behind', () => {
    const limiter = createKeyedLimiter({ maxKeys: 10, ttlMs: 1000, bucket, clock: new ManualClock() });
    expect(() => limiter.consume('a', -1)).toThrow(InvalidArgumentError);
    expect(limiter.size).toBe(0);
  });

  it('rejects bad options at creation', () => {
    expect(() => createKeyedLimiter({ maxKeys: 0, ttlMs: 1, bucket })).toThrow(ConfigError);
    expect(() => createKeyedLimiter({ maxKeys: 1, ttlMs: 0, bucket })).toThrow(ConfigError);
    expect(() =>
      createKeyedLimiter({ maxKeys: 1, ttlMs: 1, bucket: { maxTokens: 0, fillIntervalMs: 100 } }),
    ).toThrow(ConfigError);
  });
});
