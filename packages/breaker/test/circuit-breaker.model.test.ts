// Model-based test: random sequences of calls, outcomes, clock steps and forced states run
// against the breaker and against a small reference model written from the spec (plain arrays,
// every figure recomputed from scratch). After every step both must agree on the state, on
// whether a call was admitted (and why not), and on the events emitted.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, TimerWheel } from '@meshlet/breaker';
import type { BreakerState, BreakerWindow, Permit, Rejection } from '@meshlet/breaker';
import { FakeTime } from '../../../test/support/fake-time.js';

interface Config {
  readonly consecutiveFailures: number;
  readonly failureRateThreshold: number;
  readonly slowCallRateThreshold: number;
  readonly slowCallDurationMs: number;
  readonly window: BreakerWindow;
  readonly minimumCalls: number;
  readonly openDurationMs: number;
  readonly openDurationMultiplier: number;
  readonly maxOpenDurationMs: number;
  readonly halfOpenMaxCalls: number;
  readonly halfOpenSuccessThreshold: number;
}

type Outcome = 'success' | 'failure' | 'ignored-error' | 'benign-error' | 'release';
type Op =
  | { readonly op: 'acquire' }
  | { readonly op: 'settle'; readonly pick: number; readonly outcome: Outcome }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'forceOpen' | 'forceClose' | 'reset' | 'state' };

interface ModelPermit {
  readonly epoch: number;
  readonly start: number;
  settled: boolean;
}

/** The reference: the spec of README's "How the breaker decides", as directly as it can be written. */
class Model {
  state: BreakerState = 'closed';
  forced: 'open' | 'closed' | null = null;
  epoch = 0;
  consecutive = 0;
  openUntil = 0;
  openings = 0;
  admitted = 0;
  successes = 0;
  records: { t: number; failed: boolean; slow: boolean }[] = [];
  events: string[] = [];
  now = 0;

  readonly c: Config;

  constructor(c: Config) {
    this.c = c;
  }

  lazy(): void {
    if (this.state === 'open' && this.forced === null && this.now >= this.openUntil)
      this.enter('half-open', 'halfOpen');
  }

  enter(state: BreakerState, event?: string): void {
    this.state = state;
    this.epoch++;
    this.admitted = 0;
    this.successes = 0;
    if (event) this.events.push(event);
  }

  inWindow(): { calls: number; failures: number; slow: number } {
    const w = this.c.window;
    let recs = this.records;
    if (w.kind === 'count') recs = recs.slice(-w.size);
    else {
      const bucketMs = w.durationMs / w.buckets;
      const current = Math.floor(this.now / bucketMs);
      recs = recs.filter((r) => Math.floor(r.t / bucketMs) > current - w.buckets);
    }
    return {
      calls: recs.length,
      failures: recs.filter((r) => r.failed).length,
      slow: recs.filter((r) => r.slow).length,
    };
  }

  trip(reason: string): void {
    this.openings++;
    const d = Math.min(
      this.c.openDurationMs * this.c.openDurationMultiplier ** (this.openings - 1),
      this.c.maxOpenDurationMs,
    );
    this.openUntil = this.now + d;
    this.enter('open', `open:${reason}:${d}`);
  }

  close(): void {
    const was = this.state;
    this.openings = 0;
    this.consecutive = 0;
    this.records = [];
    this.enter('closed', was !== 'closed' ? 'close' : undefined);
  }

  acquire(): ModelPermit | string {
    if (this.state === 'closed') return { epoch: this.epoch, start: this.now, settled: false };
    if (this.state === 'open') {
      if (this.forced === 'open') return this.reject('forced-open');
      if (this.now < this.openUntil) return this.reject('open');
      this.lazy();
    }
    if (this.admitted >= this.c.halfOpenMaxCalls) return this.reject('half-open-busy');
    this.admitted++;
    return { epoch: this.epoch, start: this.now, settled: false };
  }

