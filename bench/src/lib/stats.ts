// Small statistics for the runner and scenarios.

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  // `+ 0` makes -0 and 0 one median whatever the input order; halving each term first keeps
  // the mean of two huge values finite where their sum overflows.
  if (sorted.length % 2 === 1) return (sorted[mid] as number) + 0;
  const a = sorted[mid - 1] as number;
  const b = sorted[mid] as number;
  const mean = (a + b) / 2;
  return (Number.isFinite(mean) ? mean : a / 2 + b / 2) + 0;
}

/** The `q`-quantile (0..1) of ascending `sorted` values, nearest rank; NaN for none. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** The run whose `key` is the median of `runs` (the lower middle for an even count). */
export function medianRun<T>(runs: readonly T[], key: (run: T) => number): T {
  if (runs.length === 0) throw new Error('medianRun of no runs');
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1] as T;
}
