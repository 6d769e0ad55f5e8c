import type { Clock, Timers } from './types.js';

/** The default clock: `performance.now()`, monotonic, in milliseconds. */
export const systemClock: Clock = {
  now(): number {
    return performance.now();
  },
};

/** The default timers: the global `setTimeout` / `clearTimeout`, unref'd so they never hold the process. */
export const systemTimers: Timers = {
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
