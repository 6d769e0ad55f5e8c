// The harness every benchmark of the repo uses: tinybench for timing, a GC observer for
// allocation cost, and one output format (markdown tables, pasted as-is into docs/benchmarks.md).
//
// Three lengths of run:
//   (default)  the figures published in docs/benchmarks.md: run on a quiet machine;
//   --quick    a tenth of the time (what `npm start` shows): rough, but real, figures;
//   --smoke    a handful of calls per task (what `npm test` runs): proves the benchmarks still
//              work; its numbers mean nothing.
import { PerformanceObserver } from 'node:perf_hooks';
import { Bench } from 'tinybench';

/** True when only a smoke run is asked for. */
export const smoke: boolean = process.argv.includes('--smoke');

/** True for a short run with rough figures. */
export const quick: boolean = !smoke && process.argv.includes('--quick');

export type Row = Record<string, string | number>;

/** One timed task: `fn` is called repeatedly; `unit` scales the throughput (bytes, frames). */
export interface Task {
  readonly name: string;
  /** Called repeatedly; a promise it returns is awaited (tinybench detects async functions). */
  readonly fn: () => unknown;
  /** Units of work per call, for the throughput column (frames, bytes...). Default 1. */
  readonly perCall?: number;
}

export interface Measured {
  readonly name: string;
  /** Calls per second: 1e9 / meanNs. */
  readonly hz: number;
  /** Mean time per call, nanoseconds. */
  readonly meanNs: number;
  /** 99th percentile time per call, nanoseconds. */
  readonly p99Ns: number;
  /** Relative margin of error of the mean, percent. */
  readonly rme: number;
}

/** Times each task with tinybench and returns the results in the order given. */
export async function measure(tasks: readonly Task[], timeMs = 600): Promise<Measured[]> {
  const bench = new Bench({
    time: smoke ? 1 : quick ? timeMs / 10 : timeMs,
    iterations: smoke ? 3 : 64,
    warmupTime: smoke ? 0 : quick ? 30 : 150,
    warmupIterations: smoke ? 1 : 64,
  });
  for (const task of tasks) bench.add(task.name, task.fn);
  await bench.run();
  return bench.tasks.map((task) => {
    const result = task.result;
    if (result.state === 'errored') throw result.error;
    if (result.state !== 'completed') throw new Error(`benchmark task ${task.name} ended ${result.state}`);
    // Calls per second from the mean time per call, so that every ratio in a report is a ratio
    // of mean times (tinybench's mean of per-sample throughputs overweights the fastest samples).
    const meanNs = result.latency.mean * 1e6;
    return {
      name: task.name,
      hz: 1e9 / meanNs,
      meanNs,
      p99Ns: result.latency.p99 * 1e6,
      rme: result.latency.rme,
    };
  });
}

export interface GcCost {
  /** Garbage collections observed while the workload ran. */
  readonly count: number;
  /** Total time spent in those collections, milliseconds. */
  readonly ms: number;
  /** Wall time of the workload, milliseconds. */
  readonly wallMs: number;
}

/**
 * Runs `workload` once and reports the garbage collections it caused, from the perf_hooks GC
 * observer. Collects first (under --expose-gc) so one workload's garbage is not billed to the next.
 */
export async function gcCost(workload: () => void): Promise<GcCost> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await settle();
  let count = 0;
  let ms = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      count++;
      ms += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  workload();
  const wallMs = performance.now() - started;
  await settle();
  for (const entry of observer.takeRecords()) {
    count++;
    ms += entry.duration;
  }
  observer.disconnect();
  return { count, ms, wallMs };
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Prints a heading and a markdown table. */
export function table(title: string, rows: readonly Row[]): void {
  const first = rows[0];
  if (!first) return;
  const columns = Object.keys(first);
  const line = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
  const out = [
    `\n### ${title}${smoke ? ' (smoke run: numbers are meaningless)' : quick ? ' (quick run: rough figures)' : ''}\n`,
    line(columns),
    line(columns.map(() => '---')),
    ...rows.map((row) => line(columns.map((c) => row[c] ?? ''))),
  ];
  console.log(out.join('\n'));
}

/** Formats a number with thousands separators and a fixed number of decimals. */
export function fmt(value: number, decimals = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Formats calls per second as e.g. `12.3 M/s`. */
export function rate(hz: number): string {
  if (hz >= 1e6) return `${fmt(hz / 1e6, 1)} M/s`;
  if (hz >= 1e3) return `${fmt(hz / 1e3, 1)} k/s`;
  return `${fmt(hz, 1)} /s`;
}

/** Formats a byte count as B, KiB or MiB. */
export function bytes(n: number): string {
  if (n >= 1 << 20) return `${fmt(n / (1 << 20), n % (1 << 20) ? 1 : 0)} MiB`;
  if (n >= 1024) return `${fmt(n / 1024, n % 1024 ? 1 : 0)} KiB`;
  return `${n} B`;
}

/** Keeps a value alive so the optimiser cannot remove the work that produced it. */
export let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
