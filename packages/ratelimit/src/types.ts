/** A monotonic clock in milliseconds. Injected so tests and simulations control time. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
}

/** Timers, injectable for deterministic tests. Defaults to the global `setTimeout`. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * How a {@link TokenBucket} refills:
 * - `interval`: Envoy's discrete `fill_interval`: `tokensPerFill` tokens arrive at once at each
 *   multiple of `fillIntervalMs` after the bucket was created (minimum 50 ms, as Envoy validates);
 * - `continuous`: tokens trickle in at `tokensPerFill / fillIntervalMs` per millisecond.
 */
export type RefillStyle = 'interval' | 'continuous';

/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Capacity, and the number of tokens the bucket starts with. A positive integer. */
  readonly maxTokens: number;
  /** Tokens added per fill interval. A positive integer; default 1 (as Envoy). */
  readonly tokensPerFill?: number;
  /** The fill interval in milliseconds; at least 50 with `refill: 'interval'`. */
  readonly fillIntervalMs: number;
  /** Refill style; default `'interval'` (Envoy's). */
  readonly refill?: RefillStyle;
  /** Clock; default `performance.now`. */
  readonly clock?: Clock;
}

/** The outcome of one rate-limit check: a value, never an exception. */
export interface Decision {
  /** Whether the request is admitted (its tokens were taken). */
  readonly allowed: boolean;
  /** The quota of the limit that decided (a bucket's `maxTokens`, a window's `limit`). */
  readonly limit: number;
  /** Whole tokens (requests) left after this decision. */
  readonly remaining: number;
  /**
   * Milliseconds until the limit next gives tokens back: the next fill of an `interval` bucket or
   * the end of a window; for a `continuous` bucket, until the request would fit when it was
   * denied, else until one more whole token arrives (0 when full).
   */
  readonly resetAfterMs: number;
}

/** One `key`/`value` entry of a rate limit descriptor (Envoy's `RateLimitDescriptor.Entry`). */
export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

/** A rate limit descriptor: an ordered list of entries (Envoy's `RateLimitDescriptor`). */
export interface RateLimitDescriptor {
  readonly entries: readonly DescriptorEntry[];
}
