import { systemClock } from './clock.js';
import type { Clock, Decision } from './types.js';
import { checkCount, integerOption, numberOption, objectOption } from './validate.js';

/** Options of a {@link SlidingWindow}. */
export interface SlidingWindowOptions {
  /** Requests allowed per window. A positive integer. */
  readonly limit: number;
  /** The window length, milliseconds. */
  readonly windowMs: number;
  /** Clock; default `performance.now`. */
  readonly clock?: Clock;
}

/**
 * A sliding window rate limit, by the counter approximation (as Cloudflare and nginx describe
 * it): two fixed windows are counted, and the previous one is weighted by how much of it the
 * sliding window still covers, `previous × (1 − elapsed/window) + current`. Two numbers of state
 * instead of a log of timestamps. Within any one fixed window at most `limit` are admitted.
 *
 * @example
 * ```ts
 * const window = new SlidingWindow({ limit: 100, windowMs: 60_000 });
 * if (!window.consume().allowed) reply(429);
 * ```
 */
export class SlidingWindow {
  /** Requests allowed per window. */
  readonly limit: number;
  /** The window length, milliseconds. */
  readonly windowMs: number;
  readonly #clock: Clock;
  #windowStart: number;
  #current = 0;
  #previous = 0;

  constructor(options: SlidingWindowOptions) {
    objectOption('SlidingWindow options', options);
    this.limit = integerOption('limit', options.limit, 1);
    this.windowMs = numberOption('windowMs', options.windowMs, 1);
    this.#clock = options.clock ?? systemClock;
    this.#windowStart = this.#clock.now();
  }

  /** Counts `n` requests (default 1) if the weighted count leaves room for them, all or nothing. */
  consume(n = 1): Decision {
    checkCount(n);
    const now = this.#clock.now();
    const elapsed = this.#advance(now);
    const weight = (this.windowMs - elapsed) / this.windowMs;
    const estimate = this.#previous * weight + this.#current;
    const allowed = estimate + n <= this.limit;
    if (allowed) this.#current += n;
    const left = this.limit - estimate - (allowed ? n : 0);
    return {
      allowed,
      limit: this.limit,
      remaining: left > 0 ? Math.floor(left) : 0,
      resetAfterMs: this.windowMs - elapsed,
    };
  }

  /** Rolls the windows forward to `now`; returns the time elapsed in the current window. */
  #advance(now: number): number {
    let elapsed = now - this.#windowStart;
    if (elapsed < this.windowMs) return elapsed > 0 ? elapsed : 0;
    const windows = Math.floor(elapsed / this.windowMs);
    this.#previous = windows === 1 ? this.#current : 0;
    this.#current = 0;
    this.#windowStart += windows * this.windowMs;
    elapsed -= windows * this.windowMs;
    return elapsed;
  }
}
