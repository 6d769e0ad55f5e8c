import { performance } from 'node:perf_hooks';
import type { Clock, Scheduler } from './types.js';

/**
 * The real clock: `performance.now()`, in milliseconds. Imported from node:perf_hooks rather than
 * read from the global, whose lazy getter made each read about twice as slow (measured).
 */
export const systemClock: Clock = { now: () => performance.now() };

/** The real scheduler: Node's `setTimeout`, with the handle unref'd so it never keeps the process alive. */
export const systemScheduler: Scheduler = {
  setTimeout(callback: () => void, delayMs: number): unknown {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
