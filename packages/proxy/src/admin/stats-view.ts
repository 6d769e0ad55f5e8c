// `/stats` and `/stats/prometheus` views of a stats store: Envoy's text (`name: value`, sorted;
// histograms as `P50(nan,v)` quantiles), its JSON, and the Prometheus text — each narrowed by
// `?filter=<regex>` and `?usedonly`.
import type { Histogram, StatsStore } from '@meshlet/stats';
import type { Json } from './config-dump.js';

/** What to show. */
export interface StatsQuery {
  /** Keep stats whose name this matches anywhere (Envoy's `std::regex_search`); `null`: all. */
  readonly filter: { test(input: string): boolean } | null;
  /** Only stats that were ever recorded into. */
  readonly usedOnly: boolean;
}

/** Envoy's quantiles of `/stats` (`supported_quantiles`). */
export const QUANTILES: readonly number[] = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100];

interface Scalar {
  readonly name: string;
  readonly value: number;
}

function scalars(store: StatsStore, query: StatsQuery): Scalar[] {
  const out: Scalar[] = [];
  // The store does not say whether a stat was ever recorded into: a non-zero value is the
  // evidence `usedonly` goes by (a gauge that went back to 0 counts as unused).
  for (const c of store.counters()) {
    if (query.usedOnly && c.value === 0) continue;
    if (query.filter === null || query.filter.test(c.name)) out.push({ name: c.name, value: c.value });
  }
  for (const g of store.gauges()) {
    if (query.usedOnly && g.value === 0) continue;
    if (query.filter === null || query.filter.test(g.name)) out.push({ name: g.name, value: g.value });
  }
  return out.sort(byName);
}

function histograms(store: StatsStore, query: StatsQuery): Histogram[] {
  const out: Histogram[] = [];
  for (const h of store.histograms()) {
    if (query.usedOnly && h.count === 0) continue;
    if (query.filter === null || query.filter.test(h.name)) out.push(h);
  }
  return out.sort(byName);
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function number(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(6)));
}

/** Envoy's `/stats` text. */
export function statsText(store: StatsStore, query: StatsQuery): string {
  let out = '';
  for (const s of scalars(store, query)) out += `${s.name}: ${number(s.value)}\n`;
  for (const h of histograms(store, query)) {
    if (h.count === 0) {
      out += `${h.name}: No recorded values\n`;
      continue;
    }
    // meshlet's histograms are cumulative: the interval column is `nan`, as Envoy prints it
    // before the first flush.
    out += `${h.name}: ${QUANTILES.map((q) => `P${String(q)}(nan,${number(h.percentile(q))})`).join(' ')}\n`;
  }
  return out;
}

/** Envoy's `/stats?format=json`. */
export function statsJson(store: StatsStore, query: StatsQuery): { stats: Json[] } {
  const stats: Json[] = scalars(store, query).map((s) => ({ name: s.name, value: s.value }));
  const hs = histograms(store, query);
  if (hs.length > 0) {
    stats.push({
      histograms: {
        supported_quantiles: [...QUANTILES],
        computed_quantiles: hs.map((h) => ({
          name: h.name,
          values: QUANTILES.map((q) =>
            h.count === 0
              ? { interval: null, cumulative: null }
              : { interval: null, cumulative: h.percentile(q) },
          ),
        })),
      },
    });
  }
  return { stats };
}

/**
 * `/stats/prometheus`: the store's exposition, narrowed to the metric families whose Prometheus
 * name the filter matches (the flat names are not in the exposition to match on).
 */
export function statsPrometheus(store: StatsStore, query: StatsQuery): string {
  const text = store.prometheus({ usedOnly: query.usedOnly });
  const filter = query.filter;
  if (filter === null) return text;
  let out = '';
  let keep = false;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const family = /^# (?:HELP|TYPE) (\S+)/.exec(line)?.[1];
    if (family !== undefined) keep = filter.test(family);
    if (keep) out += `${line}\n`;
  }
  return out;
}
