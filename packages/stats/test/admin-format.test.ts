import { describe, expect, it } from 'vitest';
import { createStatsStore, supportedQuantiles } from '../src/index.js';

function fixture(): ReturnType<typeof createStatsStore> {
  const stats = createStatsStore();
  const orders = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
  orders.counter('upstream_rq_total').add(7);
  orders.gauge('upstream_cx_active').set(2);
  stats.scope('server').gauge('live').set(1);
  const h = orders.histogram('upstream_rq_time', 'milliseconds');
  for (let v = 1; v <= 100; v++) h.record(v);
  stats.histogram('empty_time', 'milliseconds');
  return stats;
}

describe("Envoy's admin formats", () => {
  it('json(): counters and gauges as {name, value} sorted by name, then computed quantiles', () => {
    const json = fixture().json();
    // Through JSON and back: what an admin endpoint sends is what the caller gets.
    const sent = JSON.parse(JSON.stringify(json)) as typeof json;
    expect(sent.stats.slice(0, 3)).toEqual([
      { name: 'cluster.orders.upstream_cx_active', value: 2 },
      { name: 'cluster.orders.upstream_rq_total', value: 7 },
      { name: 'server.live', value: 1 },
    ]);
    expect(sent.stats).toHaveLength(4);
    const { histograms } = sent.stats[3] as {
      histograms: {
        supported_quantiles: number[];
        computed_quantiles: {
          name: string;
          values: { interval: number | null; cumulative: number | null }[];
        }[];
      };
    };
    expect(histograms.supported_quantiles).toEqual([0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    expect(histograms.computed_quantiles.map((q) => q.name)).toEqual([
      'cluster.orders.upstream_rq_time',
      'empty_time',
    ]);
    const [rqTime, empty] = histograms.computed_quantiles;
    expect(rqTime?.values).toHaveLength(supportedQuantiles.length);
    const at = (q: number): number => rqTime?.values[supportedQuantiles.indexOf(q)]?.cumulative as number;
    expect(at(0)).toBeCloseTo(1, 1);
    expect(Math.abs(at(50) - 50) / 50).toBeLessThanOrEqual(0.01);
    expect(Math.abs(at(90) - 90) / 90).toBeLessThanOrEqual(0.01);
    expect(at(100)).toBe(100);
    expect(rqTime?.values[0]?.interval).toBeNull();
    expect(empty?.values.every((v) => v.cumulative === null)).toBe(true);
  });

  it('json() without histograms has no histograms entry', () => {
    const stats = createStatsStore();
    stats.counter('a').inc();
    expect(stats.json()).toEqual({ stats: [{ name: 'a', value: 1 }] });
  });

  it('text(): `name: value` lines sorted, then histograms with their quantiles', () => {
    const lines = fixture().text().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'cluster.orders.upstream_cx_active: 2',
      'cluster.orders.upstream_rq_total: 7',
      'server.live: 1',
    ]);
    expect(lines[3]).toMatch(
      /^cluster\.orders\.upstream_rq_time: P0\(nan,1\) P25\(nan,25(\.\d+)?\) P50\(nan,50(\.\d+)?\) .* P100\(nan,100\)$/,
    );
    expect(lines[4]).toBe('empty_time: No recorded values');
    expect(lines[5]).toBe('');
    expect(createStatsStore().text()).toBe('');
  });
});
