/** A source of time in milliseconds; only differences matter. Injected so tests control time. */
export interface Clock {
  now(): number;
}

/** Sets and clears one-shot timers: Node's `setTimeout` by default, a fake one in tests. */
export interface Scheduler {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}
