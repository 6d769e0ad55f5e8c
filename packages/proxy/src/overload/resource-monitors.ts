// The resource monitors of the overload manager: each reports a pressure, the fraction of its
// limit in use (0 to 1, above 1 when over it).
import { getHeapStatistics } from 'node:v8';
import type * as model from '@meshlet/xds';
import type { OverloadState } from './overload-state.js';

/** Samples the event loop's delay between refreshes. */
export interface EventLoopDelaySampler {
  /** The delay at percentile `p` (0–100) since the last `reset()`, in milliseconds. */
  percentileMs(p: number): number;
  /** Starts a new interval. */
  reset(): void;
  /** Stops sampling. */
  close(): void;
}

/** Where the resource monitors read the process's state. Defaults measure this process; tests inject. */
export interface ResourceSources {
  /** V8 heap bytes in use. Default: `v8.getHeapStatistics().used_heap_size`. */
  readonly heapUsed?: () => number;
  /** A new event-loop delay sampler. Default: a 10 ms interval timer measuring its own lateness. */
  readonly eventLoopDelay?: () => EventLoopDelaySampler;
}

/** One resource monitor. */
export interface ResourceMonitor {
  readonly name: string;
  /** The current pressure; may throw (counted as a failed update, the last pressure kept). */
  pressure(): number;
  close(): void;
}

class FixedHeapMonitor implements ResourceMonitor {
  readonly name: string;
  private readonly max: number;
  private readonly used: () => number;

  constructor(config: { name: string; maxHeapSizeBytes: number }, used: () => number) {
    this.name = config.name;
    this.max = config.maxHeapSizeBytes;
    this.used = used;
  }

  pressure(): number {
    return this.used() / this.max;
  }

  close(): void {
    // Nothing held.
  }
}

class DownstreamConnectionsMonitor implements ResourceMonitor {
  readonly name: string;
  private readonly max: number;
  private readonly state: OverloadState;

  constructor(config: { name: string; maxActiveDownstreamConnections: number }, state: OverloadState) {
    this.name = config.name;
    this.max = config.maxActiveDownstreamConnections;
    this.state = state;
  }

  pressure(): number {
    return this.state.connections / this.max;
  }

  close(): void {
    // Nothing held.
  }
}

class EventLoopDelayMonitor implements ResourceMonitor {
  readonly name: string;
  private readonly maxDelayMs: number;
  private readonly percentile: number;
  private readonly sampler: EventLoopDelaySampler;

  constructor(
    config: { name: string; maxDelayMs: number; percentile: number },
    sampler: EventLoopDelaySampler,
  ) {
    this.name = config.name;
    this.maxDelayMs = config.maxDelayMs;
    this.percentile = config.percentile;
    this.sampler = sampler;
  }

  pressure(): number {
    const delay = this.sampler.percentileMs(this.percentile);
    this.sampler.reset();
    return delay / this.maxDelayMs;
  }

  close(): void {
    this.sampler.close();
  }
}

/** Samples kept between two reads: 5 s at the 10 ms resolution, more than any refresh interval needs. */
const SAMPLES = 512;
const RESOLUTION_MS = 10;

/**
 * An unref'd 10 ms interval timer that records how late each tick fires: the event loop's delay.
 * (perf_hooks.monitorEventLoopDelay was tried first: it stops recording while the loop never goes
 * idle, e.g. under a stream of setImmediate callbacks, which is when a delay matters most.)
 */
class TimerSampler implements EventLoopDelaySampler {
  private readonly delays = new Float64Array(SAMPLES);
  private count = 0;
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(this.sample, RESOLUTION_MS);
    this.timer.unref();
  }

  private readonly sample = (): void => {
    const now = performance.now();
    const delay = now - this.last - RESOLUTION_MS;
    this.last = now;
    this.delays[this.count++ % SAMPLES] = delay > 0 ? delay : 0;
  };

  percentileMs(p: number): number {
    const n = Math.min(this.count, SAMPLES);
    // No tick yet (a refresh sooner than the resolution): no delay seen.
    if (n === 0) return 0;
    const sorted = this.delays.slice(0, n).sort();
    return sorted[Math.max(0, Math.min(n - 1, Math.ceil((p / 100) * n) - 1))] ?? 0;
  }

  reset(): void {
    this.count = 0;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function heapUsed(): number {
  return getHeapStatistics().used_heap_size;
}

/** The monitor of a configured resource. */
export function createResourceMonitor(
  config: model.ResourceMonitor,
  state: OverloadState,
  sources: ResourceSources,
): ResourceMonitor {
  switch (config.kind) {
    case 'fixed_heap':
      return new FixedHeapMonitor(config, sources.heapUsed ?? heapUsed);
    case 'global_downstream_max_connections':
      return new DownstreamConnectionsMonitor(config, state);
    case 'event_loop_delay':
      return new EventLoopDelayMonitor(config, (sources.eventLoopDelay ?? (() => new TimerSampler()))());
  }
}
