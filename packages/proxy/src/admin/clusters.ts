// `/clusters`: every cluster's limits and outlier state, and per host its health flags, weight,
// locality and counts, in Envoy's text format (`cluster::host::field::value`) or its JSON
// (`?format=json`, envoy.admin.v3.Clusters).
import type { Host } from '@meshlet/lb';
import type { ManagedCluster } from '../cluster/managed-cluster.js';
import type { Json } from './config-dump.js';

/**
 * Per-host connection and request counts (Envoy's `cx_total`, `rq_total`...). The cluster
 * manager does not count them; the proxy's stats do. An admin server given a source shows them.
 */
export interface HostCounts {
  readonly cxActive: number;
  readonly cxConnectFail: number;
  readonly cxTotal: number;
  readonly rqError: number;
  readonly rqSuccess: number;
  readonly rqTimeout: number;
  readonly rqTotal: number;
}

/** Where `/clusters` finds per-host counts (the proxy's per-host stats); `undefined`: none kept. */
export type HostCountsSource = (cluster: string, host: Host) => HostCounts | undefined;

/** Envoy's health flags of a host: `healthy`, or `/failed_active_hc/failed_outlier_check`... */
export function healthFlags(cluster: ManagedCluster, host: Host): string {
  let flags = '';
  if (host.observedHealth === 'unhealthy') flags += '/failed_active_hc';
  if (host.ejected || cluster.outlierDetector?.isEjected(host) === true) flags += '/failed_outlier_check';
  if (host.declaredHealth === 'unhealthy') flags += '/failed_eds_health';
  if (host.observedHealth === 'degraded') flags += '/degraded_active_hc';
  if (host.declaredHealth === 'degraded') flags += '/degraded_eds_health';
  if (cluster.healthChecker?.get(host)?.pending === true) flags += '/pending_active_hc';
  return flags === '' ? 'healthy' : flags;
}

const COUNT_NAMES: readonly [keyof HostCounts, string][] = [
  ['cxActive', 'cx_active'],
  ['cxConnectFail', 'cx_connect_fail'],
  ['cxTotal', 'cx_total'],
  ['rqError', 'rq_error'],
  ['rqSuccess', 'rq_success'],
  ['rqTimeout', 'rq_timeout'],
  ['rqTotal', 'rq_total'],
];

function hostsOf(cluster: ManagedCluster): readonly Host[] {
  return cluster.loadBalancer.hosts;
}

