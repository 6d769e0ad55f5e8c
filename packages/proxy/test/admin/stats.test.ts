// /stats and /stats/prometheus over a real @meshlet/stats store: Envoy's text and JSON, ?filter
// (RE2, searched anywhere in the name), ?usedonly, and a Prometheus exposition an independent
// parser (parse-prometheus-text-format) reads back with the recorded values.
import { createRequire } from 'node:module';
import { createStatsStore } from '@meshlet/stats';
import { describe, expect, it } from 'vitest';
import { adminScope } from './scope.js';

interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: readonly {
    readonly value?: string;
    readonly labels?: Record<string, string>;
    readonly buckets?: Record<string, string>;
    readonly count?: string;
    readonly sum?: string;
  }[];
}

// A CommonJS module without types: loaded as one.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => ParsedFamily[];

const { start, call } = adminScope();

function storeWithTraffic(): ReturnType<typeof createStatsStore> {
  const stats = createStatsStore();
  const orders = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
  const users = stats.scope('cluster.users', { envoy_cluster_name: 'users' }, 'cluster');
  orders.counter('upstream_rq_total').add(7);
  orders.counter('upstream_rq_5xx').add(2);
  users.counter('upstream_rq_total').add(3);
  users.counter('upstream_rq_5xx'); // never recorded into
  orders.gauge('upstream_rq_active').set(4);
  const time = orders.histogram('upstream_rq_time', 'milliseconds');
  for (const ms of [1, 2, 3, 4, 100]) time.record(ms);
  users.histogram('upstream_rq_time', 'milliseconds');
  return stats;
}

describe('admin server: stats', () => {
  it('/stats is Envoy’s text: sorted name: value lines, histograms as quantiles', async () => {
    const { admin } = await start({ admin: { stats: storeWithTraffic() } });
    const answer = await call(admin, '/stats');
    expect(answer.status).toBe(200);
    const lines = answer.body.trimEnd().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'cluster.orders.upstream_rq_5xx: 2',
      'cluster.orders.upstream_rq_active: 4',
      'cluster.orders.upstream_rq_total: 7',
      'cluster.users.upstream_rq_5xx: 0',
      'cluster.users.upstream_rq_total: 3',
    ]);
    expect(lines[5]).toMatch(
      /^cluster\.orders\.upstream_rq_time: P0\(nan,1\) P25\(nan,2(\.\d+)?\) .* P100\(nan,100(\.\d+)?\)$/,
    );
    expect(lines[6]).toBe('cluster.users.upstream_rq_time: No recorded values');
  });

  it('?filter keeps matching names (regex search), ?usedonly drops what was never recorded', async () => {
    const { admin } = await start({ admin: { stats: storeWithTraffic() } });
    expect((await call(admin, '/stats?filter=5xx')).body).toBe(
      'cluster.orders.upstream_rq_5xx: 2\ncluster.users.upstream_rq_5xx: 0\n',
    );
    expect((await call(admin, '/stats?filter=^cluster\\.users\\.&usedonly')).body).toBe(
      'cluster.users.upstream_rq_total: 3\n',
    );
    const bad = await call(admin, '/stats?filter=(a');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/^filter: invalid RE2 regex/);
    const backtracking = await call(admin, '/stats?filter=(a)\\1');
    expect(backtracking.status).toBe(400);
    expect((await call(admin, '/stats?format=xml')).status).toBe(400);
  });

  it('?format=json is Envoy’s JSON: name/value entries and one histograms entry', async () => {
    const { admin } = await start({ admin: { stats: storeWithTraffic() } });
    const answer = await call(admin, '/stats?format=json&filter=orders');
    expect(answer.type).toBe('application/json');
    const { stats } = JSON.parse(answer.body) as { stats: Record<string, unknown>[] };
    expect(stats.slice(0, 3)).toEqual([
      { name: 'cluster.orders.upstream_rq_5xx', value: 2 },
      { name: 'cluster.orders.upstream_rq_active', value: 4 },
      { name: 'cluster.orders.upstream_rq_total', value: 7 },
    ]);
    const histograms = stats[3]?.histograms as {
      supported_quantiles: number[];
      computed_quantiles: { name: string; values: { interval: null; cumulative: number }[] }[];
    };
    expect(histograms.supported_quantiles).toEqual([0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    expect(histograms.computed_quantiles.map((q) => q.name)).toEqual(['cluster.orders.upstream_rq_time']);
    expect(histograms.computed_quantiles[0]?.values[0]).toEqual({ interval: null, cumulative: 1 });
  });

  it('/stats/prometheus parses with an independent parser and carries the recorded values', async () => {
    const { admin } = await start({ admin: { stats: storeWithTraffic() } });
    const answer = await call(admin, '/stats/prometheus');
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('text/plain; version=0.0.4; charset=UTF-8');
    // The parser drops a histogram's labels but for `le`: check the histogram through its
    // `_count` and `_sum` series read as plain families.
    // Each tag set of a histogram then reads as its own run of families: gather them by name.
    const byName = new Map<string, ParsedFamily>();
    for (const f of parsePrometheus(answer.body.replace(/^# TYPE \S+ histogram\n/gm, ''))) {
      const known = byName.get(f.name);
      byName.set(f.name, known ? { ...known, metrics: [...known.metrics, ...f.metrics] } : f);
    }
    const total = byName.get('envoy_cluster_upstream_rq_total');
    expect(total?.type).toBe('COUNTER');
    expect(total?.metrics).toEqual(
      expect.arrayContaining([
        { value: '7', labels: { envoy_cluster_name: 'orders' } },
        { value: '3', labels: { envoy_cluster_name: 'users' } },
      ]),
    );
    expect(byName.get('envoy_cluster_upstream_rq_active')?.metrics).toEqual([
      { value: '4', labels: { envoy_cluster_name: 'orders' } },
    ]);
    const count = byName.get('envoy_cluster_upstream_rq_time_count');
    expect(count?.metrics).toEqual(
      expect.arrayContaining([{ value: '5', labels: { envoy_cluster_name: 'orders' } }]),
    );
    // And whole, as the parser reads a histogram family.
    const whole = parsePrometheus(answer.body).find((f) => f.name === 'envoy_cluster_upstream_rq_time');
    expect(whole?.type).toBe('HISTOGRAM');
  });

  it('/stats/prometheus?usedonly&filter= narrows the exposition by metric family', async () => {
    const { admin } = await start({ admin: { stats: storeWithTraffic() } });
    const answer = await call(admin, '/stats/prometheus?usedonly&filter=rq_5xx');
    const families = parsePrometheus(answer.body);
    expect(families.map((f) => f.name)).toEqual(['envoy_cluster_upstream_rq_5xx']);
    expect(families[0]?.metrics).toEqual([{ value: '2', labels: { envoy_cluster_name: 'orders' } }]);
  });
});
