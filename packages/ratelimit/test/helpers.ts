import type { Clock, Timers } from '../src/index.ts';

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  time: number;
  constructor(start = 1000) {
    this.time = start;
  }
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Timers that fire only when the test says so. */
export class ManualTimers implements Timers {
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  #next = 1;
  now = 0;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Moves time forward and fires what is due, in order. */
  advance(ms: number): void {
    this.now += ms;
    const due = [...this.pending].filter(([, t]) => t.at <= this.now).sort((a, b) => a[1].at - b[1].at);
    for (const [id, t] of due) {
      this.pending.delete(id);
      t.callback();
    }
  }
}
