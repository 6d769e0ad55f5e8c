// Prometheus text exposition format 0.0.4: one family per metric name (the namespace plus the
// sanitised tag-extracted name), each with one `# TYPE` line and every tag set of its stats.
import { InvalidArgumentError } from '@meshlet/errors';
import type { StatsCounter } from './counter.js';
import type { StatsGauge } from './gauge.js';
import type { StatsHistogram } from './histogram.js';
import type { PrometheusOptions, Tags } from './types.js';

/** Envoy's default histogram bucket bounds (`le` values). */
export const envoyBuckets: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
]);

const kMetricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly series: (StatsCounter | StatsGauge | StatsHistogram)[];
}

/** The stats to render, as the store walks them. */
export interface PrometheusInput {
  readonly counters: Iterable<StatsCounter>;
  readonly gauges: Iterable<StatsGauge>;
  readonly histograms: Iterable<StatsHistogram>;
}

/** `name` with every character Prometheus does not allow in a metric name replaced by `_`. */
export function sanitizeMetricName(name: string): string {
  const out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

/** A label value escaped for the text format: `\` → `\\`, `"` → `\"`, newline → `\n`. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** A sample value as the text format writes it (`NaN`, `+Inf`, `-Inf` included). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Renders `input` in the Prometheus text format 0.0.4, families and series sorted. */
export function renderPrometheus(input: PrometheusInput, options: PrometheusOptions = {}): string {
  const namespace = options.namespace ?? 'envoy_';
  if (typeof namespace !== 'string' || (namespace !== '' && !kMetricName.test(namespace))) {
    throw new InvalidArgumentError(
      `prometheus namespace must be a metric name prefix, got ${JSON.stringify(namespace)}`,
    );
  }
  const usedOnly = options.usedOnly ?? false;
  const bounds = options.buckets ?? envoyBuckets;
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i] as number;
    if (!Number.isFinite(b) || (i > 0 && !(b > (bounds[i - 1] as number)))) {
      throw new InvalidArgumentError(
        `prometheus buckets must be increasing finite numbers, got ${bounds.join(',')}`,
      );
    }
  }
  const les = bounds.map((b) => `le="${formatValue(b)}"`);

  const families = new Map<string, Family>();
  const add = (stat: StatsCounter | StatsGauge | StatsHistogram, type: Family['type']): void => {
    if (usedOnly && !stat.used) return;
    const name = namespace + sanitizeMetricName(stat.tagExtractedName);
    let family = families.get(name);
    if (family === undefined) {
      family = { name, type, series: [] };
      families.set(name, family);
    }
    // Two tag-extracted names that sanitise alike (`a.b`, `a_b`) share a family; one of another
    // type cannot join it (the store already refuses that for equal names).
    if (family.type === type) family.series.push(stat);
  };
  for (const c of input.counters) add(c, 'counter');
  for (const g of input.gauges) add(g, 'gauge');
  for (const h of input.histograms) add(h, 'histogram');

  const lines: string[] = [];
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name) as Family;
    lines.push(`# TYPE ${name} ${family.type}`);
    const series = family.series.map((stat) => ({ stat, labels: labelsOf(stat.tags) }));
    series.sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
    for (const { stat, labels } of series) {
      if (family.type !== 'histogram') {
        const value = (stat as StatsCounter | StatsGauge).value;
        lines.push(`${name}${labels === '' ? '' : `{${labels}}`} ${formatValue(value)}`);
        continue;
      }
      const histogram = stat as StatsHistogram;
      const sep = labels === '' ? '' : `${labels},`;
      const counts = histogram.buckets(bounds);
      for (let i = 0; i < counts.length; i++) {
        lines.push(`${name}_bucket{${sep}${les[i] as string}} ${formatValue(counts[i] as number)}`);
      }
      lines.push(`${name}_bucket{${sep}le="+Inf"} ${formatValue(histogram.count)}`);
      const braces = labels === '' ? '' : `{${labels}}`;
      lines.push(`${name}_sum${braces} ${formatValue(histogram.sum)}`);
      lines.push(`${name}_count${braces} ${formatValue(histogram.count)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function labelsOf(tags: Tags): string {
  let out = '';
  for (const tag in tags) {
    if (out !== '') out += ',';
    out += `${tag}="${escapeLabelValue(tags[tag] as string)}"`;
  }
  return out;
}