  reject(reason: string): string {
    this.events.push(`reject:${reason}`);
    return reason;
  }

  settle(p: ModelPermit, outcome: Outcome): void {
    if (p.settled) return;
    p.settled = true;
    this.lazy();
    const kind =
      outcome === 'failure' ? 'F' : outcome === 'release' || outcome === 'ignored-error' ? 'I' : 'S';
    if (kind === 'F') this.events.push('failure');
    if (kind === 'S') this.events.push('success');
    if (p.epoch !== this.epoch) return;
    const slow = this.c.slowCallRateThreshold > 0 && this.now - p.start > this.c.slowCallDurationMs;
    if (this.state === 'closed') {
      if (kind === 'I' || this.forced === 'closed') return;
      this.consecutive = kind === 'F' ? this.consecutive + 1 : 0;
      this.records.push({ t: this.now, failed: kind === 'F', slow });
      const w = this.inWindow();
      const minimum =
        this.c.window.kind === 'count'
          ? Math.min(this.c.minimumCalls, this.c.window.size)
          : this.c.minimumCalls;
      if (this.c.consecutiveFailures > 0 && this.consecutive >= this.c.consecutiveFailures)
        this.trip('consecutive-failures');
      else if (
        w.calls >= minimum &&
        this.c.failureRateThreshold > 0 &&
        (100 * w.failures) / w.calls >= this.c.failureRateThreshold
      )
        this.trip('failure-rate');
      else if (
        w.calls >= minimum &&
        this.c.slowCallRateThreshold > 0 &&
        (100 * w.slow) / w.calls >= this.c.slowCallRateThreshold
      )
        this.trip('slow-call-rate');
    } else if (this.state === 'half-open') {
      if (kind === 'I') this.admitted--;
      else if (kind === 'F' || slow) this.trip('half-open-failure');
      else if (++this.successes >= this.c.halfOpenSuccessThreshold) this.close();
    }
  }

  advance(ms: number): void {
    const target = this.now + ms;
    // The open period ends on the way: the transition happens at its deadline.
    if (this.state === 'open' && this.forced === null && this.openUntil <= target) {
      this.now = Math.max(this.now, this.openUntil);
      this.lazy();
    }
    this.now = target;
  }

  forceOpen(): void {
    this.lazy();
    this.forced = 'open';
    this.enter('open', 'open:forced:Infinity');
  }

  forceClose(): void {
    this.lazy();
    this.forced = 'closed';
    this.close();
  }

  reset(): void {
    this.lazy();
    this.forced = null;
    this.close();
  }
}

const configArb: fc.Arbitrary<Config> = fc
  .record({
    consecutiveFailures: fc.integer({ min: 0, max: 4 }),
    failureRateThreshold: fc.constantFrom(0, 30, 50, 100),
    slowCallRateThreshold: fc.constantFrom(0, 0, 50, 100),
    slowCallDurationMs: fc.integer({ min: 0, max: 6 }),
    window: fc.oneof(
      fc.record({ kind: fc.constant('count' as const), size: fc.integer({ min: 1, max: 6 }) }),
      fc.record({
        kind: fc.constant('time' as const),
        durationMs: fc.integer({ min: 1, max: 40 }),
        buckets: fc.integer({ min: 1, max: 5 }),
      }),
    ),
    minimumCalls: fc.integer({ min: 1, max: 5 }),
    openDurationMs: fc.integer({ min: 1, max: 30 }),
    openDurationMultiplier: fc.constantFrom(1, 2, 3),
    extraMax: fc.integer({ min: 0, max: 100 }),
    halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
    successPick: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ extraMax, successPick, ...c }) => ({
    ...c,
    maxOpenDurationMs: c.openDurationMs + extraMax,
    halfOpenSuccessThreshold: 1 + (successPick % c.halfOpenMaxCalls),
  }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ op: 'acquire' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('settle' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom<Outcome>(
        'success',
        'success',
        'failure',
        'failure',
        'ignored-error',
        'benign-error',
        'release',
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 25 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { op: 'forceOpen' as const },
      { op: 'forceClose' as const },
      { op: 'reset' as const },
      { op: 'state' as const },
    ),
  },
);

