// Envoy's `cluster.<name>.*` stats of one cluster, and the per-host counts `/clusters` shows.
// Every stat object is made here, when the cluster is built; recording only increments.
import type { Host } from '@meshlet/lb';
import type { Counter, Gauge, Histogram, Scope } from '@meshlet/stats';
import type { UpstreamOutcome, UpstreamStats } from '../types.js';
import { classCounters, statSegment, taggedCounter, TAG } from './names.js';

/**
 * One host's counts, as Envoy's `/clusters` lists them (`cx_total`, `rq_success`...). Read-only
 * outside this folder; kept while the host is in its cluster.
 */
export class HostStats {
  /** Connections opened to the host. */
  cxTotal = 0;
  /** Connections open now. */
  cxActive = 0;
  /** Connections that could not be made. */
  cxConnectFail = 0;
  /** Requests sent to the host (each attempt). */
  rqTotal = 0;
  /** Requests in flight. */
  rqActive = 0;
  /** Requests answered with a status below 500. */
  rqSuccess = 0;
  /** Requests answered 5xx, timed out, reset, or never connected. */
  rqError = 0;
  /** Requests that timed out. */
  rqTimeout = 0;
}

/** The health checker's counters of a cluster. */
export interface HealthCheckStats {
  readonly attempt: Counter;
  readonly success: Counter;
  readonly failure: Counter;
  readonly networkFailure: Counter;
  readonly healthy: Gauge;
}

/**
 * The cluster as {@link ClusterStats} watches it: its hosts' health, health checks and the
 * outlier detector's ejections (a `ManagedCluster` fits).
 */
export interface StatsCluster {
  readonly name: string;
  readonly loadBalancer: {
    readonly hosts: readonly Host[];
    on(event: 'update', listener: () => void): unknown;
  };
  readonly outlierDetector: {
    on(event: 'eject' | 'uneject', listener: () => void): unknown;
    stats(): { readonly ejectionsActive: number };
  } | null;
  on(event: 'healthCheck', listener: (host: Host, event: { readonly outcome: string }) => void): unknown;
}

/**
 * `UpstreamStats` on a `@meshlet/stats` scope: Envoy's `cluster.<name>.` counters, gauges and
 * `upstream_rq_time`, plus {@link HostStats} per host.
 */
export class ClusterStats implements UpstreamStats {
  /** The cluster's scope (`cluster.<name>.`), dropped from the store when the cluster goes. */
  readonly scope: Scope;
  readonly rqTotal: Counter;
  readonly rqActive: Gauge;
  readonly rqCompleted: Counter;
  readonly rqTime: Histogram;
  readonly rqRetry: Counter;
  readonly rqPendingOverflow: Counter;
  readonly rqTimeout: Counter;
  readonly rqPerTryTimeout: Counter;
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxConnectFail: Counter;
  readonly cxDestroy: Counter;
  readonly membershipTotal: Gauge;
  readonly membershipHealthy: Gauge;
  readonly membershipDegraded: Gauge;
  readonly ejectionsActive: Gauge;
  readonly ejectionsTotal: Counter;
  readonly ejectionsEnforcedTotal: Counter;
  readonly healthCheck: HealthCheckStats;
  /** `upstream_rq_1xx`…`upstream_rq_5xx`, by class. */
  readonly #byClass: readonly Counter[];
  /** `upstream_rq_<code>` by status, made on a code's first use (then kept: no allocation after). */
  readonly #byCode: (Counter | undefined)[] = [];
  readonly #hosts = new Map<Host, HostStats>();
  readonly #cluster: StatsCluster;

