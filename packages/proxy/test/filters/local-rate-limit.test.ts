import { ConfigError } from '@meshlet/errors';
import type { LocalRateLimitConfig } from '@meshlet/xds';
import { describe, expect, it } from 'vitest';
import {
  LOCAL_RATE_LIMIT_DESCRIPTORS,
  MAX_CONNECTION_LIMITERS,
  localRateLimitFilter,
} from '../../src/filters/index.js';
import { TestContext, TestEnv, connection, run, stage } from './context.js';

const all = { numerator: 100, denominator: 100 } as const;
const base: LocalRateLimitConfig = {
  type: 'local_rate_limit',
  statPrefix: 'http_local_rate_limiter',
  tokenBucket: { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 },
  filterEnabled: all,
  filterEnforced: all,
  status: 429,
  responseHeadersToAdd: [],
  descriptors: [],
  localRateLimitPerDownstreamConnection: false,
  enableXRatelimitHeaders: 'OFF',
};

function setup(config: Partial<LocalRateLimitConfig> & Record<string, unknown>, randoms: number[] = []) {
  const env = new TestEnv('envoy.filters.http.local_ratelimit');
  env.randoms = randoms;
  const s = stage(localRateLimitFilter, { ...base, ...config }, env);
  return { env, s, stats: s.config.stats };
}

async function statuses(
  s: ReturnType<typeof setup>['s'],
  n: number,
  make = () => new TestContext(),
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await run(make(), [s])).response?.status ?? 0);
  return out;
}

