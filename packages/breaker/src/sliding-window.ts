// The two rolling windows a breaker can count outcomes in. Both keep running totals, so adding
// an outcome and reading the rates are O(1) (the time window also clears the buckets it skips
// over, at most `buckets` of them).

/** Outcome bits stored per call. */
export const FAILED = 1;
export const SLOW = 2;

/** What a breaker needs from a window. */
export interface OutcomeWindow {
  calls: number;
  failures: number;
  slow: number;
  add(code: number, now: number): void;
  reset(): void;
}

/**
 * The last `size` calls, in a ring:
 *
 * ```
 *  ring: [ f | . | s | f | . ]   pos = next write; once full, a write first subtracts
 *                  ^pos           the outcome it overwrites
 * ```
 */
export class CountWindow implements OutcomeWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  readonly size: number;
  readonly #ring: Uint8Array;
  #pos = 0;

  constructor(size: number) {
    this.size = size;
    this.#ring = new Uint8Array(size);
  }

  add(code: number, _now: number): void {
    const pos = this.#pos;
    if (this.calls === this.size) {
      const old = this.#ring[pos] as number;
      this.failures -= old & FAILED;
      this.slow -= (old & SLOW) >> 1;
    } else {
      this.calls++;
    }
    this.#ring[pos] = code;
    this.failures += code & FAILED;
    this.slow += (code & SLOW) >> 1;
    this.#pos = pos + 1 === this.size ? 0 : pos + 1;
  }

  reset(): void {
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
    this.#pos = 0;
  }

  /** The outcome codes held, oldest first. */
  outcomes(): number[] {
    const out: number[] = [];
    const start = this.calls === this.size ? this.#pos : 0;
    for (let i = 0; i < this.calls; i++) out.push(this.#ring[(start + i) % this.size] as number);
    return out;
  }
}

/**
 * The calls of the last `buckets` buckets of `durationMs / buckets` each (the current bucket
 * included). A bucket is identified by `floor(now / bucketMs)`; a bucket not written for a whole
 * window is cleared before reuse.
 */
export class TimeWindow implements OutcomeWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  readonly buckets: number;
  readonly bucketMs: number;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #slow: Uint32Array;
  /** Absolute bucket number of the newest bucket written. */
  #head = -Infinity;

  constructor(durationMs: number, buckets: number) {
    this.buckets = buckets;
    this.bucketMs = durationMs / buckets;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#slow = new Uint32Array(buckets);
  }

  /** Moves the window to `now`, dropping the buckets that fell out of it. */
  roll(now: number): void {
    const bucket = Math.floor(now / this.bucketMs);
    if (bucket <= this.#head) return;
    if (bucket - this.#head >= this.buckets) {
      this.#calls.fill(0);
      this.#failures.fill(0);
      this.#slow.fill(0);
      this.calls = 0;
      this.failures = 0;
      this.slow = 0;
    } else {
      for (let b = this.#head + 1; b <= bucket; b++) {
        const i = mod(b, this.buckets);
        this.calls -= this.#calls[i] as number;
        this.failures -= this.#failures[i] as number;
        this.slow -= this.#slow[i] as number;
        this.#calls[i] = 0;
        this.#failures[i] = 0;
        this.#slow[i] = 0;
      }
    }
    this.#head = bucket;
  }

  add(code: number, now: number): void {
    this.roll(now);
    const i = mod(this.#head, this.buckets);
    const failed = code & FAILED;
    const slow = (code & SLOW) >> 1;
    this.#calls[i] = (this.#calls[i] as number) + 1;
    this.#failures[i] = (this.#failures[i] as number) + failed;
    this.#slow[i] = (this.#slow[i] as number) + slow;
    this.calls++;
    this.failures += failed;
    this.slow += slow;
  }

  reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
    this.#head = -Infinity;
  }

  /** `[calls, failures, slow]` per bucket, oldest first, the last one being the bucket of `now`. */
  snapshot(now: number): [number, number, number][] {
    this.roll(now);
    const out: [number, number, number][] = [];
    for (let age = this.buckets - 1; age >= 0; age--) {
      const b = Math.floor(now / this.bucketMs) - age;
      const i = mod(b, this.buckets);
      const live = b <= this.#head && b > this.#head - this.buckets;
      out.push(
        live ? [this.#calls[i] as number, this.#failures[i] as number, this.#slow[i] as number] : [0, 0, 0],
      );
    }
    return out;
  }

  /** Loads buckets as returned by `snapshot`, the last one becoming the bucket of `now`. */
  restore(buckets: readonly (readonly [number, number, number])[], now: number): void {
    this.reset();
    const newest = Math.floor(now / this.bucketMs);
    this.#head = newest;
    const first = newest - buckets.length + 1;
    buckets.forEach(([calls, failures, slow], k) => {
      const b = first + k;
      if (b <= newest - this.buckets) return;
      const i = mod(b, this.buckets);
      this.#calls[i] = calls;
      this.#failures[i] = failures;
      this.#slow[i] = slow;
      this.calls += calls;
      this.failures += failures;
      this.slow += slow;
    });
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}
