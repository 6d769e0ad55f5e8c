import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import { renderJson, renderText } from './admin-format.js';
import type { StatsCounter } from './counter.js';
import type { StatsGauge } from './gauge.js';
import type { StatsHistogram } from './histogram.js';
import { noTags } from './names.js';
import { renderPrometheus } from './prometheus.js';
import { Registry, StatsScope } from './stats-scope.js';
import type {
  Counter,
  Gauge,
  Histogram,
  PrometheusOptions,
  Scope,
  StatsStore,
  StatsStoreOptions,
} from './types.js';

/** The root scope: owns the tree of scopes and renders every stat in it. */
export class MeshletStatsStore extends StatsScope implements StatsStore {
  constructor(options: StatsStoreOptions = {}) {
    const digits = options.significantDigits ?? 2;
    if (![1, 2, 3, 4, 5].includes(digits)) {
      throw new ConfigError(`significantDigits must be an integer from 1 to 5, got ${String(digits)}`);
    }
    super(new Registry(digits), null, '', '', noTags, '');
  }

  prometheus(options?: PrometheusOptions): string {
    return renderPrometheus(this.all(), options);
  }

  json(): { stats: unknown[] } {
    return renderJson(this.all());
  }

  text(): string {
    return renderText(this.all());
  }

  counters(): Iterable<Counter> {
    return walk(this, 'counterMap');
  }

  gauges(): Iterable<Gauge> {
    return walk(this, 'gaugeMap');
  }

  histograms(): Iterable<Histogram> {
    return walk(this, 'histogramMap');
  }

  remove(scope: Scope): void {
    if (!(scope instanceof StatsScope) || scope.registry !== this.registry) {
      throw new InvalidArgumentError('remove() takes a scope of this store');
    }
    scope.clear();
    if (scope === this) return;
    scope.detached = true;
    // A scope no longer reachable from the root keeps working for whoever holds it, but is not
    // exported; asking its parent again gives a fresh one.
    scope.parent?.children.delete(scope.key);
    scope.parent = null;
  }

  private all(): {
    counters: Iterable<StatsCounter>;
    gauges: Iterable<StatsGauge>;
    histograms: Iterable<StatsHistogram>;
  } {
    return {
      counters: walk(this, 'counterMap'),
      gauges: walk(this, 'gaugeMap'),
      histograms: walk(this, 'histogramMap'),
    };
  }
}

type StatMaps = Pick<StatsScope, 'counterMap' | 'gaugeMap' | 'histogramMap'>;
type StatOf<K extends keyof StatMaps> = StatMaps[K] extends Map<string, infer S> ? S : never;

function* walk<K extends keyof StatMaps>(scope: StatsScope, maps: K): Generator<StatOf<K>> {
  yield* scope[maps].values() as Iterable<StatOf<K>>;
  for (const child of scope.children.values()) yield* walk(child, maps);
}

/**
 * Creates a stats store: the root scope that owns every stat and renders them.
 *
 * @example
 * ```ts
 * const stats = createStatsStore();
 * const orders = stats.scope('cluster.orders', { envoy_cluster_name: 'orders' }, 'cluster');
 * const requests = orders.counter('upstream_rq_total'); // create once, at config time
 * const latency = orders.histogram('upstream_rq_time', 'milliseconds');
 * requests.inc(); // hot path: no allocation
 * latency.record(12.5);
 * stats.prometheus(); // envoy_cluster_upstream_rq_total{envoy_cluster_name="orders"} 1 ...
 * ```
 */
export function createStatsStore(options?: StatsStoreOptions): StatsStore {
  return new MeshletStatsStore(options);
}
