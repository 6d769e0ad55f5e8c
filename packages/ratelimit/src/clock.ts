import type { Clock, Timers } from './types.js';

/** The default clock: `performance.now()`, monotonic, in milliseconds. */
export const systemClock: Clock = {
  now(): number {
    return performance.now();
  },
};

/** The default timers: the global `setTimeout` / `clearTimeout`, unref'd so they never hold the process. */
export const systemTimers: Timers = {
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * A clock read once and shared: `now()` returns the time of the last `update()`. Reading the
 * system clock costs more than a token bucket decision; a proxy that updates one `CachedClock`
 * per request (or per event-loop turn, as Envoy's `approximateMonotonicTime`) and passes it to
 * its limiters pays for one clock read, not one per limiter.
 *
 * @example
 * ```ts
 * const clock = new CachedClock();
 * const bucket = new TokenBucket({ maxTokens: 100, fillIntervalMs: 1000, clock });
 * server.on('request', (req, res) => {
 *   clock.update();
 *   if (!bucket.tryConsume()) return reply(res, 429);
 * });
 * ```
 */
export class CachedClock implements Clock {
  #time: number;

  constructor(time: number = performance.now()) {
    this.#time = time;
  }

  /** The time of the last update, milliseconds. */
  now(): number {
    return this.#time;
  }

  /** Reads the system clock (or takes `time`) and returns the new time; never goes backwards. */
  update(time: number = performance.now()): number {
    if (time > this.#time) this.#time = time;
    return this.#time;
  }
}
