import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, ConfigError, InvalidArgumentError } from '../src/index.ts';
import { ManualTimers } from './helpers.ts';

describe('ConcurrencyLimiter', () => {
  it('grants up to maxInFlight at once, synchronously', () => {
    const limiter = new ConcurrencyLimiter({ maxInFlight: 2 });
    expect(limiter.acquire()).toEqual({ ok: true, reason: null });
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    expect(limiter.acquire()).toEqual({ ok: false, reason: 'queue_full' });
    expect(limiter.inFlight).toBe(2);
  });

  it('queues in FIFO order up to maxQueue and hands a released slot to the oldest waiter', async () => {
    const limiter = new ConcurrencyLimiter({ maxInFlight: 1, maxQueue: 2 });
    expect(limiter.tryAcquire()).toBe(true);
    const order: string[] = [];
    const a = Promise.resolve(limiter.acquire()).then((r) => order.push(`a:${r.ok}`));
    const b = Promise.resolve(limiter.acquire()).then((r) => order.push(`b:${r.ok}`));
    expect(limiter.acquire()).toEqual({ ok: false, reason: 'queue_full' });
    expect(limiter.queued).toBe(2);
    limiter.release();
    expect(limiter.inFlight).toBe(1);
    limiter.release();
    await Promise.all([a, b]);
    expect(order).toEqual(['a:true', 'b:true']);
    limiter.release();
    expect(limiter.inFlight).toBe(0);
    expect(() => {
      limiter.release();
    }).toThrow(InvalidArgumentError);
  });

  it('a waiter gives up after queueTimeoutMs, and a later release skips it', async () => {
    const timers = new ManualTimers();
    const limiter = new ConcurrencyLimiter({ maxInFlight: 1, maxQueue: 5, queueTimeoutMs: 100, timers });
    limiter.tryAcquire();
    const first = limiter.acquire();
    timers.advance(50);
    const second = limiter.acquire();
    timers.advance(50); // the first times out
    expect(await first).toEqual({ ok: false, reason: 'queue_timeout' });
    expect(limiter.queued).toBe(1);
    limiter.release();
    expect(await second).toEqual({ ok: true, reason: null });
    expect(timers.pending.size).toBe(0);
    expect(limiter.inFlight).toBe(1);
  });

  it('rejects bad options', () => {
    expect(() => new ConcurrencyLimiter({ maxInFlight: 0 })).toThrow(ConfigError);
    expect(() => new ConcurrencyLimiter({ maxInFlight: 1, maxQueue: -1 })).toThrow(ConfigError);
    expect(() => new ConcurrencyLimiter({ maxInFlight: 1, queueTimeoutMs: -5 })).toThrow(ConfigError);
  });

  it('property: never more than maxInFlight granted and maxQueue waiting; every waiter settles once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.constantFrom('acquire', 'release', 'tick'), { maxLength: 60 }),
        async (maxInFlight, maxQueue, ops) => {
          const timers = new ManualTimers();
          const limiter = new ConcurrencyLimiter({ maxInFlight, maxQueue, queueTimeoutMs: 10, timers });
          let holding = 0; // slots granted and not yet released
          let settled = 0;
          let started = 0;
          const settle = (r: { ok: boolean }): void => {
            settled++;
            if (r.ok) holding++;
          };
          for (const op of ops) {
            if (op === 'acquire') {
              const r = limiter.acquire();
              if (r instanceof Promise) {
                started++;
                void r.then(settle);
              } else if (r.ok) holding++;
            } else if (op === 'release' && holding > 0) {
              holding--;
              limiter.release();
            } else if (op === 'tick') timers.advance(5);
            await Promise.resolve();
            expect(limiter.inFlight).toBeLessThanOrEqual(maxInFlight);
            expect(limiter.queued).toBeLessThanOrEqual(maxQueue);
            expect(holding).toBeLessThanOrEqual(maxInFlight);
          }
          timers.advance(10);
          await Promise.resolve();
          await Promise.resolve();
          expect(settled).toBe(started);
          expect(limiter.queued).toBe(0);
          expect(limiter.inFlight).toBe(holding);
        },
      ),
    );
  });
});