/** Envoy's `/clusters` text. */
export function clustersText(
  clusters: ReadonlyMap<string, ManagedCluster>,
  counts?: HostCountsSource,
): string {
  const lines: string[] = [];
  for (const [name, cluster] of clusters) {
    const p = `${name}::`;
    lines.push(`${p}observability_name::${name}`);
    if (cluster.outlierDetector !== null) {
      // meshlet's detector does not publish its last success-rate sweep: -1 as Envoy prints when unknown.
      lines.push(
        `${p}outlier::success_rate_average::-1`,
        `${p}outlier::success_rate_ejection_threshold::-1`,
        `${p}outlier::local_origin_success_rate_average::-1`,
        `${p}outlier::local_origin_success_rate_ejection_threshold::-1`,
      );
    }
    for (const priority of ['default', 'high'] as const) {
      const limits = cluster.limits(priority);
      const q = `${p}${priority}_priority::`;
      lines.push(
        `${q}max_connections::${String(limits.connections.max)}`,
        `${q}max_pending_requests::${String(limits.pendingRequests.max)}`,
        `${q}max_requests::${String(limits.requests.max)}`,
        `${q}max_retries::${String(limits.retries.max)}`,
      );
    }
    lines.push(`${p}added_via_api::${String(cluster.config.type === 'EDS')}`);
    if (cluster.config.edsServiceName !== undefined) {
      lines.push(`${p}eds_service_name::${cluster.config.edsServiceName}`);
    }
    for (const host of hostsOf(cluster)) {
      const h = `${p}${host.key}::`;
      const c = counts?.(name, host);
      if (c !== undefined)
        for (const [key, stat] of COUNT_NAMES) lines.push(`${h}${stat}::${String(c[key])}`);
      lines.push(
        `${h}rq_active::${String(host.activeRequests)}`,
        `${h}hostname::${host.hostname ?? ''}`,
        `${h}health_flags::${healthFlags(cluster, host)}`,
        `${h}weight::${String(host.weight)}`,
        `${h}region::${host.locality?.region ?? ''}`,
        `${h}zone::${host.locality?.zone ?? ''}`,
        `${h}sub_zone::${host.locality?.subZone ?? ''}`,
        `${h}canary::false`,
        `${h}priority::${String(host.priority)}`,
        `${h}success_rate::-1`,
        `${h}local_origin_success_rate::-1`,
      );
      const monitor = cluster.outlierDetector?.monitor(host);
      if (monitor !== undefined) lines.push(`${h}outlier_ejections::${String(monitor.ejections)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

const EDS_HEALTH: Readonly<Record<string, string>> = {
  healthy: 'HEALTHY',
  degraded: 'DEGRADED',
  unhealthy: 'UNHEALTHY',
  ejected: 'UNHEALTHY',
};

/** Envoy's `/clusters?format=json` (envoy.admin.v3.Clusters). */
export function clustersJson(
  clusters: ReadonlyMap<string, ManagedCluster>,
  counts?: HostCountsSource,
): { cluster_statuses: Json[] } {
  const statuses: Json[] = [];
  for (const [name, cluster] of clusters) {
    const thresholds: Json[] = (['default', 'high'] as const).map((priority) => {
      const limits = cluster.limits(priority);
      return {
        priority: priority === 'default' ? 'DEFAULT' : 'HIGH',
        max_connections: limits.connections.max,
        max_pending_requests: limits.pendingRequests.max,
        max_requests: limits.requests.max,
        max_retries: limits.retries.max,
      };
    });
    const hosts: Json[] = hostsOf(cluster).map((host) => {
      const stats: Json[] = [];
      const c = counts?.(name, host);
      if (c !== undefined) {
        for (const [key, stat] of COUNT_NAMES) {
          stats.push(
            key === 'cxActive' ? { type: 'GAUGE', name: stat, value: c[key] } : { name: stat, value: c[key] },
          );
        }
      }
      stats.push({ type: 'GAUGE', name: 'rq_active', value: host.activeRequests });
      const health: Record<string, Json> = {
        eds_health_status: EDS_HEALTH[host.declaredHealth] ?? 'UNKNOWN',
      };
      if (host.observedHealth === 'unhealthy') health.failed_active_health_check = true;
      if (host.observedHealth === 'degraded') health.failed_active_degraded_check = true;
      if (host.ejected || cluster.outlierDetector?.isEjected(host) === true)
        health.failed_outlier_check = true;
      if (cluster.healthChecker?.get(host)?.pending === true) health.pending_active_hc = true;
      const out: Record<string, Json> = {
        address: { socket_address: { address: host.address, port_value: host.port } },
        stats,
        health_status: health,
        weight: host.weight,
        priority: host.priority,
        locality: {
          region: host.locality?.region ?? '',
          zone: host.locality?.zone ?? '',
          sub_zone: host.locality?.subZone ?? '',
        },
      };
      if (host.hostname !== undefined) out.hostname = host.hostname;
      const monitor = cluster.outlierDetector?.monitor(host);
      if (monitor !== undefined) out.outlier = { ejected: monitor.ejected, ejections: monitor.ejections };
      return out;
    });
    const status: Record<string, Json> = {
      name,
      added_via_api: cluster.config.type === 'EDS',
      circuit_breakers: { thresholds },
      observability_name: name,
      host_statuses: hosts,
    };
    if (cluster.config.edsServiceName !== undefined) status.eds_service_name = cluster.config.edsServiceName;
    if (cluster.outlierDetector !== null) {
      const s = cluster.outlierDetector.stats();
      status.outlier_detection = {
        ejections_active: s.ejectionsActive,
        ejections_enforced_total: s.ejectionsEnforcedTotal,
        ejections_overflow: s.ejectionsOverflow,
      };
    }
    statuses.push(status);
  }
  return { cluster_statuses: statuses };
}
