// What a load-loop child process (bolt/load.ts, grpc/load.ts) measures and prints: one JSON line
// on stdout when its run is over, read by the scenario that spawned it. Latencies are recorded in
// Node's HDR histogram (`perf_hooks.createHistogram`, nanoseconds), only for calls that started
// after the warm-up and completed before the deadline.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** A load loop's result, as printed on its stdout (one JSON line). */
export interface LoadReport {
  /** Calls completed inside the measured window. */
  readonly requests: number;
  /** Calls completed in all, warm-up included (to bill a target's CPU time per call). */
  readonly total: number;
  /** Failed calls: error replies, resets, calls still outstanding at the end. */
  readonly errors: number;
  /** Length of the measured window. */
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** The load generator's own CPU time per completed call (its process only), in µs. */
  readonly clientCpuUsPerCall: number;
}

/** Counts calls and their latencies between `start` and `end` (performance.now() ms). */
export class LoadRecorder {
  readonly histogram: RecordableHistogram = createHistogram();
  requests = 0;
  total = 0;
  errors = 0;
  private cpuAtStart: NodeJS.CpuUsage | undefined;
  private cpuAtEnd: NodeJS.CpuUsage | undefined;

  readonly start: number;
  readonly end: number;

  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }

  /** Whether `now` is inside the measured window. */
  measuring(now: number): boolean {
    return now >= this.start && now < this.end;
  }

  /** A call sent at `sentAt` completed now: recorded when it fits in the window. */
  completed(sentAt: number, now: number): void {
    this.total++;
    if (now >= this.end) {
      this.cpuAtEnd ??= process.cpuUsage();
      return;
    }
    if (sentAt < this.start) return;
    this.cpuAtStart ??= process.cpuUsage();
    this.requests++;
    this.histogram.record(Math.max(1, Math.round((now - sentAt) * 1e6)));
  }

  /** A call failed (counted whenever it happened: a failure during warm-up is still one). */
  failed(count = 1): void {
    this.errors += count;
  }

  report(): LoadReport {
    const end = this.cpuAtEnd ?? process.cpuUsage();
    const start = this.cpuAtStart ?? end;
    const cpuUs = end.user - start.user + end.system - start.system;
    const seconds = (this.end - this.start) / 1000;
    const ms = (p: number): number => (this.requests === 0 ? 0 : this.histogram.percentile(p) / 1e6);
    return {
      requests: this.requests,
      total: this.total,
      errors: this.errors,
      seconds,
      rps: this.requests / seconds,
      p50Ms: ms(50),
      p99Ms: ms(99),
      p999Ms: ms(99.9),
      clientCpuUsPerCall: this.requests === 0 ? 0 : cpuUs / this.requests,
    };
  }
}

/** Prints the report as the child's one line of JSON output. */
export function printReport(report: LoadReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** Reads a child's report from its whole stdout (the last line that parses as a report). */
export function parseReport(stdout: string): LoadReport {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as Partial<LoadReport>;
    if (typeof r.requests === 'number' && typeof r.rps === 'number') return r as LoadReport;
  }
  throw new Error(`no load report in the child's output: ${stdout.slice(-500)}`);
}
