// A clock and a scheduler that only move when a test says so: timers fire in deadline order,
// each with the clock set to its deadline, so tests are deterministic and never sleep. One copy
// for every package's tests (@meshlet/breaker, @meshlet/proxy) and the cross-package tests here.
import type { Clock, Scheduler } from '@meshlet/breaker';

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** A clock (`now`, usable detached) and a `Scheduler` whose timers fire only in `advance`. */
export class FakeTime implements Clock, Scheduler {
  #now: number;
  #nextId = 1;
  #pending: Pending[] = [];
  /** setTimeout calls so far. */
  timersSet = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  /** The current time; an arrow, so `{ now: time.now }` works. */
  readonly now = (): number => this.#now;

  /** Timers pending now. */
  get pendingTimers(): number {
    return this.#pending.length;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.#nextId++;
    this.timersSet++;
    this.#pending.push({ id, at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending = this.#pending.filter((p) => p.id !== handle);
  }

  /** Moves the clock forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.#pending) if (p.at <= target && (!next || p.at < next.at)) next = p;
      if (!next) break;
      const due = next;
      this.#pending = this.#pending.filter((p) => p !== due);
      this.#now = Math.max(this.#now, due.at);
      due.callback();
    }
    this.#now = target;
  }
}
