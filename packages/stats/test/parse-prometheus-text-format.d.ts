// Types of the untyped `parse-prometheus-text-format` (an independent parser the tests check our
// exposition with), as its README documents its output: every value a string.
declare module 'parse-prometheus-text-format' {
  export interface ParsedMetric {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly buckets?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly ParsedMetric[];
  }
  const parse: (text: string) => ParsedFamily[];
  // The package's own shape: a CommonJS module whose export is this function.
  // eslint-disable-next-line no-restricted-syntax
  export default parse;
}
