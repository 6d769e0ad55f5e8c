import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLocalRateLimiter, durationMs } from '../src/index.ts';
import type { LocalRateLimitConfig, RateLimitDescriptor } from '../src/index.ts';
import { ManualClock } from './helpers.ts';

const ALL = { defaultValue: { numerator: 100 } } as const;
const d = (...pairs: [string, string][]): RateLimitDescriptor => ({
  entries: pairs.map(([key, value]) => ({ key, value })),
});

function limiter(config: Partial<LocalRateLimitConfig>, clock = new ManualClock()) {
  return createLocalRateLimiter({
    tokenBucket: { maxTokens: 3, tokensPerFill: 3, fillInterval: '1s' },
    filterEnabled: ALL,
    filterEnforced: ALL,
    clock,
    ...config,
  });
}

describe('createLocalRateLimiter: the default bucket', () => {
  it('admits maxTokens per fill interval, then limits', () => {
    const clock = new ManualClock();
    const l = limiter({}, clock);
    expect([1, 2, 3, 4].map(() => l.check().outcome)).toEqual(['ok', 'ok', 'ok', 'limited']);
    clock.advance(1000);
    expect(l.check()).toEqual({ outcome: 'ok', allowed: true, limit: 3, remaining: 2, resetSeconds: 1 });
    expect(l.stats).toEqual({ enabled: 5, enforced: 1, rateLimited: 1, ok: 4 });
  });

  it('is disabled by default (filterEnabled defaults to 0 %, as in Envoy)', () => {
    const l = createLocalRateLimiter({ tokenBucket: { maxTokens: 1, fillInterval: '1s' } });
    expect([1, 2, 3].map(() => l.check().outcome)).toEqual(['disabled', 'disabled', 'disabled']);
    expect(l.stats.enabled).toBe(0);
  });

  it('shadow mode: enabled but not enforced counts rate-limited requests and lets them through', () => {
    const l = limiter({ filterEnforced: { defaultValue: { numerator: 0 } } });
    l.check();
    l.check();
    l.check();
    const shadow = l.check();
    expect(shadow).toMatchObject({ outcome: 'shadow_limited', allowed: true, remaining: 0 });
    expect(l.stats).toEqual({ enabled: 4, enforced: 0, rateLimited: 1, ok: 3 });
  });

  it('draws the enabled and enforced fractions from the injected randomness', () => {
    const draws = [0.3, 0.6, 0.1, 0.9, 0.1, 0.1];
    const l = limiter({
      tokenBucket: { maxTokens: 1, fillInterval: '1s' },
      filterEnabled: { defaultValue: { numerator: 50 } },
      filterEnforced: { defaultValue: { numerator: 5000, denominator: 'TEN_THOUSAND' } },
      random: () => draws.shift() ?? 0,
    });
    expect(l.check().outcome).toBe('ok'); // 0.3 < 0.5: enabled, takes the only token
    expect(l.check().outcome).toBe('disabled'); // 0.6: not enabled
    expect(l.check().outcome).toBe('shadow_limited'); // 0.1 enabled, 0.9 not enforced
    expect(l.check().outcome).toBe('limited'); // 0.1 enabled, 0.1 enforced
  });
});

