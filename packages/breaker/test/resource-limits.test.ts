import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, createResourceLimits } from '@meshlet/breaker';
import type { ResourceThresholds } from '@meshlet/breaker';

describe('createResourceLimits', () => {
  it("has Envoy's defaults for both priorities: 1024 / 1024 / 1024 / 3, pools unlimited", () => {
    const limits = createResourceLimits();
    for (const p of [limits.default, limits.high]) {
      expect(p.connections.max).toBe(1024);
      expect(p.pendingRequests.max).toBe(1024);
      expect(p.requests.max).toBe(1024);
      expect(p.retries.max).toBe(3);
      expect(p.connectionPools.max).toBe(0xffffffff);
    }
    expect(limits.forPriority('high')).toBe(limits.high);
  });

  it('limits each resource, counts overflows by kind, and releases', () => {
    const limits = createResourceLimits([
      { maxRequests: 2, maxRetries: 1 },
      { priority: 'high', maxRequests: 5 },
    ]);
    const rq = limits.default.requests;
    expect(rq.tryAcquire()).toBe(true);
    expect(rq.tryAcquire()).toBe(true);
    expect(rq.open).toBe(true);
    expect(rq.tryAcquire()).toBe(false);
    expect(rq.tryAcquire()).toBe(false);
    expect(limits.default.retries.tryAcquire()).toBe(true);
    expect(limits.default.retries.tryAcquire()).toBe(false);
    expect(limits.default.stats()).toMatchObject({
      requests: { count: 2, max: 2, remaining: 0, overflows: 2 },
      retries: { count: 1, max: 1, remaining: 0, overflows: 1 },
      connections: { count: 0, overflows: 0 },
    });
    expect(limits.high.requests.tryAcquire()).toBe(true); // priorities are separate
    expect(rq.release()).toBe(true);
    expect(rq.tryAcquire()).toBe(true);
    expect(limits.default.connections.release()).toBe(false); // nothing to release
    expect(limits.default.connections.count).toBe(0);
  });

  it('a retry budget overrides maxRetries: max(budget% of active + pending, minRetryConcurrency)', () => {
    const limits = createResourceLimits([{ maxRetries: 1000, retryBudget: {} }]);
    const { requests, pendingRequests, retries } = limits.default;
    expect(retries.max).toBe(3); // min concurrency 3 with nothing active
    for (let i = 0; i < 40; i++) requests.tryAcquire();
    for (let i = 0; i < 10; i++) pendingRequests.tryAcquire();
    expect(retries.max).toBe(10); // 20 % of 50
    for (let i = 0; i < 10; i++) expect(retries.tryAcquire()).toBe(true);
    expect(retries.tryAcquire()).toBe(false);
    expect(retries.overflows).toBe(1);
    const custom = createResourceLimits([
      { retryBudget: { budgetPercent: 25, minRetryConcurrency: 1 } },
    ]).default;
    for (let i = 0; i < 9; i++) custom.requests.tryAcquire();
    expect(custom.retries.max).toBe(2); // floor(2.25)
  });

  it('never lets a count pass its max or go negative (random acquire/release sequences)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.array(
          fc.tuple(
            fc.constantFrom<'connections' | 'pendingRequests' | 'requests'>(
              'connections',
              'pendingRequests',
              'requests',
            ),
            fc.boolean(),
          ),
        ),
        (max, ops) => {
          const p = createResourceLimits([
            { maxConnections: max, maxPendingRequests: max, maxRequests: max },
          ]).default;
          const model = { connections: 0, pendingRequests: 0, requests: 0 };
          const overflows = { connections: 0, pendingRequests: 0, requests: 0 };
          for (const [kind, acquire] of ops) {
            if (acquire) {
              const ok = p[kind].tryAcquire();
              expect(ok).toBe(model[kind] < max);
              if (ok) model[kind]++;
              else overflows[kind]++;
            } else {
              expect(p[kind].release()).toBe(model[kind] > 0);
              if (model[kind] > 0) model[kind]--;
            }
            expect(p[kind].count).toBe(model[kind]);
            expect(p[kind].remaining).toBe(max - model[kind]);
          }
          for (const kind of ['connections', 'pendingRequests', 'requests'] as const)
            expect(p[kind].overflows).toBe(overflows[kind]);
        },
      ),
    );
  });

  it('rejects unknown fields, duplicates and out-of-range values', () => {
    expect(() => createResourceLimits([{ maxRequest: 1 } as unknown as ResourceThresholds])).toThrow(
      /unknown field maxRequest/,
    );
    expect(() => createResourceLimits([{}, { priority: 'default' }])).toThrow(/twice/);
    expect(() => createResourceLimits([{ maxRetries: -1 }])).toThrow(ConfigError);
    expect(() => createResourceLimits([{ priority: 'low' as 'high' }])).toThrow(/priority/);
    expect(() => createResourceLimits([{ retryBudget: { budgetPercent: 120 } }])).toThrow(/budgetPercent/);
  });
});
