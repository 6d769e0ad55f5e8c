import { ConfigError } from '@meshlet/errors';
import type { FaultConfig } from '@meshlet/xds';
import { describe, expect, it } from 'vitest';
import { type FaultFilterConfig, type FaultTimers, createFaultFilter } from '../../src/filters/index.js';
import { TestContext, TestEnv, route, run, stage } from './context.js';

/** Timers the test fires by hand. */
class ManualTimers implements FaultTimers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 1;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { callback, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.callback();
  }
}

const base: FaultConfig = { type: 'fault', headers: [], upstreamCluster: '', downstreamNodes: [] };
const all = { numerator: 100, denominator: 100 } as const;

function setup(config: Partial<FaultConfig>, randoms: number[] = []) {
  const timers = new ManualTimers();
  const filter = createFaultFilter({ timers });
  const env = new TestEnv('envoy.filters.http.fault');
  env.randoms = randoms;
  const s = stage(filter, { ...base, ...config }, env);
  return { timers, filter, env, s, config: s.config };
}

describe('fault filter: abort', () => {
  it('aborts with the configured status, body and FI flag', async () => {
    const { s } = setup({ abort: { httpStatus: 503, headerAbort: false, percentage: all } });
    const ctx = await run(new TestContext(), [s]);
    expect(ctx.response?.status).toBe(503);
    expect(ctx.replyBody).toBe('fault filter abort');
    expect(ctx.info.responseFlags.has('FI')).toBe(true);
    expect(ctx.info.responseCodeDetails).toBe('fault_filter_abort');
  });

  it('aborts the configured share of requests with the injected randomness', async () => {
    const { s, config } = setup(
      { abort: { httpStatus: 500, headerAbort: false, percentage: { numerator: 25, denominator: 100 } } },
      [0.1, 0.3, 0.2499, 0.25, 0.9],
    );
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await run(new TestContext(), [s])).response?.status ?? 0);
    expect(statuses).toEqual([500, 200, 500, 200, 200]);
    expect(config.stats.abortsInjected).toBe(2);
  });

  it('uses the denominator (per million)', async () => {
    const { s } = setup(
      {
        abort: { httpStatus: 500, headerAbort: false, percentage: { numerator: 1, denominator: 1_000_000 } },
      },
      [0.0000009, 0.0000011],
    );
    expect((await run(new TestContext(), [s])).response?.status).toBe(500);
    expect((await run(new TestContext(), [s])).response?.status).toBe(200);
  });

  it('a 0 % abort never draws nor aborts; 100 % never draws either', async () => {
    const none = setup({
      abort: { httpStatus: 500, headerAbort: false, percentage: { numerator: 0, denominator: 100 } },
    });
    expect((await run(new TestContext(), [none.s])).response?.status).toBe(200);
    expect(none.env.draws).toBe(0);
    const full = setup({ abort: { httpStatus: 500, headerAbort: false, percentage: all } });
    expect((await run(new TestContext(), [full.s])).response?.status).toBe(500);
    expect(full.env.draws).toBe(0);
  });

  it('header-controlled abort: status from x-envoy-fault-abort-request, share capped by config', async () => {
    const { s } = setup(
      { abort: { headerAbort: true, percentage: { numerator: 50, denominator: 100 } } },
      [0.1, 0.1, 0.3, 0.3],
    );
    // No header: no abort.
    expect((await run(new TestContext(), [s])).response?.status).toBe(200);
    const h = { 'x-envoy-fault-abort-request': '429' };
    expect((await run(new TestContext({ headers: h }), [s])).response?.status).toBe(429);
    // Header percentage 20 < 50: 0.1 hits, 0.3 misses.
    const pct = { ...h, 'x-envoy-fault-abort-request-percentage': '20' };
    expect((await run(new TestContext({ headers: pct }), [s])).response?.status).toBe(429);
    expect((await run(new TestContext({ headers: pct }), [s])).response?.status).toBe(200);
    // Header percentage 90 is capped at the configured 50: 0.3 hits.
    const high = { ...h, 'x-envoy-fault-abort-request-percentage': '90' };
    const env = new TestEnv();
    env.randoms = [0.6];
    const capped = stage(
      createFaultFilter(),
      { ...base, abort: { headerAbort: true, percentage: { numerator: 50, denominator: 100 } } },
      env,
    );
    expect((await run(new TestContext({ headers: high }), [capped])).response?.status).toBe(200);
  });

  it('header-controlled abort ignores statuses outside [200, 600) and garbage', async () => {
    const { s } = setup({ abort: { headerAbort: true, percentage: all } });
    for (const v of ['199', '600', 'abc', '-500', '5e2', '']) {
      const ctx = await run(new TestContext({ headers: { 'x-envoy-fault-abort-request': v } }), [s]);
      expect(ctx.response?.status, v).toBe(200);
    }
  });

  it('gRPC abort: 200 with grpc-status on a gRPC request, HTTP status header wins', async () => {
    const { s } = setup({ abort: { headerAbort: true, percentage: all } });
    const grpc = await run(
      new TestContext({ isGrpc: true, headers: { 'x-envoy-fault-abort-grpc-request': '14' } }),
      [s],
    );
    expect(grpc.response?.status).toBe(200);
    expect(grpc.response?.headers['grpc-status']).toBe('14');
    const both = await run(
      new TestContext({
        isGrpc: true,
        headers: { 'x-envoy-fault-abort-grpc-request': '14', 'x-envoy-fault-abort-request': '503' },
      }),
      [s],
    );
    expect(both.response?.status).toBe(503);
    expect(both.response?.headers['grpc-status']).toBeUndefined();
    const outOfRange = await run(
      new TestContext({ isGrpc: true, headers: { 'x-envoy-fault-abort-grpc-request': '17' } }),
      [s],
    );
    expect(outOfRange.replied).toBe(false);
  });

  it('a fixed gRPC status aborts gRPC requests with it and plain ones with 200', async () => {
    const { s } = setup({ abort: { grpcStatus: 8, headerAbort: false, percentage: all } });
    const grpc = await run(new TestContext({ isGrpc: true }), [s]);
    expect([grpc.response?.status, grpc.response?.headers['grpc-status']]).toEqual([200, '8']);
    const plain = await run(new TestContext(), [s]);
    expect([plain.response?.status, plain.replyBody]).toEqual([200, 'fault filter abort']);
    expect(plain.replied).toBe(true);
  });
});