describe('createLocalRateLimiter: descriptors', () => {
  const descriptors = [
    { entries: [{ key: 'client', value: 'a' }], tokenBucket: { maxTokens: 1, fillInterval: '1s' } },
    {
      entries: [
        { key: 'client', value: 'a' },
        { key: 'path', value: '/x' },
      ],
      tokenBucket: { maxTokens: 2, fillInterval: '1s' },
    },
  ];

  it('matches a descriptor only on exactly its entries: no prefix, no subset, order and values count', () => {
    const l = limiter({ descriptors, tokenBucket: { maxTokens: 100, fillInterval: '1s' } });
    // Not matching: more entries, fewer entries of the two-entry one, other order, other value.
    for (const other of [
      d(['client', 'a'], ['path', '/y']),
      d(['path', '/x'], ['client', 'a']),
      d(['client', 'b']),
      d(['client', 'a'], ['path', '/x'], ['m', 'GET']),
    ]) {
      expect(l.check([other]).limit).toBe(100);
    }
    expect(l.check([d(['client', 'a'])])).toMatchObject({ outcome: 'ok', limit: 1, remaining: 0 });
    expect(l.check([d(['client', 'a'])])).toMatchObject({ outcome: 'limited', limit: 1 });
    expect(l.check([d(['client', 'a'], ['path', '/x'])])).toMatchObject({ outcome: 'ok', limit: 2 });
  });

  it('always_consume_default_token_bucket (default true) takes from the default bucket too', () => {
    const l = limiter({ descriptors, tokenBucket: { maxTokens: 2, fillInterval: '1s' } });
    const path = d(['client', 'a'], ['path', '/x']);
    expect(l.check([path]).outcome).toBe('ok');
    expect(l.check([path]).outcome).toBe('ok');
    // The default bucket (2) is empty now, though no request went without a descriptor.
    expect(l.check()).toMatchObject({ outcome: 'limited', limit: 2 });
  });

  it('with always_consume_default_token_bucket false, the default bucket is only for requests no descriptor matched', () => {
    const l = limiter({
      descriptors,
      tokenBucket: { maxTokens: 1, fillInterval: '1s' },
      alwaysConsumeDefaultTokenBucket: false,
    });
    const path = d(['client', 'a'], ['path', '/x']);
    expect(l.check([path]).outcome).toBe('ok');
    expect(l.check([path]).outcome).toBe('ok');
    expect(l.check([path]).outcome).toBe('limited');
    expect(l.check([d(['client', 'zzz'])]).outcome).toBe('ok');
    expect(l.check().outcome).toBe('limited');
  });

  it('several matching descriptors: the slowest-filling decides first, and the decision reports its bucket', () => {
    const clock = new ManualClock();
    const l = limiter(
      {
        tokenBucket: { maxTokens: 100, fillInterval: '1s' },
        descriptors: [
          {
            entries: [{ key: 'k', value: 'fast' }],
            tokenBucket: { maxTokens: 5, tokensPerFill: 5, fillInterval: '1s' },
          },
          {
            entries: [{ key: 'k', value: 'slow' }],
            tokenBucket: { maxTokens: 2, tokensPerFill: 1, fillInterval: '10s' },
          },
        ],
      },
      clock,
    );
    const both = [d(['k', 'fast']), d(['k', 'slow'])];
    expect(l.check(both)).toMatchObject({ outcome: 'ok', limit: 2, remaining: 1, resetSeconds: 10 });
    expect(l.check(both)).toMatchObject({ outcome: 'ok', limit: 2, remaining: 0 });
    expect(l.check(both)).toMatchObject({ outcome: 'limited', limit: 2, remaining: 0 });
    // The slow bucket refused before the fast one was touched: fast still has 3 of 5.
    expect(l.check([d(['k', 'fast'])])).toMatchObject({ outcome: 'ok', limit: 5, remaining: 2 });
  });

  it("refill: 'continuous' refills at the same average rate, without waiting for the interval", () => {
    const clock = new ManualClock();
    const l = limiter(
      { refill: 'continuous', tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillInterval: '1s' } },
      clock,
    );
    expect(l.check(undefined, 2).outcome).toBe('ok');
    clock.advance(500); // half an interval: one token back (the interval style would have none)
    expect(l.check().outcome).toBe('ok');
    expect(l.check().outcome).toBe('limited');
    expect(() => limiter({ refill: 'sometimes' as 'interval' })).toThrow(ConfigError);
  });

  it('a wildcard entry (empty value) gives each value its own bucket, the most recent maxDynamicDescriptors kept', () => {
    const l = limiter({
      tokenBucket: { maxTokens: 100, fillInterval: '1s' },
      maxDynamicDescriptors: 2,
      descriptors: [
        { entries: [{ key: 'user', value: '' }], tokenBucket: { maxTokens: 1, fillInterval: '60s' } },
        { entries: [{ key: 'user', value: 'admin' }], tokenBucket: { maxTokens: 3, fillInterval: '60s' } },
      ],
    });
    const user = (id: string) => [d(['user', id])];
    expect(l.check(user('alice'))).toMatchObject({ outcome: 'ok', limit: 1 });
    expect(l.check(user('alice')).outcome).toBe('limited');
    expect(l.check(user('bob')).outcome).toBe('ok'); // bob's own bucket
    // An exact descriptor wins over the wildcard.
    expect(l.check(user('admin'))).toMatchObject({ outcome: 'ok', limit: 3 });
    // Other keys or other lengths do not match the wildcard.
    expect(l.check([d(['team', 'x'])]).limit).toBe(100);
    expect(l.check([d(['user', 'alice'], ['path', '/'])]).limit).toBe(100);
    // A third value evicts the least recently used (alice), which then starts afresh.
    expect(l.check(user('carol')).outcome).toBe('ok');
    expect(l.check(user('alice')).outcome).toBe('ok');
  });

  it('hits take several tokens at once', () => {
    const l = limiter({});
    expect(l.check(undefined, 2)).toMatchObject({ outcome: 'ok', remaining: 1 });
    expect(l.check(undefined, 2).outcome).toBe('limited');
  });
});