class IgnoredError extends Error {}
class BenignError extends Error {}

function run(config: Config, ops: readonly Op[]): void {
  const time = new FakeTime(1000);
  const wheel = new TimerWheel({ tickMs: 1, clock: time, scheduler: time });
  const breaker = new CircuitBreaker({
    ...config,
    wheel,
    classifyError: (e) =>
      e instanceof IgnoredError ? 'ignore' : e instanceof BenignError ? 'success' : 'failure',
  });
  const model = new Model(config);
  model.now = 1000;
  const events: string[] = [];
  breaker.on('open', ({ reason, durationMs }) => events.push(`open:${reason}:${durationMs}`));
  breaker.on('halfOpen', () => events.push('halfOpen'));
  breaker.on('close', () => events.push('close'));
  breaker.on('reject', (reason) => events.push(`reject:${reason}`));
  breaker.on('success', () => events.push('success'));
  breaker.on('failure', () => events.push('failure'));
  const permits: [Permit, ModelPermit][] = [];

  ops.forEach((op, step) => {
    const where = `step ${step} ${JSON.stringify(op)}`;
    switch (op.op) {
      case 'acquire': {
        const real: Permit | Rejection = breaker.tryAcquire();
        const expected = model.acquire();
        if (typeof expected === 'string') {
          expect(real.rejected, where).toBe(true);
          expect((real as Rejection).reason, where).toBe(expected);
        } else {
          expect(real.rejected, where).toBe(false);
          permits.push([real as Permit, expected]);
        }
        break;
      }
      case 'settle': {
        if (permits.length === 0) break;
        const [real, expected] = permits[op.pick % permits.length] as [Permit, ModelPermit];
        if (op.outcome === 'success') real.success();
        else if (op.outcome === 'failure') real.failure(new Error('boom'));
        else if (op.outcome === 'ignored-error') real.failure(new IgnoredError());
        else if (op.outcome === 'benign-error') real.failure(new BenignError());
        else real.release();
        model.settle(expected, op.outcome);
        break;
      }
      case 'advance':
        time.advance(op.ms);
        model.advance(op.ms);
        break;
      case 'forceOpen':
        breaker.forceOpen();
        model.forceOpen();
        break;
      case 'forceClose':
        breaker.forceClose();
        model.forceClose();
        break;
      case 'reset':
        breaker.reset();
        model.reset();
        break;
      case 'state':
        break;
    }
    expect(events, where).toEqual(model.events);
    expect(breaker.state, where).toBe(model.state);
    expect(breaker.forced, where).toBe(model.forced);
    if (
      model.state === 'closed' &&
      model.forced === null &&
      (config.failureRateThreshold > 0 || config.slowCallRateThreshold > 0)
    ) {
      expect(breaker.windowCounts, where).toEqual(model.inWindow());
    }
  });
  // The wheel never holds more than the breaker's one entry.
  expect(wheel.size).toBeLessThanOrEqual(1);
}

describe('CircuitBreaker against a reference model', () => {
  it('agrees on states, admissions and events for random outcome and clock sequences', () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb, { minLength: 1, maxLength: 120 }), (config, ops) => {
        run(config, ops);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees on long runs dominated by failures (many open/half-open cycles)', () => {
    const failing: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant({ op: 'acquire' as const }) },
      {
        weight: 5,
        arbitrary: fc.record({
          op: fc.constant('settle' as const),
          pick: fc.nat(),
          outcome: fc.constantFrom<Outcome>('failure', 'failure', 'success', 'release'),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }),
      },
    );
    fc.assert(
      fc.property(configArb, fc.array(failing, { minLength: 50, maxLength: 300 }), (config, ops) => {
        run(config, ops);
      }),
      { numRuns: 150 },
    );
  });
});
