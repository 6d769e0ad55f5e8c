// The contract between the peer benchmark suite's runner (`bench/src/run.ts`) and its scenarios
// (`bench/src/scenarios/*.ts`). Each scenario starts its own targets as separate processes, drives
// them with a load generator in another process, stops everything it started, and returns tables.

/** How long a run is: `smoke` proves the suite works (npm test), `full` is what docs publish. */
export type BenchMode = 'smoke' | 'quick' | 'full';

/** One measured target of a table (a row). Absent figures print as "—". */
export interface BenchRow {
  /** What was measured, e.g. "nginx 1.22 (1 worker, upstream keepalive)". */
  readonly target: string;
  /** Requests (or calls, frames) per second: the median of the runs. */
  readonly rps?: number | undefined;
  readonly p50Ms?: number | undefined;
  readonly p99Ms?: number | undefined;
  readonly p999Ms?: number | undefined;
  /** Resident set size of the target's process(es) at the end of the run, in MiB. */
  readonly rssMiB?: number | undefined;
  /** Errors seen by the load generator (non-2xx, resets, timeouts). */
  readonly errors?: number | undefined;
  /** Further columns specific to a table, already formatted. */
  readonly extra?: Readonly<Record<string, string>> | undefined;
}

/** One table of results, printed as markdown and pasted into docs/benchmarks.md as-is. */
export interface BenchTable {
  readonly title: string;
  /** The command that reproduces this table. */
  readonly command: string;
  readonly rows: readonly BenchRow[];
  /** The row the "vs meshlet" ratio column is computed against (its `target`), if any. */
  readonly ratioTo?: string | undefined;
  /** Notes printed under the table: load shape, CPU placement, skipped targets and why. */
  readonly notes: readonly string[];
}

/** What a scenario gets from the runner. */
export interface BenchContext {
  readonly mode: BenchMode;
  /** Seconds per measured run of one target (smoke: about 1). */
  readonly seconds: number;
  /** Measured runs per target; the median is reported (smoke: 1). */
  readonly runs: number;
  /** The repository root (absolute). */
  readonly root: string;
  /** Progress line on stderr. */
  log(line: string): void;
  /**
   * Whether an external tool (`wrk`, `nginx`, `haproxy`, `h2load`) is on the PATH. When it is
   * missing: in CI (`CI` set) this throws, so the run fails; locally it logs a loud skip and
   * returns false.
   */
  need(tool: string): boolean;
}

/** A scenario of the suite: `bench/src/scenarios/<name>.ts` default-exports one. */
export interface BenchScenario {
  /** Short name used on the command line: `npm run bench -- http1`. */
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<readonly BenchTable[]>;
}
