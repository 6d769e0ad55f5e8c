import { describe, expect, it } from 'vitest';
import {
  BreakerOpenError,
  BreakerTimeoutError,
  CircuitBreaker,
  ConfigError,
  InvalidArgumentError,
  TimerWheel,
} from '@meshlet/breaker';
import type { CircuitBreakerOptions, Permit } from '@meshlet/breaker';
import { FakeTime } from '../../../test/support/fake-time.js';

function setup(options: CircuitBreakerOptions = {}): {
  time: FakeTime;
  wheel: TimerWheel;
  breaker: CircuitBreaker;
} {
  const time = new FakeTime();
  const wheel = new TimerWheel({ tickMs: 10, clock: time, scheduler: time });
  return { time, wheel, breaker: new CircuitBreaker({ wheel, ...options }) };
}

function take(breaker: CircuitBreaker): Permit {
  const p = breaker.tryAcquire();
  if (p.rejected) throw new Error(`expected a permit, got ${p.reason}`);
  return p;
}

function fail(breaker: CircuitBreaker, n: number): void {
  for (let i = 0; i < n; i++) take(breaker).failure(new Error('x'));
}

describe('CircuitBreaker', () => {
  it('trips after consecutive failures, half-opens after the open time, closes on a trial success', () => {
    const { time, breaker } = setup({
      consecutiveFailures: 3,
      failureRateThreshold: 0,
      openDurationMs: 1000,
    });
    const events: string[] = [];
    breaker.on('open', (e) => events.push(`open ${e.reason} ${e.durationMs}`));
    breaker.on('halfOpen', () => events.push('halfOpen'));
    breaker.on('close', () => events.push('close'));
    fail(breaker, 2);
    take(breaker).success(); // a success resets the run
    fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    fail(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toEqual({ rejected: true, reason: 'open' });
    time.advance(999);
    expect(breaker.state).toBe('open');
    time.advance(10); // the wheel fires within one tick of the deadline
    expect(events).toEqual(['open consecutive-failures 1000', 'halfOpen']);
    const trial = take(breaker);
    expect(breaker.tryAcquire()).toEqual({ rejected: true, reason: 'half-open-busy' });
    trial.success();
    expect(breaker.state).toBe('closed');
    expect(events.at(-1)).toBe('close');
  });

  it('trips on the failure rate only once the window holds minimumCalls calls', () => {
    const { breaker } = setup({
      consecutiveFailures: 0,
      failureRateThreshold: 50,
      minimumCalls: 10,
      window: { kind: 'count', size: 10 },
    });
    for (let i = 0; i < 4; i++) take(breaker).success();
    fail(breaker, 5); // 5 of 9: over 50 %, but under minimumCalls
    expect(breaker.state).toBe('closed');
    take(breaker).success(); // 5 of 10 = 50 %: trips
    expect(breaker.state).toBe('open');
  });

  it('forgets calls that leave a time window', () => {
    const { time, breaker } = setup({
      consecutiveFailures: 0,
      failureRateThreshold: 50,
      minimumCalls: 4,
      window: { kind: 'time', durationMs: 1000, buckets: 10 },
    });
    fail(breaker, 3);
    time.advance(1000); // the three failures are a window old now
    for (let i = 0; i < 3; i++) take(breaker).success();
    take(breaker).failure(); // 1 of 4 in the window
    expect(breaker.state).toBe('closed');
    expect(breaker.windowCounts).toEqual({ calls: 4, failures: 1, slow: 0 });
  });

  it('trips on the slow-call rate, and a slow trial reopens', () => {
    const { time, breaker } = setup({
      consecutiveFailures: 0,
      failureRateThreshold: 0,
      slowCallRateThreshold: 50,
      slowCallDurationMs: 100,
      minimumCalls: 2,
      openDurationMs: 1000,
    });
    const a = take(breaker);
    const b = take(breaker);
    time.advance(150);
    a.success();
    expect(breaker.state).toBe('closed'); // 1 slow of 1: under minimumCalls
    b.success(); // 2 slow of 2
    expect(breaker.state).toBe('open');
    time.advance(1000);
    const trial = take(breaker);
    time.advance(101);
    trial.success();
    expect(breaker.state).toBe('open');
  });

  it('grows the open time by the multiplier up to the cap, and resets it on close', () => {
    const { time, breaker } = setup({
      consecutiveFailures: 1,
      openDurationMs: 100,
      openDurationMultiplier: 2,
      maxOpenDurationMs: 350,
    });
    const durations: number[] = [];
    breaker.on('open', (e) => durations.push(e.durationMs));
    fail(breaker, 1);
    for (let i = 0; i < 4; i++) {
      time.advance(durations.at(-1) as number);
      take(breaker).failure(); // the trial fails: reopen, longer
    }
    expect(durations).toEqual([100, 200, 350, 350, 350]);
    time.advance(350);
    take(breaker).success();
    fail(breaker, 1);
    expect(durations.at(-1)).toBe(100);
  });

  it('admits N trial calls and needs the success threshold to close', () => {
    const { time, breaker } = setup({
      consecutiveFailures: 1,
      openDurationMs: 100,
      halfOpenMaxCalls: 3,
      halfOpenSuccessThreshold: 2,
    });
    fail(breaker, 1);
    time.advance(100);
    const trials = [take(breaker), take(breaker), take(breaker)];
    expect(breaker.tryAcquire()).toMatchObject({ reason: 'half-open-busy' });
    trials[0]?.release(); // no outcome: the slot is free again
    const fourth = take(breaker);
    trials[1]?.success();
    expect(breaker.state).toBe('half-open');
    trials[2]?.success();
    expect(breaker.state).toBe('closed');
    fourth.failure(); // taken in the half-open period that is over: not counted
    expect(breaker.state).toBe('closed');
  });

  it('classifies errors: ignored ones do not count, benign ones count as successes', () => {
    const { breaker } = setup({
      consecutiveFailures: 2,
      classifyError: (e) =>
        (e as Error).message === 'ignore' ? 'ignore' : (e as Error).message === 'ok' ? 'success' : 'failure',
    });
    const seen: string[] = [];
    breaker.on('success', () => seen.push('success'));
    breaker.on('failure', () => seen.push('failure'));
    take(breaker).failure(new Error('bad'));
    take(breaker).failure(new Error('ignore'));
    expect(breaker.consecutiveFailures).toBe(1);
    take(breaker).failure(new Error('ok'));
    expect(breaker.consecutiveFailures).toBe(0);
    expect(seen).toEqual(['failure', 'success']);
  });

  it('counts an outcome once per permit', () => {
    const { breaker } = setup({ consecutiveFailures: 2 });
    const p = take(breaker);
    p.failure();
    p.failure();
    p.success();
    expect(breaker.consecutiveFailures).toBe(1);
    expect(p.settled).toBe(true);
  });

  it('forced open refuses everything and never half-opens; forced closed never trips; reset returns to normal', () => {
    const { time, breaker } = setup({ consecutiveFailures: 1, openDurationMs: 10 });
    breaker.forceOpen();
    time.advance(10_000);
    expect(breaker.state).toBe('open');
    expect(breaker.forced).toBe('open');
    expect(breaker.tryAcquire()).toEqual({ rejected: true, reason: 'forced-open' });
    breaker.forceClose();
    fail(breaker, 5);
    expect(breaker.state).toBe('closed');
    expect(breaker.forced).toBe('closed');
    breaker.reset();
    expect(breaker.forced).toBe(null);
    fail(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('snapshots and restores its state, in another breaker too', () => {
    const { time, wheel, breaker } = setup({
      consecutiveFailures: 0,
      failureRateThreshold: 50,
      minimumCalls: 4,
    });
    take(breaker).success();
    fail(breaker, 1);
    take(breaker).success();
    const closed = JSON.parse(JSON.stringify(breaker.snapshot())) as ReturnType<CircuitBreaker['snapshot']>;
    const copy = new CircuitBreaker({
      wheel,
      consecutiveFailures: 0,
      failureRateThreshold: 50,
      minimumCalls: 4,
    });
    copy.restore(closed);
    expect(copy.windowCounts).toEqual({ calls: 3, failures: 1, slow: 0 });
    take(copy).failure(); // 2 of 4
    expect(copy.state).toBe('open');
    time.advance(12_000);
    const open = copy.snapshot();
    expect(open).toMatchObject({ state: 'open', openRemainingMs: 18_000, openings: 1 });
    breaker.restore(open);
    expect(breaker.state).toBe('open');
    time.advance(18_000);
    expect(breaker.state).toBe('half-open');
    expect(() => {
      breaker.restore({ ...open, state: 'ajar' as 'open' });
    }).toThrow(InvalidArgumentError);
    expect(() => {
      breaker.restore({ ...open, window: [7] });
    }).toThrow(InvalidArgumentError);
  });

  it('snapshots a time window by bucket age, so a restored window keeps ageing', () => {
    const options = {
      consecutiveFailures: 0,
      failureRateThreshold: 50,
      minimumCalls: 4,
      window: { kind: 'time', durationMs: 1000, buckets: 4 },
    } as const;
    const { time, wheel, breaker } = setup(options);
    fail(breaker, 1); // bucket 0
    time.advance(250);
    take(breaker).success(); // bucket 1
    take(breaker).success();
    const snap = breaker.snapshot();
    expect(snap.window).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [1, 1, 0],
      [2, 0, 0],
    ]);
    time.advance(5000); // restore much later, elsewhere: ages are kept, not timestamps
    const copy = new CircuitBreaker({ wheel, ...options });
    copy.restore(snap);
    expect(copy.windowCounts).toEqual({ calls: 3, failures: 1, slow: 0 });
    time.advance(500);
    expect(copy.windowCounts.failures).toBe(1); // its bucket is 3 buckets old: still in
    time.advance(250); // 4 buckets old: out
    expect(copy.windowCounts).toEqual({ calls: 2, failures: 0, slow: 0 });
  });

  it('restores half-open with its successes, but not its trials in flight', () => {
    const { time, breaker } = setup({ consecutiveFailures: 1, openDurationMs: 100, halfOpenMaxCalls: 3 });
    fail(breaker, 1);
    time.advance(100);
    const first = take(breaker);
    first.success();
    take(breaker); // in flight
    const snap = breaker.snapshot();
    expect(snap).toMatchObject({ state: 'half-open', halfOpenSuccesses: 1 });
    breaker.restore(snap);
    take(breaker).success();
    take(breaker); // two trials admitted again after the restore
    expect(breaker.tryAcquire()).toMatchObject({ reason: 'half-open-busy' });
  });

  it('rejects bad options with a ConfigError naming the field', () => {
    expect(() => new CircuitBreaker({ consecutiveFailures: -1 })).toThrow(/consecutiveFailures/);
    expect(() => new CircuitBreaker({ consecutiveFailure: 3 } as CircuitBreakerOptions)).toThrow(
      /unknown option consecutiveFailure/,
    );
    expect(() => new CircuitBreaker({ failureRateThreshold: 101 })).toThrow(ConfigError);
    expect(() => new CircuitBreaker({ halfOpenMaxCalls: 1, halfOpenSuccessThreshold: 2 })).toThrow(
      /halfOpenSuccessThreshold/,
    );
    expect(() => new CircuitBreaker({ window: { kind: 'count', size: 0 } })).toThrow(/window.size/);
    expect(() => new CircuitBreaker({ window: { kind: 'time', durationMs: 0, buckets: 2 } })).toThrow(
      /durationMs/,
    );
    expect(() => new CircuitBreaker({ openDurationMs: 100, maxOpenDurationMs: 50 })).toThrow(
      /maxOpenDurationMs/,
    );
  });
});

describe('CircuitBreaker.execute', () => {
  it('passes values and errors through and counts them', async () => {
    const { breaker } = setup({ consecutiveFailures: 2 });
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
    await expect(breaker.execute(() => Promise.resolve('ok'))).resolves.toBe('ok');
    const boom = new Error('boom');
    await expect(breaker.execute(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(
      breaker.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(breaker.state).toBe('open');
    let called = false;
    const refused = breaker.execute(() => {
      called = true;
    });
    await expect(refused).rejects.toBeInstanceOf(BreakerOpenError);
    await expect(refused).rejects.toMatchObject({ code: 'MESHLET_ERR_BREAKER_OPEN', reason: 'open' });
    expect(called).toBe(false);
  });

  it('times out on the wheel, aborts the call signal and counts a failure', async () => {
    const { time, breaker } = setup({ consecutiveFailures: 1, timeoutMs: 500 });
    let seen: AbortSignal | undefined;
    const call = breaker.execute(
      (signal) =>
        new Promise((resolve) => {
          seen = signal;
          signal?.addEventListener('abort', () => {
            resolve('too late');
          });
        }),
    );
    time.advance(499);
    expect(seen?.aborted).toBe(false);
    time.advance(11);
    await expect(call).rejects.toBeInstanceOf(BreakerTimeoutError);
    expect(seen?.reason).toBeInstanceOf(BreakerTimeoutError);
    expect(breaker.state).toBe('open');
  });

  it('a timeout counts as a failure even when the classifier ignores errors', async () => {
    const { time, breaker } = setup({
      consecutiveFailures: 1,
      timeoutMs: 100,
      classifyError: () => 'ignore',
    });
    const call = breaker.execute(() => new Promise(() => undefined));
    time.advance(110);
    await expect(call).rejects.toBeInstanceOf(BreakerTimeoutError);
    expect(breaker.state).toBe('open');
  });

  it("does not count a call the caller aborted, and passes the caller's abort on", async () => {
    const { wheel, breaker } = setup({ consecutiveFailures: 1, timeoutMs: 1000 });
    const controller = new AbortController();
    const call = breaker.execute(
      (signal) =>
        new Promise((_, reject) => {
          signal?.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        }),
      { signal: controller.signal },
    );
    controller.abort(new Error('user left'));
    await expect(call).rejects.toThrow('user left');
    expect(breaker.state).toBe('closed');
    expect(wheel.size).toBe(0); // the call's deadline was cancelled
    await expect(breaker.execute(() => 1, { signal: controller.signal })).rejects.toThrow('user left');
  });
});

describe('CircuitBreaker.execute, more', () => {
  it('returns at once when the caller aborts, even if fn ignores its signal; nothing is counted', async () => {
    const { breaker, wheel } = setup({ consecutiveFailures: 1, timeoutMs: 1000, halfOpenMaxCalls: 1 });
    const controller = new AbortController();
    const call = breaker.execute(() => new Promise(() => undefined), { signal: controller.signal });
    controller.abort(new Error('gone'));
    await expect(call).rejects.toThrow('gone');
    expect(wheel.size).toBe(0);
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(0);
  });

  it('returns at once on abort without a timeout too', async () => {
    const { breaker } = setup({ consecutiveFailures: 1 });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const call = breaker.execute(
      (signal) => {
        seen = signal;
        return new Promise(() => undefined);
      },
      { signal: controller.signal },
    );
    controller.abort(new Error('gone'));
    await expect(call).rejects.toThrow('gone');
    expect(seen?.aborted).toBe(true);
    expect(breaker.consecutiveFailures).toBe(0);
  });

  it('rejects a non-function with InvalidArgumentError', async () => {
    const { breaker } = setup();
    await expect(breaker.execute(42 as unknown as () => number)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('one timer for many breakers', () => {
  it('runs 10,000 breakers on one wheel with at most one pending timer', () => {
    const time = new FakeTime();
    const wheel = new TimerWheel({ tickMs: 10, clock: time, scheduler: time });
    const breakers: CircuitBreaker[] = [];
    let halfOpened = 0;
    for (let i = 0; i < 10_000; i++) {
      const b = new CircuitBreaker({ wheel, consecutiveFailures: 1, openDurationMs: 1000 + (i % 100) * 10 });
      b.on('halfOpen', () => halfOpened++);
      breakers.push(b);
    }
    expect(time.pendingTimers).toBe(0); // nothing to wait for: no timer at all
    for (const b of breakers) {
      take(b).failure();
      expect(time.pendingTimers).toBeLessThanOrEqual(1);
    }
    expect(wheel.size).toBe(10_000);
    for (let t = 0; t < 2000; t += 50) {
      time.advance(50);
      expect(time.pendingTimers).toBeLessThanOrEqual(1);
    }
    expect(halfOpened).toBe(10_000);
    expect(wheel.size).toBe(0);
    expect(time.pendingTimers).toBe(0);
    expect(breakers.every((b) => b.state === 'half-open')).toBe(true);
    // One timer armed per distinct deadline tick (100 here), not one per breaker.
    expect(time.timersSet).toBeLessThan(300);
  });

  it('costs little memory per breaker', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const wheel = new TimerWheel();
    gc();
    const before = process.memoryUsage().heapUsed;
    const breakers: CircuitBreaker[] = [];
    for (let i = 0; i < 10_000; i++) breakers.push(new CircuitBreaker({ wheel }));
    gc();
    const perBreaker = (process.memoryUsage().heapUsed - before) / breakers.length;
    // Measured about 0.6 KiB (see docs/benchmarks.md); opossum#648 reports megabytes.
    expect(perBreaker).toBeLessThan(2048);
    expect(breakers.length).toBe(10_000);
  });
});
