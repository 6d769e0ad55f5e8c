import { describe, expect, it } from 'vitest';
import { builtinHttpFilters } from '../../src/filters/index.js';
import { TestContext, TestEnv } from './context.js';

describe('builtinHttpFilters', () => {
  const configs: Record<string, unknown> = {
    fault: { type: 'fault', headers: [], upstreamCluster: '', downstreamNodes: [] },
    local_rate_limit: {
      type: 'local_rate_limit',
      statPrefix: 'x',
      status: 429,
      responseHeadersToAdd: [],
      descriptors: [],
      localRateLimitPerDownstreamConnection: false,
    },
    rbac: { type: 'rbac' },
    header_mutation: { type: 'header_mutation', requestMutations: [], responseMutations: [] },
    cors: { type: 'cors' },
  };

  it('holds the five filters by their model type names', () => {
    expect(builtinHttpFilters.map((f) => f.name)).toEqual([
      'fault',
      'local_rate_limit',
      'rbac',
      'header_mutation',
      'cors',
    ]);
    expect(Object.isFrozen(builtinHttpFilters)).toBe(true);
  });

  it('hooks work called detached (no `this`), as a chain may hold them', async () => {
    /* eslint-disable @typescript-eslint/unbound-method -- detached calls are what this test checks */
    for (const f of builtinHttpFilters) {
      const config: unknown = Reflect.apply(f.configure, undefined, [configs[f.name], new TestEnv(f.name)]);
      const ctx = new TestContext({ headers: { origin: 'https://a.b' } });
      for (const hook of [f.onRequest, f.onResponse, f.onComplete]) {
        if (hook !== undefined) await Reflect.apply(hook, undefined, [ctx, config]);
      }
      expect(ctx.replied, f.name).toBe(false);
    }
    /* eslint-enable @typescript-eslint/unbound-method */
  });
});