describe('local rate limit filter', () => {
  it('admits maxTokens requests, then replies 429 with x-envoy-ratelimited and the RL flag', async () => {
    const { s, stats } = setup({});
    expect(await statuses(s, 2)).toEqual([200, 200]);
    const limited = await run(new TestContext(), [s]);
    expect(limited.response?.status).toBe(429);
    expect(limited.replyBody).toBe('local_rate_limited');
    expect(limited.response?.headers['x-envoy-ratelimited']).toBe('true');
    expect(limited.info.responseFlags.has('RL')).toBe(true);
    expect(limited.info.responseCodeDetails).toBe('local_rate_limited');
    expect(stats).toEqual({ enabled: 3, ok: 2, rateLimited: 1, enforced: 1 });
  });

  it('refills tokensPerFill every fillInterval of the injected clock', async () => {
    const { s, env } = setup({});
    expect(await statuses(s, 3)).toEqual([200, 200, 429]);
    env.time = 999;
    expect(await statuses(s, 1)).toEqual([429]);
    env.time = 1000;
    expect(await statuses(s, 2)).toEqual([200, 429]);
    env.time = 5000;
    expect(await statuses(s, 3)).toEqual([200, 200, 429]);
  });

  it('filterEnabled absent: the filter does nothing (Envoy default 0 %)', async () => {
    const { filterEnabled: _e, ...rest } = base;
    const env = new TestEnv();
    const s = stage(localRateLimitFilter, rest, env);
    expect(await statuses(s, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(s.config.stats.enabled).toBe(0);
  });

  it('filterEnforced absent: shadow mode, counted but let through', async () => {
    const { filterEnforced: _e, ...rest } = base;
    const s = stage(localRateLimitFilter, rest, new TestEnv());
    expect(await statuses(s, 4)).toEqual([200, 200, 200, 200]);
    expect(s.config.stats).toEqual({ enabled: 4, ok: 2, rateLimited: 2, enforced: 0 });
  });

  it('filterEnabled and filterEnforced shares draw from the injected randomness', async () => {
    // enabled 50 %: draws 0.4 (in), 0.6 (out); enforced 50 %: the over-limit check draws 0.2 (in), 0.7 (out).
    const { s, stats } = setup(
      {
        tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
        filterEnabled: { numerator: 50, denominator: 100 },
        filterEnforced: { numerator: 50, denominator: 100 },
      },
      [0.4, 0.6, 0.4, 0.2, 0.4, 0.7],
    );
    expect(await statuses(s, 4)).toEqual([200, 200, 429, 200]);
    expect(stats).toEqual({ enabled: 3, ok: 1, rateLimited: 2, enforced: 1 });
  });

  it('a configured status is used; one below 400 becomes 429 as in Envoy', async () => {
    const a = setup({ status: 503, tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 } });
    expect(await statuses(a.s, 2)).toEqual([200, 503]);
    const b = setup({ status: 302, tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 } });
    expect(await statuses(b.s, 2)).toEqual([200, 429]);
  });

  it('responseHeadersToAdd go on the local reply with their append actions', async () => {
    const { s } = setup({
      tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
      responseHeadersToAdd: [
        {
          header: { key: 'x-local-rate-limit', value: 'true' },
          appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
          keepEmptyValue: false,
        },
        {
          header: { key: 'x-envoy-ratelimited', value: 'yes' },
          appendAction: 'ADD_IF_ABSENT',
          keepEmptyValue: false,
        },
      ],
    });
    await run(new TestContext(), [s]);
    const limited = await run(new TestContext(), [s]);
    expect(limited.response?.headers['x-local-rate-limit']).toBe('true');
    expect(limited.response?.headers['x-envoy-ratelimited']).toBe('true');
  });

  it('x-ratelimit-* headers (draft 03) on every response when enabled, none by default', async () => {
    const plain = setup({});
    const ok = await run(new TestContext(), [plain.s]);
    expect(ok.response?.headers['x-ratelimit-limit']).toBeUndefined();

    const { s, env } = setup({ enableXRatelimitHeaders: 'DRAFT_VERSION_03' });
    env.time = 200;
    const first = await run(new TestContext(), [s]);
    expect(first.response?.headers).toMatchObject({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '1',
      'x-ratelimit-reset': '1',
    });
    await run(new TestContext(), [s]);
    const limited = await run(new TestContext(), [s]);
    expect(limited.response?.status).toBe(429);
    expect(limited.response?.headers).toMatchObject({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '0',
    });
  });

  it('per downstream connection: each connection has its own bucket', async () => {
    const { s } = setup({ localRateLimitPerDownstreamConnection: true });
    const a = connection();
    const b = connection();
    const on = (c: typeof a) => () => new TestContext({ connection: c });
    expect(await statuses(s, 3, on(a))).toEqual([200, 200, 429]);
    expect(await statuses(s, 3, on(b))).toEqual([200, 200, 429]);
    expect(await statuses(s, 1, on(a))).toEqual([429]);
  });

  it('per-connection buckets are bounded: the least recently used connection is forgotten', async () => {
    const { s } = setup({
      localRateLimitPerDownstreamConnection: true,
      tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
    });
    const first = connection();
    expect(await statuses(s, 2, () => new TestContext({ connection: first }))).toEqual([200, 429]);
    for (let i = 0; i < MAX_CONNECTION_LIMITERS; i++) {
      void s.filter.onRequest?.(new TestContext({ connection: { id: 1e9 + i } }), s.config);
    }
    expect(s.config.perConnection?.size).toBe(MAX_CONNECTION_LIMITERS);
    // Evicted: a fresh bucket.
    expect(await statuses(s, 1, () => new TestContext({ connection: first }))).toEqual([200]);
    s.filter.destroy?.(s.config);
    expect(s.config.perConnection?.size).toBe(0);
  });

  it('descriptors put in ctx.state by an earlier filter use their own buckets', async () => {
    const { s } = setup({
      tokenBucket: { maxTokens: 100, tokensPerFill: 100, fillIntervalMs: 1000 },
      descriptors: [
        {
          entries: [{ key: 'client', value: 'batch' }],
          tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 },
        },
      ],
    });
    const batch = () => {
      const ctx = new TestContext();
      ctx.state.set(LOCAL_RATE_LIMIT_DESCRIPTORS, [{ entries: [{ key: 'client', value: 'batch' }] }]);
      return ctx;
    };
    expect(await statuses(s, 2, batch)).toEqual([200, 429]);
    expect(await statuses(s, 2)).toEqual([200, 200]);
  });

  it('without a token bucket nothing is limited', async () => {
    const { tokenBucket: _t, ...rest } = base;
    const s = stage(localRateLimitFilter, rest, new TestEnv());
    expect(await statuses(s, 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('a per-route config keeps its own buckets apart from the filter-level one', async () => {
    const env = new TestEnv();
    const filterLevel = stage(localRateLimitFilter, base, env);
    const perRoute = stage(
      localRateLimitFilter,
      { ...base, tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 } },
      env,
    );
    expect(await statuses(perRoute, 2)).toEqual([200, 429]);
    expect(await statuses(filterLevel, 2)).toEqual([200, 200]);
  });

  describe('config errors', () => {
    const env = new TestEnv('lrl');
    const bad: [string, unknown][] = [
      ['type', { ...base, type: 'fault' }],
      [
        'tokenBucket.fillIntervalMs',
        { ...base, tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 10 } },
      ],
      [
        'tokenBucket.maxTokens',
        { ...base, tokenBucket: { maxTokens: 0, tokensPerFill: 1, fillIntervalMs: 1000 } },
      ],
      ['status', { ...base, status: 700 }],
      ['filterEnabled.denominator', { ...base, filterEnabled: { numerator: 1, denominator: 3 } }],
      [
        'responseHeadersToAdd[0].appendAction',
        { ...base, responseHeadersToAdd: [{ header: { key: 'a', value: 'b' }, appendAction: 'NOPE' }] },
      ],
      [
        'responseHeadersToAdd[0].header.key',
        { ...base, responseHeadersToAdd: [{ header: { key: 'bad key', value: 'b' } }] },
      ],
      [
        'descriptors[0].tokenBucket.maxTokens',
        {
          ...base,
          descriptors: [
            { entries: [{ key: 'a', value: 'b' }], tokenBucket: { maxTokens: -1, fillIntervalMs: 1000 } },
          ],
        },
      ],
      [
        'descriptors[0].entries',
        { ...base, descriptors: [{ entries: [], tokenBucket: { maxTokens: 1, fillIntervalMs: 1000 } }] },
      ],
      ['enableXRatelimitHeaders', { ...base, enableXRatelimitHeaders: 'DRAFT_VERSION_99' }],
    ];
    for (const [field, config] of bad) {
      it(`names ${field}`, () => {
        expect(() => localRateLimitFilter.configure(config, env)).toThrow(ConfigError);
        expect(() => localRateLimitFilter.configure(config, env)).toThrow(
          new RegExp(`^lrl: .*${field.replace(/[[\].]/g, '\\$&')}`),
        );
      });
    }
  });
});