  constructor(root: Scope, cluster: StatsCluster) {
    this.#cluster = cluster;
    const name = statSegment(cluster.name);
    const scope = root.scope(`cluster.${name}`, { [TAG.clusterName]: name }, 'cluster');
    this.scope = scope;
    this.rqTotal = scope.counter('upstream_rq_total');
    this.rqActive = scope.gauge('upstream_rq_active');
    this.rqCompleted = scope.counter('upstream_rq_completed');
    this.rqTime = scope.histogram('upstream_rq_time', 'milliseconds');
    this.rqRetry = scope.counter('upstream_rq_retry');
    this.rqPendingOverflow = scope.counter('upstream_rq_pending_overflow');
    this.rqTimeout = scope.counter('upstream_rq_timeout');
    this.rqPerTryTimeout = scope.counter('upstream_rq_per_try_timeout');
    this.cxTotal = scope.counter('upstream_cx_total');
    this.cxActive = scope.gauge('upstream_cx_active');
    this.cxConnectFail = scope.counter('upstream_cx_connect_fail');
    this.cxDestroy = scope.counter('upstream_cx_destroy');
    this.membershipTotal = scope.gauge('membership_total');
    this.membershipHealthy = scope.gauge('membership_healthy');
    this.membershipDegraded = scope.gauge('membership_degraded');
    this.ejectionsActive = scope.gauge('outlier_detection.ejections_active');
    this.ejectionsTotal = scope.counter('outlier_detection.ejections_total');
    this.ejectionsEnforcedTotal = scope.counter('outlier_detection.ejections_enforced_total');
    this.healthCheck = {
      attempt: scope.counter('health_check.attempt'),
      success: scope.counter('health_check.success'),
      failure: scope.counter('health_check.failure'),
      networkFailure: scope.counter('health_check.network_failure'),
      healthy: scope.gauge('health_check.healthy'),
    };
    this.#byClass = classCounters(scope, 'upstream_rq');
    cluster.loadBalancer.on('update', this.#membership.bind(this));
    cluster.on('healthCheck', this.#healthChecked.bind(this));
    const detector = cluster.outlierDetector;
    if (detector !== null) {
      detector.on('eject', this.#ejected.bind(this));
      detector.on('uneject', this.#ejections.bind(this));
    }
    this.#membership();
  }

  /** The counts of `host`, `undefined` when it never had a connection or request. */
  host(host: Host): HostStats | undefined {
    return this.#hosts.get(host);
  }

  #host(host: Host): HostStats {
    let stats = this.#hosts.get(host);
    if (stats === undefined) {
      stats = new HostStats();
      this.#hosts.set(host, stats);
    }
    return stats;
  }

  requestStarted(host: Host): void {
    this.rqTotal.inc();
    this.rqActive.inc();
    const h = this.#host(host);
    h.rqTotal++;
    h.rqActive++;
  }

  requestEnded(host: Host, outcome: UpstreamOutcome, durationMs: number): void {
    this.rqActive.dec();
    this.rqCompleted.inc();
    this.rqTime.record(durationMs);
    const h = this.#host(host);
    h.rqActive--;
    switch (outcome.kind) {
      case 'response':
        this.#charge(outcome.status);
        if (outcome.status < 500) h.rqSuccess++;
        else h.rqError++;
        return;
      case 'connect-failed':
        // As Envoy, the code the proxy answers for an upstream it could not reach.
        this.#charge(503);
        h.rqError++;
        return;
      case 'timeout':
        this.#charge(504);
        h.rqError++;
        h.rqTimeout++;
        return;
      default:
        // Reset before a response (by the upstream, or cancelled here): no code to charge.
        h.rqError++;
    }
  }

  /** `upstream_rq_<code>` and `upstream_rq_<class>xx`. */
  #charge(status: number): void {
    this.#byClass[Math.floor(status / 100)]?.inc();
    if (!Number.isInteger(status) || status < 100 || status > 599) return;
    let counter = this.#byCode[status];
    if (counter === undefined) {
      counter = taggedCounter(
        this.scope,
        'upstream_rq',
        { [TAG.responseCode]: String(status) },
        `upstream_rq_${String(status)}`,
      );
      this.#byCode[status] = counter;
    }
    counter.inc();
  }

  retry(): void {
    this.rqRetry.inc();
  }

  overflow(): void {
    this.rqPendingOverflow.inc();
  }

  timeout(perTry: boolean): void {
    if (perTry) this.rqPerTryTimeout.inc();
    else this.rqTimeout.inc();
  }

  connectionOpened(host: Host): void {
    this.cxTotal.inc();
    this.cxActive.inc();
    const h = this.#host(host);
    h.cxTotal++;
    h.cxActive++;
  }

  connectionFailed(host: Host): void {
    this.cxConnectFail.inc();
    this.#host(host).cxConnectFail++;
  }

  connectionClosed(host: Host): void {
    this.cxActive.dec();
    this.cxDestroy.inc();
    this.#host(host).cxActive--;
  }

  /** The host set or a host's health changed: membership gauges; forget hosts that left. */
  #membership(): void {
    const hosts = this.#cluster.loadBalancer.hosts;
    let healthy = 0;
    let degraded = 0;
    for (const host of hosts) {
      if (host.health === 'healthy') healthy++;
      else if (host.health === 'degraded') degraded++;
    }
    this.membershipTotal.set(hosts.length);
    this.membershipHealthy.set(healthy);
    this.membershipDegraded.set(degraded);
    if (this.#hosts.size > 0) {
      const present = new Set(hosts);
      for (const host of this.#hosts.keys()) if (!present.has(host)) this.#hosts.delete(host);
    }
  }

  #healthChecked(_host: Host, event: { readonly outcome: string }): void {
    const hc = this.healthCheck;
    hc.attempt.inc();
    if (event.outcome === 'success') {
      hc.success.inc();
    } else {
      hc.failure.inc();
      // `active-failure` is an unexpected answer; the others are network failures (no answer).
      if (event.outcome !== 'active-failure') hc.networkFailure.inc();
    }
    let passing = 0;
    for (const host of this.#cluster.loadBalancer.hosts) if (host.observedHealth !== 'unhealthy') passing++;
    hc.healthy.set(passing);
  }

  #ejected(): void {
    this.ejectionsTotal.inc();
    this.ejectionsEnforcedTotal.inc();
    this.#ejections();
  }

  #ejections(): void {
    this.ejectionsActive.set(this.#cluster.outlierDetector?.stats().ejectionsActive ?? 0);
  }
}