describe('createLocalRateLimiter: descriptor matching, property', () => {
  // Small alphabets so that near misses (a prefix, a reordering, one other value) are common.
  const entry = fc.record({ key: fc.constantFrom('a', 'b', 'c'), value: fc.constantFrom('x', 'y') });
  const entries = fc.array(entry, { minLength: 1, maxLength: 3 });
  // The reference: equal as JSON (same entries, same order).
  const same = (p: readonly { key: string; value: string }[], q: readonly { key: string; value: string }[]) =>
    JSON.stringify(p.map((e) => [e.key, e.value])) === JSON.stringify(q.map((e) => [e.key, e.value]));

  it('a request descriptor uses the configured bucket with exactly its entries, else the default', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entries, { maxLength: 8, comparator: same }),
        entries,
        (configured, request) => {
          // Each descriptor's maxTokens is its index + 1: the decision's limit names the bucket.
          const l = limiter({
            tokenBucket: { maxTokens: 1000, fillInterval: '1s' },
            descriptors: configured.map((e, i) => ({
              entries: e,
              tokenBucket: { maxTokens: i + 1, fillInterval: '1s' },
            })),
          });
          const index = configured.findIndex((e) => same(e, request));
          expect(l.check([{ entries: request }]).limit).toBe(index < 0 ? 1000 : index + 1);
        },
      ),
    );
  });
});

describe('createLocalRateLimiter: x-ratelimit-* headers (draft 03)', () => {
  it('are off by default', () => {
    const l = limiter({});
    expect(l.headers(l.check())).toBeNull();
  });

  it('report the deciding bucket: limit, remaining, seconds to the next fill', () => {
    const clock = new ManualClock();
    const l = limiter(
      { enableXRatelimitHeaders: 'DRAFT_VERSION_03', tokenBucket: { maxTokens: 2, fillInterval: '60s' } },
      clock,
    );
    clock.advance(30_500);
    expect(l.headers(l.check())).toEqual({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '1',
      'x-ratelimit-reset': '30',
    });
    l.check();
    expect(l.headers(l.check())).toMatchObject({ 'x-ratelimit-remaining': '0' });
  });
});

describe('createLocalRateLimiter: config validation', () => {
  it('rejects a fill interval under 50 ms and malformed durations', () => {
    expect(() => limiter({ tokenBucket: { maxTokens: 1, fillInterval: '0.049s' } })).toThrow(/at least 50ms/);
    expect(() => limiter({ tokenBucket: { maxTokens: 1, fillInterval: '1 second' } })).toThrow(ConfigError);
    expect(() => limiter({ tokenBucket: { maxTokens: 0, fillInterval: '1s' } })).toThrow(ConfigError);
  });

  it('rejects bad descriptors and bad fractions', () => {
    expect(() =>
      limiter({ descriptors: [{ entries: [], tokenBucket: { maxTokens: 1, fillInterval: '1s' } }] }),
    ).toThrow(ConfigError);
    const one = { entries: [{ key: 'a', value: 'b' }], tokenBucket: { maxTokens: 1, fillInterval: '1s' } };
    expect(() => limiter({ descriptors: [one, one] })).toThrow(/duplicates/);
    expect(() =>
      limiter({ filterEnabled: { defaultValue: { numerator: 1, denominator: 'THOUSAND' as 'HUNDRED' } } }),
    ).toThrow(ConfigError);
    expect(() => limiter({ enableXRatelimitHeaders: 'DRAFT_VERSION_99' as 'OFF' })).toThrow(ConfigError);
  });

  it('parses protobuf durations', () => {
    expect(durationMs('d', '1.5s')).toBe(1500);
    expect(durationMs('d', { seconds: 1, nanos: 50_000_000 })).toBe(1050);
    expect(durationMs('d', 75)).toBe(75);
  });
});
