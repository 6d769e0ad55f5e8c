import { systemClock } from './clock.js';
import type { Clock, Decision, RefillStyle, TokenBucketOptions } from './types.js';
import { checkCount, integerOption, numberOption, objectOption, oneOf } from './validate.js';

/** Envoy rejects a `fill_interval` under 50 ms ("to avoid too aggressive refills"). */
export const MIN_FILL_INTERVAL_MS = 50;

/**
 * A token bucket without timers: tokens are refilled lazily, from the clock, when the bucket is
 * asked. It starts full. Two refill styles ({@link RefillStyle}): Envoy's discrete fill interval,
 * or a continuous rate.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ maxTokens: 100, tokensPerFill: 10, fillIntervalMs: 1000 });
 * const d = bucket.consume();
 * if (!d.allowed) reply(429, { 'retry-after': Math.ceil(d.resetAfterMs / 1000) });
 * ```
 */
export class TokenBucket {
  /** Capacity: the most tokens the bucket holds. */
  readonly maxTokens: number;
  /** Tokens added per fill interval. */
  readonly tokensPerFill: number;
  /** The fill interval, milliseconds. */
  readonly fillIntervalMs: number;
  /** The refill style. */
  readonly refill: RefillStyle;
  readonly #continuous: boolean;
  /** Tokens per millisecond (continuous style). */
  readonly #rate: number;
  readonly #clock: Clock;
  #tokens: number;
  /** Interval style: the time of the last fill boundary. Continuous: the time of the last refill. */
  #last: number;

  constructor(options: TokenBucketOptions) {
    objectOption('TokenBucket options', options);
    this.maxTokens = integerOption('maxTokens', options.maxTokens, 1);
    this.tokensPerFill = integerOption('tokensPerFill', options.tokensPerFill ?? 1, 1);
    const refill = oneOf('refill', options.refill ?? 'interval', ['interval', 'continuous'] as const);
    this.refill = refill;
    this.#continuous = refill === 'continuous';
    this.fillIntervalMs = numberOption(
      'fillIntervalMs',
      options.fillIntervalMs,
      this.#continuous ? Number.MIN_VALUE : MIN_FILL_INTERVAL_MS,
    );
    this.#rate = this.tokensPerFill / this.fillIntervalMs;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.maxTokens;
    this.#last = this.#clock.now();
  }

  /**
   * Takes `n` tokens (default 1) if the bucket holds them, all or nothing, and says so. `n = 0`
   * only looks. A request larger than `maxTokens` is never allowed.
   */
  consume(n = 1): Decision {
    checkCount(n);
    const now = this.#clock.now();
    this.#refill(now);
    const allowed = this.#tokens >= n;
    if (allowed) this.#tokens -= n;
    return {
      allowed,
      limit: this.maxTokens,
      remaining: Math.floor(this.#tokens),
      resetAfterMs: this.#resetAfter(now, allowed, n),
    };
  }

  /** Like {@link consume} but returns only whether the tokens were taken: no allocation. */
  tryConsume(n = 1): boolean {
    checkCount(n);
    this.#refill(this.#clock.now());
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Whole tokens available now. */
  get available(): number {
    this.#refill(this.#clock.now());
    return Math.floor(this.#tokens);
  }

  /**
   * Milliseconds until the bucket next gains tokens: the next fill boundary (`interval`, even when
   * full, as Envoy reports it), or the next whole token (`continuous`; 0 when full).
   */
  get msUntilNextFill(): number {
    const now = this.#clock.now();
    this.#refill(now);
    return this.#resetAfter(now, true, 1);
  }

  /** Milliseconds until the bucket is full again (0 when it is). */
  get msUntilFull(): number {
    const now = this.#clock.now();
    this.#refill(now);
    const missing = this.maxTokens - this.#tokens;
    if (missing <= 0) return 0;
    if (this.#continuous) return missing / this.#rate;
    const fills = Math.ceil(missing / this.tokensPerFill);
    return (fills - 1) * this.fillIntervalMs + (this.#last + this.fillIntervalMs - now);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (this.#continuous) {
      if (elapsed <= 0) return;
      this.#last = now;
      const tokens = this.#tokens + elapsed * this.#rate;
      this.#tokens = tokens < this.maxTokens ? tokens : this.maxTokens;
      return;
    }
    if (elapsed < this.fillIntervalMs) return;
    const fills = Math.floor(elapsed / this.fillIntervalMs);
    // Boundaries stay on the grid of the creation time, so a late check does not delay later fills.
    this.#last += fills * this.fillIntervalMs;
    const tokens = this.#tokens + fills * this.tokensPerFill;
    this.#tokens = tokens < this.maxTokens ? tokens : this.maxTokens;
  }

  #resetAfter(now: number, allowed: boolean, n: number): number {
    if (!this.#continuous) return this.#last + this.fillIntervalMs - now;
    const tokens = this.#tokens;
    if (tokens >= this.maxTokens) return 0;
    // Denied: until the request fits (or the bucket is full, for one that never will).
    // Allowed: until the next whole token.
    const target = allowed ? Math.floor(tokens) + 1 : Math.min(n, this.maxTokens);
    return (target - tokens) / this.#rate;
  }
}
