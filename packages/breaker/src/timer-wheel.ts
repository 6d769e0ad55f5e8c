import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import { systemClock, systemScheduler } from './clock.js';
import type { Clock, Scheduler } from './types.js';

/** `_tick` of an entry collected by `advance()` and about to fire. */
const FIRING = -2;

/**
 * One deadline on a {@link TimerWheel}. An owner keeps its entry and reschedules it (a breaker
 * has one for its whole life), so scheduling allocates nothing. The wheel calls `fire()` when
 * the deadline has passed; the default `fire()` calls the constructor's callback.
 */
export class TimerEntry {
  /** @internal Absolute deadline, clock milliseconds. */
  _due = 0;
  /** @internal Wheel tick the entry sits in, or -1 when not scheduled. */
  _tick = -1;
  /** @internal Order of scheduling, to fire equal deadlines first-come first-served. */
  _seq = 0;
  /** @internal Links of the slot's doubly linked list. */
  _prev: TimerEntry | null = null;
  /** @internal */
  _next: TimerEntry | null = null;
  readonly #callback: (() => void) | undefined;

  constructor(callback?: () => void) {
    this.#callback = callback;
  }

  /** Whether the entry is waiting on a wheel. */
  get scheduled(): boolean {
    return this._tick !== -1;
  }

  /** Called by the wheel once the deadline has passed. Subclasses may override it. */
  fire(): void {
    this.#callback?.();
  }
}

/** Options of {@link TimerWheel}. */
export interface TimerWheelOptions {
  /** Resolution in milliseconds: deadlines fire at most this late. Default 10. */
  readonly tickMs?: number;
  /** Slots of the wheel, a power of two; one turn spans `slots * tickMs`. Default 512. */
  readonly slots?: number;
  /** Time source. Default `performance.now()`. */
  readonly clock?: Clock;
  /** Sets the single underlying timer. Default Node's `setTimeout`, unref'd. */
  readonly scheduler?: Scheduler;
}

/**
 * A hashed timer wheel: any number of deadlines on ONE underlying timer. Schedule and cancel are
 * O(1) (a doubly linked list per slot); the timer is armed only while entries are waiting, for
 * the first non-empty slot, so an idle wheel costs nothing and a wheel of 10,000 open breakers
 * costs one timer. Deadlines are coarse: an entry fires within one tick after its deadline.
 *
 * ```
 *  slots: [0] -> e -> e     entry tick = ceil(due / tickMs); slot = tick & (slots - 1)
 *         [1]               entries of a later turn share the slot and are skipped until due
 *         [2] -> e
 * ```
 *
 * @example
 * ```ts
 * const wheel = new TimerWheel({ tickMs: 50 });
 * const a = new CircuitBreaker({ wheel });
 * const b = new CircuitBreaker({ wheel }); // both open/half-open on the same timer
 * ```
 */
export class TimerWheel {
  /** Resolution in milliseconds. */
  readonly tickMs: number;
  /** The wheel's time source; breakers on this wheel use it too. */
  readonly clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #slots: (TimerEntry | null)[];
  readonly #mask: number;
  #size = 0;
  /** Last tick processed: every entry of a tick <= cursor has fired. */
  #cursor: number;
  #handle: unknown = null;
  #armedTick = Infinity;
  #arms = 0;
  #seq = 0;
  readonly #onTimer: () => void;

  constructor(options: TimerWheelOptions = {}) {
    const { tickMs = 10, slots = 512, clock = systemClock, scheduler = systemScheduler } = options;
    if (!(Number.isFinite(tickMs) && tickMs > 0)) {
      throw new ConfigError(
        `TimerWheel: tickMs must be a positive number of milliseconds, got ${String(tickMs)}`,
      );
    }
    if (!(Number.isInteger(slots) && slots >= 2 && slots <= 1 << 20 && (slots & (slots - 1)) === 0)) {
      throw new ConfigError(`TimerWheel: slots must be a power of two in [2, 2**20], got ${String(slots)}`);
    }
    this.tickMs = tickMs;
    this.clock = clock;
    this.#scheduler = scheduler;
    this.#slots = new Array<TimerEntry | null>(slots).fill(null);
    this.#mask = slots - 1;
    this.#cursor = Math.floor(clock.now() / tickMs);
    // One bound function per wheel, not one per deadline.
    this.#onTimer = () => {
      this.#handle = null;
      this.#armedTick = Infinity;
      this.advance();
    };
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** Whether the underlying timer is set (it is whenever `size > 0`). */
  get armed(): boolean {
    return this.#handle !== null;
  }

  /** How many times the underlying timer was set since construction (for tests and tuning). */
  get timersSet(): number {
    return this.#arms;
  }

