// parse-prometheus-text-format ships no types: what the tests use of it.
declare module 'parse-prometheus-text-format' {
  /** One metric family: counters and gauges carry `value`, histograms `buckets`, `count` and `sum`. */
  export interface MetricFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly {
      readonly labels?: Readonly<Record<string, string>>;
      readonly value?: string;
      readonly count?: string;
      readonly sum?: string;
      readonly buckets?: Readonly<Record<string, string>>;
    }[];
  }
  /** Parses Prometheus text exposition format 0.0.4. */
  // eslint-disable-next-line no-restricted-syntax -- the package's own (CommonJS) default export
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
