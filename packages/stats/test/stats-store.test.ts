import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError, createStatsStore } from '../src/index.js';

describe('StatsStore: stats and scopes', () => {
  it('returns the same stat for the same name and tags, a new one for other tags', () => {
    const stats = createStatsStore();
    const a = stats.counter('requests', { method: 'GET' });
    expect(stats.counter('requests', { method: 'GET' })).toBe(a);
    expect(stats.counter('requests', { method: 'POST' })).not.toBe(a);
    const g = stats.gauge('active');
    expect(stats.gauge('active')).toBe(g);
    const h = stats.histogram('rq_time', 'milliseconds');
    expect(stats.histogram('rq_time', 'milliseconds')).toBe(h);
    const orders = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
    expect(stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster')).toBe(orders);
    expect(orders.counter('upstream_rq_total')).toBe(orders.counter('upstream_rq_total'));
  });

  it('counts with inc and add; gauges go both ways', () => {
    const stats = createStatsStore();
    const c = stats.counter('c');
    c.inc();
    c.add(41);
    expect(c.value).toBe(42);
    expect(() => {
      c.add(-1);
    }).toThrow(InvalidArgumentError);
    expect(() => {
      c.add(Number.NaN);
    }).toThrow(InvalidArgumentError);
    expect(c.value).toBe(42);
    const g = stats.gauge('g');
    g.set(10);
    g.inc();
    g.dec();
    g.dec();
    g.add(5);
    g.sub(3);
    expect(g.value).toBe(11);
  });

  it('joins flat prefixes, extracts tag-free names and merges tags through nested scopes', () => {
    const stats = createStatsStore();
    const listener = stats.scope(
      'listener.0.0.0.0_8080',
      { envoy_listener_address: '0.0.0.0_8080' },
      'listener',
    );
    const http = listener.scope('http.ingress', { envoy_http_conn_manager_prefix: 'ingress' }, 'http');
    const c = http.counter('downstream_rq_total', { envoy_response_code_class: '2' });
    expect(c.name).toBe('listener.0.0.0.0_8080.http.ingress.downstream_rq_total.envoy_response_code_class.2');
    expect(c.tagExtractedName).toBe('listener.http.downstream_rq_total');
    expect(c.tags).toEqual({
      envoy_http_conn_manager_prefix: 'ingress',
      envoy_listener_address: '0.0.0.0_8080',
      envoy_response_code_class: '2',
    });
    expect(http.prefix).toBe('listener.0.0.0.0_8080.http.ingress');
    expect(http.tags).toEqual({
      envoy_http_conn_manager_prefix: 'ingress',
      envoy_listener_address: '0.0.0.0_8080',
    });
    // Without an extracted prefix the flat prefix is used for both names.
    const plain = stats.scope('server').gauge('live');
    expect(plain.name).toBe('server.live');
    expect(plain.tagExtractedName).toBe('server.live');
    // A child tag overrides its parent's of the same name.
    expect(stats.scope('a', { t: '1' }).scope('b', { t: '2' }).tags).toEqual({ t: '2' });
  });

  it("spells a counter's flat name as asked (Envoy's upstream_rq_2xx), keeping the tags for Prometheus", () => {
    const stats = createStatsStore();
    const cluster = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
    const c = cluster.counter('upstream_rq_xx', { envoy_response_code_class: '2' }, 'upstream_rq_2xx');
    c.inc();
    expect(c.name).toBe('cluster.orders.upstream_rq_2xx');
    expect(c.tagExtractedName).toBe('cluster.upstream_rq_xx');
    expect(cluster.counter('upstream_rq_xx', { envoy_response_code_class: '2' }, 'upstream_rq_2xx')).toBe(c);
    expect(stats.text()).toContain('cluster.orders.upstream_rq_2xx: 1');
    expect(stats.prometheus()).toContain(
      'envoy_cluster_upstream_rq_xx{envoy_cluster_name="orders",envoy_response_code_class="2"} 1',
    );
    expect(() => cluster.counter('upstream_rq_xx', { envoy_response_code_class: '3' }, '')).toThrow(
      InvalidArgumentError,
    );
  });

  it('lists every stat of every scope', () => {
    const stats = createStatsStore();
    stats.counter('a');
    stats.scope('x').counter('b');
    stats.scope('x').scope('y').gauge('c');
    stats.scope('z').histogram('d');
    expect([...stats.counters()].map((s) => s.name).sort()).toEqual(['a', 'x.b']);
    expect([...stats.gauges()].map((s) => s.name)).toEqual(['x.y.c']);
    expect([...stats.histograms()].map((s) => s.name)).toEqual(['z.d']);
  });

  it('remove(scope) drops the stats of the scope and its children, and nothing else', () => {
    const stats = createStatsStore();
    const orders = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
    const users = stats.scope('cluster.users', { envoy_cluster_name: 'users' }, 'cluster');
    const old = orders.counter('upstream_rq_total');
    old.inc();
    orders.scope('outlier_detection').gauge('ejections_active').set(1);
    users.counter('upstream_rq_total').inc();
    stats.remove(orders);
    expect([...stats.counters()].map((c) => c.name)).toEqual(['cluster.users.upstream_rq_total']);
    expect([...stats.gauges()]).toEqual([]);
    expect(stats.prometheus()).not.toContain('orders');
    // A cluster of the same name added later starts from zero.
    const again = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
    expect(again).not.toBe(orders);
    expect(again.counter('upstream_rq_total').value).toBe(0);
    // A name freed by removal can come back as another type.
    stats.remove(again);
    stats.remove(users);
    expect(stats.scope('cluster.users', {}, 'cluster').gauge('upstream_rq_total').value).toBe(0);
    expect(() => {
      stats.remove(createStatsStore().scope('x'));
    }).toThrow(InvalidArgumentError);
  });

  it('a removed scope keeps working for its holders but is neither exported nor in the way', () => {
    const stats = createStatsStore();
    const old = stats.scope('cluster.a', { envoy_cluster_name: 'a' }, 'cluster');
    const kept = old.counter('rq');
    stats.remove(old);
    kept.inc();
    old.scope('sub').gauge('late').set(3);
    old.counter('more').inc();
    expect(kept.value).toBe(1);
    expect([...stats.counters()]).toEqual([]);
    expect([...stats.gauges()]).toEqual([]);
    // Its names are free: another type may take them.
    expect(stats.scope('cluster.b', {}, 'cluster').gauge('more').value).toBe(0);
    stats.remove(old);
    // Removing the store itself empties it.
    stats.counter('x').inc();
    stats.remove(stats);
    expect(stats.prometheus()).toBe('');
    expect(stats.counter('x').value).toBe(0);
  });

  it('rejects bad names and tags with InvalidArgumentError', () => {
    const stats = createStatsStore();
    const bad: (() => unknown)[] = [
      () => stats.counter(''),
      () => stats.counter('a..b'),
      () => stats.counter('.a'),
      () => stats.counter('a b'),
      () => stats.gauge(42 as unknown as string),
      () => stats.scope(''),
      () => stats.counter('a', { '': 'x' }),
      () => stats.counter('a', { '1abc': 'x' }),
      () => stats.counter('a', { 'with-dash': 'x' }),
      () => stats.counter('a', { __reserved: 'x' }),
      () => stats.counter('a', { le: '1' }),
      () => stats.counter('a', { name: '' }),
      () => stats.counter('a', { name: 1 as unknown as string }),
      () => stats.scope('s', { 'a.b': 'x' }),
      () => stats.histogram('h', 'seconds' as 'milliseconds'),
    ];
    for (const call of bad) expect(call).toThrow(InvalidArgumentError);
  });

  it('refuses one tag-extracted name as two types, and a histogram in two units', () => {
    const stats = createStatsStore();
    stats.counter('x');
    expect(() => stats.gauge('x')).toThrow(/already a counter/);
    stats.scope('cluster.a', { envoy_cluster_name: 'a' }, 'cluster').counter('rq');
    expect(() => stats.scope('cluster.b', { envoy_cluster_name: 'b' }, 'cluster').gauge('rq')).toThrow(
      InvalidArgumentError,
    );
    stats.histogram('h', 'milliseconds');
    expect(() => stats.histogram('h', 'bytes')).toThrow(InvalidArgumentError);
  });

  it('checks its options', () => {
    expect(() => createStatsStore({ significantDigits: 7 as 2 })).toThrow(ConfigError);
    expect(createStatsStore({ significantDigits: 3 }).histogram('h').count).toBe(0);
  });
});
