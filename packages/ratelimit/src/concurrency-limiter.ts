import { InvalidArgumentError } from '@meshlet/errors';
import { systemTimers } from './clock.js';
import type { Timers } from './types.js';
import { integerOption, numberOption, objectOption } from './validate.js';

/** Options of a {@link ConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** The most requests in flight at once. A positive integer. */
  readonly maxInFlight: number;
  /** The most requests waiting for a slot; beyond it `acquire` is refused at once. Default 0. */
  readonly maxQueue?: number;
  /** How long a request may wait in the queue, milliseconds. Default: no limit. */
  readonly queueTimeoutMs?: number;
  /** Timers for the queue timeout; default the global ones. */
  readonly timers?: Timers;
}

/** The outcome of {@link ConcurrencyLimiter.acquire}: a slot, or why there is none. */
export type AcquireResult =
  | { readonly ok: true; readonly reason: null }
  | { readonly ok: false; readonly reason: 'queue_full' | 'queue_timeout' };

const GRANTED: AcquireResult = Object.freeze({ ok: true, reason: null });
const QUEUE_FULL: AcquireResult = Object.freeze({ ok: false, reason: 'queue_full' });
const QUEUE_TIMEOUT: AcquireResult = Object.freeze({ ok: false, reason: 'queue_timeout' });

class Waiter {
  resolve: (result: AcquireResult) => void;
  timer: unknown = undefined;
  done = false;
  constructor(resolve: (result: AcquireResult) => void) {
    this.resolve = resolve;
  }
}

/**
 * A bulkhead: at most `maxInFlight` requests at once, then a bounded FIFO queue whose entries
 * give up after `queueTimeoutMs`. Every granted slot must be given back with {@link release}.
 *
 * @example
 * ```ts
 * const bulkhead = new ConcurrencyLimiter({ maxInFlight: 64, maxQueue: 256, queueTimeoutMs: 100 });
 * const slot = await bulkhead.acquire();
 * if (!slot.ok) return reply(503, slot.reason);
 * try { await handle(); } finally { bulkhead.release(); }
 * ```
 */
export class ConcurrencyLimiter {
  /** The most requests in flight at once. */
  readonly maxInFlight: number;
  /** The most requests waiting. */
  readonly maxQueue: number;
  /** Queue timeout, milliseconds (`Infinity`: none). */
  readonly queueTimeoutMs: number;
  readonly #timers: Timers;
  #inFlight = 0;
  #queued = 0;
  /** FIFO of waiters; entries before `#head` are gone, timed-out ones are skipped. */
  #queue: Waiter[] = [];
  #head = 0;

  constructor(options: ConcurrencyLimiterOptions) {
    objectOption('ConcurrencyLimiter options', options);
    this.maxInFlight = integerOption('maxInFlight', options.maxInFlight, 1);
    this.maxQueue = integerOption('maxQueue', options.maxQueue ?? 0, 0);
    this.queueTimeoutMs =
      options.queueTimeoutMs === undefined
        ? Infinity
        : numberOption('queueTimeoutMs', options.queueTimeoutMs, 0);
    this.#timers = options.timers ?? systemTimers;
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queued;
  }

  /** Takes a slot if one is free, without queueing. */
  tryAcquire(): boolean {
    if (this.#inFlight >= this.maxInFlight) return false;
    this.#inFlight++;
    return true;
  }

  /**
   * Takes a slot: at once (a value, no promise) when one is free or the queue is full, otherwise a
   * promise that settles when a slot is handed over or the queue timeout passes.
   */
  acquire(): AcquireResult | Promise<AcquireResult> {
    if (this.#inFlight < this.maxInFlight) {
      this.#inFlight++;
      return GRANTED;
    }
    if (this.#queued >= this.maxQueue) return QUEUE_FULL;
    return new Promise<AcquireResult>((resolve) => {
      const waiter = new Waiter(resolve);
      this.#queue.push(waiter);
      this.#queued++;
      if (this.queueTimeoutMs !== Infinity) {
        waiter.timer = this.#timers.setTimeout(() => {
          this.#expire(waiter);
        }, this.queueTimeoutMs);
      }
    });
  }

  /** Gives a slot back; the oldest waiter, if any, gets it. */
  release(): void {
    if (this.#inFlight === 0)
      throw new InvalidArgumentError('ConcurrencyLimiter.release() without a slot held');
    const waiter = this.#next();
    if (waiter === undefined) {
      this.#inFlight--;
      return;
    }
    // The slot passes straight to the waiter: inFlight is unchanged.
    waiter.done = true;
    this.#queued--;
    if (waiter.timer !== undefined) this.#timers.clearTimeout(waiter.timer);
    waiter.resolve(GRANTED);
  }

  #expire(waiter: Waiter): void {
    if (waiter.done) return;
    waiter.done = true;
    this.#queued--;
    // Timed-out entries are skipped lazily by release(); drop them all once none is waiting.
    if (this.#queued === 0) {
      this.#queue = [];
      this.#head = 0;
    }
    waiter.resolve(QUEUE_TIMEOUT);
  }

  #next(): Waiter | undefined {
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const waiter = queue[this.#head++] as Waiter;
      if (!waiter.done) {
        this.#compact();
        return waiter;
      }
    }
    this.#queue = [];
    this.#head = 0;
    return undefined;
  }

  #compact(): void {
    // Drop consumed entries once they are the larger part of the array: amortised O(1).
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