describe('fault filter: delay', () => {
  it('a fixed delay waits on a timer, flags DI, then continues', async () => {
    const { s, timers, config } = setup({
      delay: { fixedDelayMs: 250, headerDelay: false, percentage: all },
    });
    const ctx = new TestContext();
    const done = run(ctx, [s]);
    await Promise.resolve();
    expect([...timers.pending.values()].map((t) => t.ms)).toEqual([250]);
    expect(ctx.response).toBeNull();
    expect(ctx.info.responseFlags.has('DI')).toBe(true);
    expect(config.active).toBe(1);
    timers.fireAll();
    await done;
    expect(ctx.response?.status).toBe(200);
    expect(config.active).toBe(0);
    expect(config.stats.delaysInjected).toBe(1);
  });

  it('no delay drawn: the hook is synchronous (no promise)', () => {
    const { s } = setup(
      { delay: { fixedDelayMs: 250, headerDelay: false, percentage: { numerator: 10, denominator: 100 } } },
      [0.5],
    );
    const ctx = new TestContext();
    expect(s.filter.onRequest?.(ctx, s.config)).toBeUndefined();
    expect(ctx.info.responseFlags.size).toBe(0);
  });

  it('a delay is followed by an abort when both are configured', async () => {
    const { s, timers } = setup({
      delay: { fixedDelayMs: 10, headerDelay: false, percentage: all },
      abort: { httpStatus: 504, headerAbort: false, percentage: all },
    });
    const ctx = new TestContext();
    const done = run(ctx, [s]);
    await Promise.resolve();
    expect(ctx.replied).toBe(false);
    timers.fireAll();
    await done;
    expect(ctx.response?.status).toBe(504);
    expect([...ctx.info.responseFlags].sort()).toEqual(['DI', 'FI']);
  });

  it('header-controlled delay: duration and share from the headers', async () => {
    const { s, timers } = setup(
      { delay: { headerDelay: true, percentage: { numerator: 50, denominator: 100 } } },
      [0.4, 0.4],
    );
    // No header: no delay, sync.
    expect(s.filter.onRequest?.(new TestContext(), s.config)).toBeUndefined();
    const ctx = new TestContext({ headers: { 'x-envoy-fault-delay-request': '1500' } });
    const p = s.filter.onRequest?.(ctx, s.config);
    expect(p).toBeInstanceOf(Promise);
    expect([...timers.pending.values()][0]?.ms).toBe(1500);
    timers.fireAll();
    await p;
    // Percentage header 30 (< 50): a draw of 0.4 misses.
    const low = new TestContext({
      headers: { 'x-envoy-fault-delay-request': '1500', 'x-envoy-fault-delay-request-percentage': '30' },
    });
    expect(s.filter.onRequest?.(low, s.config)).toBeUndefined();
  });

  it('a huge header delay is clamped to what setTimeout accepts', async () => {
    const { s, timers } = setup({ delay: { headerDelay: true, percentage: all } });
    const ctx = new TestContext({ headers: { 'x-envoy-fault-delay-request': '999999999999999' } });
    const p = s.filter.onRequest?.(ctx, s.config);
    expect([...timers.pending.values()][0]?.ms).toBe(2 ** 31 - 1);
    s.filter.onComplete?.(ctx, s.config);
    await p;
  });

  it('a stream that ends during the delay clears the timer and settles the hook', async () => {
    const { s, timers, config } = setup({
      delay: { fixedDelayMs: 1000, headerDelay: false, percentage: all },
      abort: { httpStatus: 500, headerAbort: false, percentage: all },
    });
    const ctx = new TestContext();
    const p = s.filter.onRequest?.(ctx, s.config);
    expect(timers.pending.size).toBe(1);
    ctx.aborted = true;
    s.filter.onComplete?.(ctx, s.config);
    expect(timers.pending.size).toBe(0);
    await p;
    expect(ctx.replied).toBe(false);
    expect(config.active).toBe(0);
  });

  it('uses real timers by default', async () => {
    const filter = createFaultFilter();
    const s = stage(filter, { ...base, delay: { fixedDelayMs: 1, headerDelay: false, percentage: all } });
    const ctx = await run(new TestContext(), [s]);
    expect(ctx.response?.status).toBe(200);
    expect(ctx.info.responseFlags.has('DI')).toBe(true);
  });
});