  /** Schedules `entry` to fire `delayMs` from now, moving it if it was already scheduled. */
  schedule(entry: TimerEntry, delayMs: number): void {
    if (!(delayMs >= 0)) {
      throw new InvalidArgumentError(`TimerWheel.schedule: delayMs must be >= 0, got ${String(delayMs)}`);
    }
    if (entry._tick !== -1) this.cancel(entry);
    const due = this.clock.now() + delayMs;
    // A deadline in a tick already processed goes to the next tick, or it would wait a turn.
    const tick = Math.max(Math.ceil(due / this.tickMs), this.#cursor + 1);
    entry._due = due;
    entry._tick = tick;
    entry._seq = this.#seq++;
    const slot = tick & this.#mask;
    const head = this.#slots[slot] ?? null;
    entry._prev = null;
    entry._next = head;
    if (head) head._prev = entry;
    this.#slots[slot] = entry;
    this.#size++;
    if (tick < this.#armedTick) this.#arm(tick);
  }

  /** Removes `entry` if it is scheduled; returns whether it was. O(1). */
  cancel(entry: TimerEntry): boolean {
    const tick = entry._tick;
    if (tick === -1) return false;
    entry._tick = -1;
    // FIRING: collected by advance() and not yet fired; it is out of the slots already.
    if (tick === FIRING) return true;
    this.#unlink(entry, tick);
    // The timer is left armed: waking once for nothing is cheaper than finding the next deadline.
    return true;
  }

  #unlink(entry: TimerEntry, tick: number): void {
    const prev = entry._prev;
    const next = entry._next;
    if (prev) prev._next = next;
    else this.#slots[tick & this.#mask] = next;
    if (next) next._prev = prev;
    entry._prev = null;
    entry._next = null;
    this.#size--;
  }

  /**
   * Fires every entry whose deadline has passed and re-arms the timer. The timer calls it; a host
   * loop or a test may call it too. Returns how many entries fired.
   */
  advance(): number {
    const now = this.clock.now();
    const target = Math.floor(now / this.tickMs);
    let due: TimerEntry[] | undefined;
    if (target > this.#cursor && this.#size > 0) {
      // Past a whole turn every slot is visited once; the tick check keeps later turns waiting.
      const turns = Math.min(target - this.#cursor, this.#slots.length);
      for (let i = 1; i <= turns; i++) {
        let entry = this.#slots[(this.#cursor + i) & this.#mask] ?? null;
        while (entry) {
          const next: TimerEntry | null = entry._next;
          if (entry._tick <= target) {
            this.#unlink(entry, entry._tick);
            // Collected first, fired after: a callback may schedule or cancel any entry,
            // this one or one still waiting to fire, and the slots must be consistent then.
            entry._tick = FIRING;
            (due ??= []).push(entry);
          }
          entry = next;
        }
      }
    }
    if (target > this.#cursor) this.#cursor = target;
    let count = 0;
    if (due) {
      // Deadline order, then scheduling order (a slot's list is newest first).
      if (due.length > 1) due.sort(byDeadline);
      for (const entry of due) {
        if (entry._tick !== FIRING) continue; // cancelled or rescheduled by an earlier callback
        entry._tick = -1;
        count++;
        entry.fire();
      }
    }
    this.#rearm();
    return count;
  }

  #rearm(): void {
    if (this.#size === 0) {
      if (this.#handle !== null) this.#scheduler.clearTimeout(this.#handle);
      this.#handle = null;
      this.#armedTick = Infinity;
      return;
    }
    // The first non-empty slot ahead is a lower bound of the next deadline (an entry there may
    // belong to a later turn: then the wheel wakes once early, finds nothing due, and re-arms).
    const slots = this.#slots.length;
    for (let i = 1; i <= slots; i++) {
      const tick = this.#cursor + i;
      if (this.#slots[tick & this.#mask]) {
        if (this.#handle === null || tick < this.#armedTick || this.#armedTick <= this.#cursor)
          this.#arm(tick);
        return;
      }
    }
  }

  #arm(tick: number): void {
    if (this.#handle !== null) this.#scheduler.clearTimeout(this.#handle);
    this.#armedTick = tick;
    this.#arms++;
    this.#handle = this.#scheduler.setTimeout(
      this.#onTimer,
      Math.max(1, tick * this.tickMs - this.clock.now()),
    );
  }
}

function byDeadline(a: TimerEntry, b: TimerEntry): number {
  return a._due - b._due || a._seq - b._seq;
}

let shared: TimerWheel | undefined;

/** The process-wide wheel every breaker uses unless given its own: created on first use. */
export function sharedTimerWheel(): TimerWheel {
  shared ??= new TimerWheel();
  return shared;
}
