import fc from 'fast-check';
import parsePrometheus from 'parse-prometheus-text-format';
import type { ParsedFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  createStatsStore,
  envoyBuckets,
  escapeLabelValue,
  sanitizeMetricName,
} from '../src/index.js';

function family(families: ParsedFamily[], name: string): ParsedFamily {
  const found = families.find((f) => f.name === name);
  if (found === undefined) throw new Error(`no family ${name} in ${families.map((f) => f.name).join(', ')}`);
  return found;
}

/**
 * The parser groups a histogram's samples by `le` only (it drops their other labels), so a
 * histogram with tags is checked as its three series: without the `# TYPE ... histogram` line the
 * parser reads `_bucket`, `_sum` and `_count` as plain families, every label kept.
 */
function parseSeries(text: string): ParsedFamily[] {
  const merged = new Map<string, ParsedFamily>();
  // A histogram's tag sets come one after the other (`_bucket`, `_sum`, `_count`, then the next
  // tag set), so each plain family shows up once per tag set: gather them.
  for (const f of parsePrometheus(text.replace(/^# TYPE \S+ histogram\n/gm, ''))) {
    const known = merged.get(f.name);
    merged.set(f.name, known ? { ...known, metrics: [...known.metrics, ...f.metrics] } : f);
  }
  return [...merged.values()];
}

describe('Prometheus exposition', () => {
  it('renders Envoy names: one family per tag-extracted name, every tag set as labels', () => {
    const stats = createStatsStore();
    for (const [name, n] of [
      ['orders', 3],
      ['users', 5],
    ] as const) {
      const cluster = stats.scope(`cluster.${name}`, { envoy_cluster_name: name }, 'cluster');
      cluster.counter('upstream_rq_total').add(n);
      cluster.gauge('upstream_cx_active').set(n * 10);
    }
    stats.scope('server').gauge('live').set(1);
    const text = stats.prometheus();
    expect(text).toContain('# TYPE envoy_cluster_upstream_rq_total counter\n');
    expect(text).toContain('envoy_cluster_upstream_rq_total{envoy_cluster_name="orders"} 3\n');
    const parsed = parsePrometheus(text);
    expect(parsed.map((f) => f.name)).toEqual([
      'envoy_cluster_upstream_cx_active',
      'envoy_cluster_upstream_rq_total',
      'envoy_server_live',
    ]);
    const rq = family(parsed, 'envoy_cluster_upstream_rq_total');
    expect(rq.type).toBe('COUNTER');
    expect(rq.metrics).toEqual([
      { value: '3', labels: { envoy_cluster_name: 'orders' } },
      { value: '5', labels: { envoy_cluster_name: 'users' } },
    ]);
    const cx = family(parsed, 'envoy_cluster_upstream_cx_active');
    expect(cx.type).toBe('GAUGE');
    expect(cx.metrics.map((m) => m.value)).toEqual(['30', '50']);
    expect(family(parsed, 'envoy_server_live').metrics).toEqual([{ value: '1' }]);
    // Deterministic: the same stats render the same text whatever the creation order.
    const other = createStatsStore();
    other.scope('server').gauge('live').set(1);
    for (const [name, n] of [
      ['users', 5],
      ['orders', 3],
    ] as const) {
      const cluster = other.scope(`cluster.${name}`, { envoy_cluster_name: name }, 'cluster');
      cluster.gauge('upstream_cx_active').set(n * 10);
      cluster.counter('upstream_rq_total').add(n);
    }
    expect(other.prometheus()).toBe(text);
  });

  it('exposes histograms as Prometheus histograms: cumulative buckets, +Inf, _sum, _count', () => {
    const stats = createStatsStore();
    const h = stats
      .scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster')
      .histogram('upstream_rq_time', 'milliseconds');
    const values = [0.3, 0.8, 2, 7, 7, 40, 120, 900, 4000, 7_200_000];
    for (const v of values) h.record(v);
    const text = stats.prometheus();
    expect(text).toContain('# TYPE envoy_cluster_upstream_rq_time histogram\n');
    expect(text).toContain('envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="orders",le="0.5"} 1\n');
    expect(text).toContain(
      'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="orders",le="+Inf"} 10\n',
    );
    const series = parseSeries(text);
    const labels = { envoy_cluster_name: 'orders' };
    expect(family(series, 'envoy_cluster_upstream_rq_time_count').metrics).toEqual([
      { value: String(values.length), labels },
    ]);
    const sum = family(series, 'envoy_cluster_upstream_rq_time_sum').metrics[0];
    expect(sum?.labels).toEqual(labels);
    expect(Number(sum?.value)).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      6,
    );
    const buckets = family(series, 'envoy_cluster_upstream_rq_time_bucket').metrics;
    expect(buckets.map((b) => b.labels?.le)).toEqual([...envoyBuckets.map(String), '+Inf']);
    let previous = 0;
    for (const [i, bound] of envoyBuckets.entries()) {
      expect(buckets[i]?.labels).toEqual({ ...labels, le: String(bound) });
      const count = Number(buckets[i]?.value);
      expect(count).toBe(values.filter((v) => v <= bound).length);
      expect(count).toBeGreaterThanOrEqual(previous);
      previous = count;
    }
    expect(buckets[envoyBuckets.length]?.value).toBe('10');
    // The same histogram without tags, read as a histogram by the parser.
    const plain = createStatsStore();
    const p = plain.histogram('upstream_rq_time', 'milliseconds');
    for (const v of values) p.record(v);
    const [parsed] = parsePrometheus(plain.prometheus());
    expect(parsed?.type).toBe('HISTOGRAM');
    expect(parsed?.metrics[0]?.count).toBe('10');
    expect(parsed?.metrics[0]?.buckets?.['5']).toBe('3');
    expect(parsed?.metrics[0]?.buckets?.['+Inf']).toBe('10');
  });

  it('renders histograms without tags, with custom buckets', () => {
    const stats = createStatsStore();
    const h = stats.histogram('size', 'bytes');
    for (const v of [10, 100, 1000]) h.record(v);
    const text = stats.prometheus({ buckets: [50, 500], namespace: 'app_' });
    expect(text).toBe(
      [
        '# TYPE app_size histogram',
        'app_size_bucket{le="50"} 1',
        'app_size_bucket{le="500"} 2',
        'app_size_bucket{le="+Inf"} 3',
        'app_size_sum 1110',
        'app_size_count 3',
        '',
      ].join('\n'),
    );
  });

  it('usedOnly skips stats never recorded into, and families left empty', () => {
    const stats = createStatsStore();
    stats.counter('never');
    stats.counter('once').inc();
    stats.gauge('zero').set(0);
    stats.gauge('untouched');
    stats.histogram('empty');
    const parsed = parsePrometheus(stats.prometheus({ usedOnly: true }));
    expect(parsed.map((f) => f.name)).toEqual(['envoy_once', 'envoy_zero']);
    expect(parsePrometheus(stats.prometheus()).map((f) => f.name)).toEqual([
      'envoy_empty',
      'envoy_never',
      'envoy_once',
      'envoy_untouched',
      'envoy_zero',
    ]);
  });

  it('sanitises metric names and writes special values', () => {
    expect(sanitizeMetricName('cluster.a-b/c:d')).toBe('cluster_a_b_c:d');
    expect(sanitizeMetricName('0.x')).toBe('_0_x');
    const stats = createStatsStore();
    stats.scope('vhost.my-host').gauge('weird%name').set(Number.NaN);
    stats.gauge('inf').set(Infinity);
    stats.gauge('minf').set(-Infinity);
    stats.gauge('frac').set(0.125);
    const text = stats.prometheus({ namespace: '' });
    expect(text).toContain('vhost_my_host_weird_name NaN\n');
    expect(text).toContain('inf +Inf\n');
    expect(text).toContain('minf -Inf\n');
    expect(text).toContain('frac 0.125\n');
    const parsed = parsePrometheus(text);
    expect(family(parsed, 'inf').metrics[0]?.value).toBe('+Inf');
    expect(createStatsStore().prometheus()).toBe('');
  });

  it('rejects a bad namespace or bucket list', () => {
    const stats = createStatsStore();
    expect(() => stats.prometheus({ namespace: 'bad-ns' })).toThrow(InvalidArgumentError);
    expect(() => stats.prometheus({ buckets: [1, 1] })).toThrow(InvalidArgumentError);
    expect(() => stats.prometheus({ buckets: [1, Infinity] })).toThrow(InvalidArgumentError);
  });

  it('escapes backslashes, quotes and newlines in label values', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const stats = createStatsStore();
    const nasty = 'C:\\dir\\"quoted"\nnext line ✓ 日本 😀';
    stats.counter('rq', { path: nasty }).inc();
    const text = stats.prometheus();
    expect(text).toContain('envoy_rq{path="C:\\\\dir\\\\\\"quoted\\"\\nnext line ✓ 日本 😀"} 1\n');
    expect(parsePrometheus(text)[0]?.metrics[0]?.labels).toEqual({ path: nasty });
  });

  it('any label value round-trips through an independent parser', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.nat({ max: 1e9 }),
        (values, n) => {
          const stats = createStatsStore();
          for (const value of values) {
            stats.scope('cluster', { envoy_cluster_name: value }, 'cluster').counter('rq').add(n);
            stats.histogram('h', 'milliseconds', { tag: value }).record(n);
          }
          const parsed = parsePrometheus(stats.prometheus());
          const rq = family(parsed, 'envoy_cluster_rq');
          expect(rq.metrics.map((m) => m.labels?.envoy_cluster_name).sort()).toEqual([...values].sort());
          for (const m of rq.metrics) expect(m.value).toBe(String(n));
          const h = family(parseSeries(stats.prometheus()), 'envoy_h_count');
          expect(h.metrics.map((m) => m.labels?.tag).sort()).toEqual([...values].sort());
          for (const m of h.metrics) expect(m.value).toBe('1');
        },
      ),
      { numRuns: 200 },
    );
  });
});