describe('fault filter: gates', () => {
  const abort = { httpStatus: 500, headerAbort: false, percentage: all } as const;

  it('headers matchers gate the fault', async () => {
    const { s } = setup({
      abort,
      headers: [
        {
          name: 'x-fault',
          stringMatch: { exact: 'yes', ignoreCase: false },
          invertMatch: false,
          treatMissingHeaderAsEmpty: false,
        },
      ],
    });
    expect((await run(new TestContext(), [s])).response?.status).toBe(200);
    expect((await run(new TestContext({ headers: { 'x-fault': 'no' } }), [s])).response?.status).toBe(200);
    expect((await run(new TestContext({ headers: { 'x-fault': 'yes' } }), [s])).response?.status).toBe(500);
  });

  it('upstreamCluster compares with the route cluster (or its cluster header)', async () => {
    const { s } = setup({ abort, upstreamCluster: 'carts' });
    expect((await run(new TestContext(), [s])).response?.status).toBe(200);
    expect((await run(new TestContext({ route: route({ cluster: 'orders' }) }), [s])).response?.status).toBe(
      200,
    );
    expect((await run(new TestContext({ route: route({ cluster: 'carts' }) }), [s])).response?.status).toBe(
      500,
    );
    const byHeader = new TestContext({
      route: route({ clusterHeader: 'x-cluster' }),
      headers: { 'x-cluster': 'carts' },
    });
    expect((await run(byHeader, [s])).response?.status).toBe(500);
  });

  it('downstreamNodes needs x-envoy-downstream-service-node in the list', async () => {
    const { s } = setup({ abort, downstreamNodes: ['a', 'b'] });
    expect((await run(new TestContext(), [s])).response?.status).toBe(200);
    expect(
      (await run(new TestContext({ headers: { 'x-envoy-downstream-service-node': 'c' } }), [s])).response
        ?.status,
    ).toBe(200);
    expect(
      (await run(new TestContext({ headers: { 'x-envoy-downstream-service-node': 'b' } }), [s])).response
        ?.status,
    ).toBe(500);
  });

  it('maxActiveFaults caps concurrent faults; completion frees a slot', async () => {
    const { s, timers, config } = setup({
      delay: { fixedDelayMs: 100, headerDelay: false, percentage: all },
      maxActiveFaults: 2,
    });
    const a = new TestContext();
    const b = new TestContext();
    const c = new TestContext();
    const pa = run(a, [s]);
    const pb = run(b, [s]);
    const pc = run(c, [s]);
    await pc;
    expect(c.info.responseFlags.has('DI')).toBe(false);
    expect(config.stats.faultsOverflow).toBe(1);
    expect(config.active).toBe(2);
    timers.fireAll();
    await Promise.all([pa, pb]);
    expect(config.active).toBe(0);
    const d = new TestContext();
    const pd = run(d, [s]);
    await Promise.resolve();
    expect(d.info.responseFlags.has('DI')).toBe(true);
    timers.fireAll();
    await pd;
  });

  it('an abort counts as active until the stream completes', async () => {
    const { s, config } = setup({ abort, maxActiveFaults: 1 });
    const ctx = new TestContext();
    expect(s.filter.onRequest?.(ctx, s.config)).toBeUndefined();
    expect(config.active).toBe(1);
    const second = await run(new TestContext(), [s]);
    expect(second.replied).toBe(false);
    s.filter.onComplete?.(ctx, s.config);
    expect(config.active).toBe(0);
    // onComplete of a request the fault never touched changes nothing.
    s.filter.onComplete?.(new TestContext(), s.config);
    expect(config.active).toBe(0);
  });
});

