// Envoy's admin `/stats` outputs: plain text and `?format=json`.
import type { StatsCounter } from './counter.js';
import type { StatsGauge } from './gauge.js';
import type { PrometheusInput } from './prometheus.js';

/** The quantiles Envoy's admin reports for each histogram. */
export const supportedQuantiles: readonly number[] = Object.freeze([
  0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100,
]);

/** Envoy's `/stats?format=json`: counters and gauges by name, then one histograms entry. */
export function renderJson(input: PrometheusInput): { stats: unknown[] } {
  const stats: unknown[] = [];
  for (const stat of sortedValues(input)) stats.push({ name: stat.name, value: jsonNumber(stat.value) });
  const histograms = sorted([...input.histograms]);
  if (histograms.length > 0) {
    stats.push({
      histograms: {
        supported_quantiles: [...supportedQuantiles],
        computed_quantiles: histograms.map((h) => ({
          name: h.name,
          // No flush intervals here: `interval` is null as in Envoy before its first flush.
          values: supportedQuantiles.map((q) => ({
            interval: null,
            cumulative: jsonNumber(h.percentile(q)),
          })),
        })),
      },
    });
  }
  return { stats };
}

/** Envoy's `/stats`: `name: value` lines sorted by name, then histograms' quantiles. */
export function renderText(input: PrometheusInput): string {
  const lines: string[] = [];
  for (const stat of sortedValues(input)) lines.push(`${stat.name}: ${String(stat.value)}`);
  for (const h of sorted([...input.histograms])) {
    if (h.count === 0) {
      lines.push(`${h.name}: No recorded values`);
      continue;
    }
    const parts = supportedQuantiles.map((q) => `P${q}(nan,${String(h.percentile(q))})`);
    lines.push(`${h.name}: ${parts.join(' ')}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function sortedValues(input: PrometheusInput): (StatsCounter | StatsGauge)[] {
  return sorted<StatsCounter | StatsGauge>([...input.counters, ...input.gauges]);
}

function sorted<T extends { readonly name: string }>(stats: T[]): T[] {
  return stats.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// JSON has no NaN or Infinity: those are null, as Envoy writes an empty histogram's quantiles.
function jsonNumber(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
