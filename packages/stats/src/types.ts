// The contract of @meshlet/stats: what a data plane records into, and what exporters read.
//
// Every stat has two names, as in Envoy:
// - its flat name, tags folded in, for `/stats` and JSON: `cluster.orders.upstream_rq_total`;
// - its tag-extracted name plus tags, for Prometheus: `envoy_cluster_upstream_rq_total{envoy_cluster_name="orders"}`.
// A scope carries both: `root.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster')`.

/** Tag names and values of a stat (Prometheus labels). */
export type Tags = Readonly<Record<string, string>>;

/** A monotonically increasing count. `inc`/`add` cost no allocation and no string building. */
export interface Counter {
  /** The flat name (`cluster.orders.upstream_rq_total`). */
  readonly name: string;
  /** The tag-extracted name (`cluster.upstream_rq_total`). */
  readonly tagExtractedName: string;
  readonly tags: Tags;
  inc(): void;
  /** Adds `n` (>= 0). */
  add(n: number): void;
  readonly value: number;
}

/** A value that goes up and down. */
export interface Gauge {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: Tags;
  set(value: number): void;
  inc(): void;
  dec(): void;
  add(n: number): void;
  sub(n: number): void;
  readonly value: number;
}

/** What a histogram's values measure (Envoy's histogram units). */
export type HistogramUnit = 'unspecified' | 'bytes' | 'microseconds' | 'milliseconds' | 'percent';

/** A distribution on an HDR histogram. `record` costs no allocation. */
export interface Histogram {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: Tags;
  readonly unit: HistogramUnit;
  /** Records one value (clamped to the histogram's range; negative values count as 0). */
  record(value: number): void;
  /** Values recorded. */
  readonly count: number;
  /** Sum of the values recorded. */
  readonly sum: number;
  /** The value at percentile `p` (0–100), e.g. 50, 90, 99, 99.9. */
  percentile(p: number): number;
  /** Cumulative counts at upper bounds, for Prometheus' `_bucket{le=...}` series. */
  buckets(bounds: readonly number[]): readonly number[];
}

/**
 * A namespace of stats: names are joined to the scope's prefix with `.`, tags merged with the
 * scope's. Asking twice for the same name and tags returns the same stat (create once at config
 * time, keep the object, record on the hot path).
 */
export interface Scope {
  /** Flat prefix of this scope (`''` at the root). */
  readonly prefix: string;
  readonly tags: Tags;
  /**
   * A counter. `flatName`, when given, is its last flat name segment in place of `name` with its
   * own tags folded in: Envoy's `upstream_rq_2xx` for `upstream_rq_xx{envoy_response_code_class="2"}`.
   */
  counter(name: string, tags?: Tags, flatName?: string): Counter;
  gauge(name: string, tags?: Tags): Gauge;
  histogram(name: string, unit?: HistogramUnit, tags?: Tags): Histogram;
  /**
   * A child scope. `flatPrefix` extends the flat names (`cluster.orders`); `tags` are added to
   * every stat in it; `extractedPrefix` (default: `flatPrefix`) extends the tag-extracted names
   * instead (`cluster`), so that the tag values do not end up in Prometheus metric names.
   */
  scope(flatPrefix: string, tags?: Tags, extractedPrefix?: string): Scope;
}

/** Options of the Prometheus text exposition. */
export interface PrometheusOptions {
  /** Prepended to every metric name (default `envoy_`, so Envoy dashboards work unchanged). */
  readonly namespace?: string;
  /** Only stats that were ever recorded into (Envoy's `usedonly`). Default false. */
  readonly usedOnly?: boolean;
  /** Histogram bucket upper bounds, per unit; defaults are Envoy's. */
  readonly buckets?: readonly number[];
}

/** The root scope: it owns every stat and renders them. */
export interface StatsStore extends Scope {
  /** Prometheus text exposition format 0.0.4. */
  prometheus(options?: PrometheusOptions): string;
  /** Every stat as JSON (Envoy's `/stats?format=json` shape). */
  json(): { stats: unknown[] };
  /** Every stat, flat `name: value` lines, sorted (Envoy's `/stats`); histograms as `P50:.. P99:..`. */
  text(): string;
  /** Each stat (for custom exporters). */
  counters(): Iterable<Counter>;
  gauges(): Iterable<Gauge>;
  histograms(): Iterable<Histogram>;
  /** Drops stats no longer used: those of `scope` (a removed cluster's, say). */
  remove(scope: Scope): void;
}

/** Options of {@link StatsStore} creation (`createStatsStore`). */
export interface StatsStoreOptions {
  /**
   * Significant decimal digits every histogram keeps (1–5, default 2: each value within 1%, as
   * Envoy's histograms). Each more digit costs about ten times the memory per histogram.
   */
  readonly significantDigits?: 1 | 2 | 3 | 4 | 5;
}