describe('fault filter: config errors', () => {
  const filter = createFaultFilter();
  const env = new TestEnv('faults');
  const bad: [string, unknown][] = [
    ['type', { ...base, type: 'rbac' }],
    ['abort.httpStatus', { ...base, abort: { httpStatus: 700, headerAbort: false, percentage: all } }],
    ['abort', { ...base, abort: { httpStatus: 500, grpcStatus: 3, headerAbort: false, percentage: all } }],
    ['abort', { ...base, abort: { headerAbort: false, percentage: all } }],
    [
      'abort.percentage.denominator',
      {
        ...base,
        abort: { httpStatus: 500, headerAbort: false, percentage: { numerator: 1, denominator: 7 } },
      },
    ],
    ['delay', { ...base, delay: { fixedDelayMs: 5, headerDelay: true, percentage: all } }],
    ['delay.fixedDelayMs', { ...base, delay: { fixedDelayMs: -5, headerDelay: false, percentage: all } }],
    [
      'headers[0].stringMatch.safeRegex',
      { ...base, headers: [{ name: 'x', stringMatch: { safeRegex: '(a', ignoreCase: false } }] },
    ],
    ['maxActiveFaults', { ...base, maxActiveFaults: -1 }],
    ['downstreamNodes[0]', { ...base, downstreamNodes: [1] }],
  ];
  for (const [field, config] of bad) {
    it(`names ${field}`, () => {
      let error: unknown;
      try {
        filter.configure(config, env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(`faults: ${field} `);
    });
  }

  it('an empty fault config is valid and does nothing', async () => {
    const s = stage(filter, base);
    expect(
      (await run(new TestContext(), [s as { filter: typeof filter; config: FaultFilterConfig }])).response
        ?.status,
    ).toBe(200);
  });
});
