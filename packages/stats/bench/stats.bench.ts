// The hot-path costs of @meshlet/stats (counter increment, gauge set, histogram record) and the
// cost of one Prometheus scrape of 1,000 stats. Each timed call of a hot-path task runs OPS
// operations, so that the harness's own per-call cost is not billed to them; the GC table
// shows that a million of each allocate nothing.
import { createStatsStore } from '@meshlet/stats';
import { consume, fmt, gcCost, measure, rate, smoke, table } from '../../../bench/harness.ts';

const OPS = 1000;
const stats = createStatsStore();
const cluster = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
const counter = cluster.counter('upstream_rq_total');
const gauge = cluster.gauge('upstream_cx_active');
const histogram = cluster.histogram('upstream_rq_time', 'milliseconds');
// Latencies spread over four decades, as a real upstream's are; precomputed so the task times
// `record` and not the random generator.
const latencies = Float64Array.from(
  { length: 4096 },
  (_, i) => 0.1 * 10 ** (((i * 2654435761) % 4096) / 1024),
);

let k = 0;
const [inc, set, record] = await measure([
  {
    name: 'counter.inc()',
    fn: () => {
      for (let i = 0; i < OPS; i++) counter.inc();
    },
  },
  {
    name: 'gauge.set()',
    fn: () => {
      for (let i = 0; i < OPS; i++) gauge.set(i);
    },
  },
  {
    name: 'histogram.record() (ms, 0.1 ms – 1 s)',
    fn: () => {
      for (let i = 0; i < OPS; i++) histogram.record(latencies[k++ & 4095] as number);
    },
  },
]);
if (!inc || !set || !record) throw new Error('missing result');
const per = (m: { meanNs: number }): string => `${fmt(m.meanNs / OPS, 1)} ns`;
table('Hot path, per operation (goals: counter < 20 ns, histogram < 100 ns)', [
  { operation: 'counter.inc()', time: per(inc), rate: rate(inc.hz * OPS) },
  { operation: 'gauge.set()', time: per(set), rate: rate(set.hz * OPS) },
  { operation: 'histogram.record()', time: per(record), rate: rate(record.hz * OPS) },
]);

const N = smoke ? 10_000 : 1_000_000;
const gcRows = [];
for (const [name, workload] of [
  [
    'counter.inc()',
    () => {
      for (let i = 0; i < N; i++) counter.inc();
    },
  ],
  [
    'histogram.record()',
    () => {
      for (let i = 0; i < N; i++) histogram.record(latencies[i & 4095] as number);
    },
  ],
] as const) {
  const cost = await gcCost(workload);
  gcRows.push({
    operation: `${fmt(N)} × ${name}`,
    GCs: cost.count,
    'GC ms': fmt(cost.ms, 1),
    'wall ms': fmt(cost.wallMs, 1),
  });
}
table('Garbage collections caused by the hot path', gcRows);

// A scrape: 100 clusters × (6 counters, 2 gauges, 2 histograms) = 1,000 stats.
const scraped = createStatsStore();
for (let c = 0; c < 100; c++) {
  const scope = scraped.scope(`cluster.c${c}`, { envoy_cluster_name: `c${c}` }, 'cluster');
  for (const name of [
    'upstream_rq_total',
    'upstream_rq_2xx',
    'upstream_rq_5xx',
    'upstream_rq_retry',
    'upstream_cx_total',
    'upstream_cx_connect_fail',
  ]) {
    scope.counter(name).add(c * 7 + 1);
  }
  scope.gauge('upstream_cx_active').set(c);
  scope.gauge('upstream_rq_active').set(c % 5);
  const rqTime = scope.histogram('upstream_rq_time', 'milliseconds');
  const cxLength = scope.histogram('upstream_cx_length_ms', 'milliseconds');
  for (let i = 0; i < 200; i++) {
    rqTime.record(latencies[(c * 31 + i) & 4095] as number);
    cxLength.record((latencies[(c * 17 + i) & 4095] as number) * 100);
  }
}
const [prom, json, text] = await measure([
  {
    name: 'prometheus()',
    fn: () => {
      consume(scraped.prometheus());
    },
  },
  {
    name: 'json()',
    fn: () => {
      consume(scraped.json());
    },
  },
  {
    name: 'text()',
    fn: () => {
      consume(scraped.text());
    },
  },
]);
if (!prom || !json || !text) throw new Error('missing result');
const ms = (m: { meanNs: number }): string => fmt(m.meanNs / 1e6, 2);
table('Rendering 1,000 stats (100 clusters × 6 counters, 2 gauges, 2 histograms)', [
  {
    format: 'prometheus()',
    'ms per render': ms(prom),
    'p99 ms': fmt(prom.p99Ns / 1e6, 2),
    size: `${fmt(scraped.prometheus().length / 1024, 0)} KiB`,
  },
  {
    format: 'json()',
    'ms per render': ms(json),
    'p99 ms': fmt(json.p99Ns / 1e6, 2),
    size: `${fmt(JSON.stringify(scraped.json()).length / 1024, 0)} KiB`,
  },
  {
    format: 'text()',
    'ms per render': ms(text),
    'p99 ms': fmt(text.p99Ns / 1e6, 2),
    size: `${fmt(scraped.text().length / 1024, 0)} KiB`,
  },
]);
