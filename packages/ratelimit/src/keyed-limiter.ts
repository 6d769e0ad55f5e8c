import { LRUCache } from 'lru-cache';
import { systemClock } from './clock.js';
import { TokenBucket } from './token-bucket.js';
import type { Clock, Decision, RefillStyle } from './types.js';
import { checkCount, integerOption, numberOption, objectOption } from './validate.js';

/** Options of {@link createKeyedLimiter}. */
export interface KeyedLimiterOptions {
  /** The most keys tracked at once; the least recently used key is evicted beyond it. */
  readonly maxKeys: number;
  /**
   * Milliseconds a key's state lives after its last use. Choose at least the time a bucket takes
   * to fill from empty (`maxTokens / tokensPerFill × fillIntervalMs`): a key idle that long would
   * be full anyway, so forgetting it changes no decision.
   */
  readonly ttlMs: number;
  /** The bucket every key gets (see {@link TokenBucket}). */
  readonly bucket: {
    readonly maxTokens: number;
    readonly tokensPerFill?: number;
    readonly fillIntervalMs: number;
    readonly refill?: RefillStyle;
  };
  /** Clock for the buckets and the TTL; default `performance.now`. */
  readonly clock?: Clock;
}

/** A rate limit per key (client address, user id, header value), with bounded memory. */
export interface KeyedLimiter {
  /** Takes `n` tokens (default 1) from `key`'s bucket, creating a full bucket for a new key. */
  consume(key: string, n?: number): Decision;
  /** Keys tracked now (at most `maxKeys`). */
  readonly size: number;
  /** The bound on tracked keys. */
  readonly maxKeys: number;
  /** Keys evicted so far because `maxKeys` was reached (TTL expiries are not counted). */
  readonly evictions: number;
  /** Forgets one key. */
  delete(key: string): boolean;
  /** Forgets every key. */
  clear(): void;
}

class LruKeyedLimiter implements KeyedLimiter {
  readonly maxKeys: number;
  readonly #cache: LRUCache<string, TokenBucket>;
  readonly #bucket: ConstructorParameters<typeof TokenBucket>[0];
  #evictions = 0;

  constructor(options: KeyedLimiterOptions) {
    objectOption('createKeyedLimiter options', options);
    this.maxKeys = integerOption('maxKeys', options.maxKeys, 1, 2 ** 30);
    const ttl = numberOption('ttlMs', options.ttlMs, 1);
    const clock = options.clock ?? systemClock;
    objectOption('bucket', options.bucket);
    this.#bucket = { ...options.bucket, clock };
    // Validate the bucket options once, now, rather than at the first key.
    new TokenBucket(this.#bucket);
    this.#cache = new LRUCache<string, TokenBucket>({
      max: this.maxKeys,
      ttl,
      updateAgeOnGet: true,
      // Expired entries are dropped when touched or when the LRU end is reached: no timer.
      ttlAutopurge: false,
      perf: clock,
      // Read the clock at every check: lru-cache's default caches it for 1 ms behind a timer,
      // which an injected clock does not drive.
      ttlResolution: 0,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.#evictions++;
      },
    });
  }

  consume(key: string, n = 1): Decision {
    // A bad count must not leave a new key behind.
    checkCount(n);
    let bucket = this.#cache.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.#bucket);
      this.#cache.set(key, bucket);
    }
    return bucket.consume(n);
  }

  get size(): number {
    return this.#cache.size;
  }

  get evictions(): number {
    return this.#evictions;
  }

  delete(key: string): boolean {
    return this.#cache.delete(key);
  }

  clear(): void {
    this.#cache.clear();
  }
}

/**
 * A token bucket per key, kept in an `lru-cache` bounded by `maxKeys` and `ttlMs`, so a flood of
 * distinct keys cannot exhaust memory.
 *
 * Eviction: a key pushed out by the bound, or idle past the TTL, loses its bucket; if it comes
 * back it starts with a full bucket. With `ttlMs` at least the time to refill a bucket, expiry
 * never changes a decision; eviction under a flood of more than `maxKeys` active keys can admit an
 * evicted key up to `maxTokens` more than it would have had.
 *
 * @example
 * ```ts
 * const perClient = createKeyedLimiter({
 *   maxKeys: 100_000,
 *   ttlMs: 60_000,
 *   bucket: { maxTokens: 20, tokensPerFill: 10, fillIntervalMs: 1000 },
 * });
 * if (!perClient.consume(req.socket.remoteAddress ?? '').allowed) reply(429);
 * ```
 */
export function createKeyedLimiter(options: KeyedLimiterOptions): KeyedLimiter {
  return new LruKeyedLimiter(options);
}
