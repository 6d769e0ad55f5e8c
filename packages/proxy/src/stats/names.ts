// Envoy's stat names and the tags its default tag extraction pulls out of them, so that the
// Prometheus output is the one Envoy's dashboards query:
//   cluster.orders.upstream_rq_2xx → envoy_cluster_upstream_rq_xx{envoy_cluster_name="orders",envoy_response_code_class="2"}
import { isIPv6 } from 'node:net';
import type { Counter, Scope, Tags } from '@meshlet/stats';

/** Envoy's tag names (`envoy.cluster_name` → `envoy_cluster_name`, as its Prometheus output spells them). */
export const TAG = {
  clusterName: 'envoy_cluster_name',
  httpConnManagerPrefix: 'envoy_http_conn_manager_prefix',
  listenerAddress: 'envoy_listener_address',
  tcpPrefix: 'envoy_tcp_prefix',
  responseCode: 'envoy_response_code',
  responseCodeClass: 'envoy_response_code_class',
} as const;

/**
 * A counter Envoy's tag extraction renames: flat `upstream_rq_2xx` (in `/stats`) is
 * `upstream_rq_xx{envoy_response_code_class="2"}` in Prometheus.
 */
export function taggedCounter(scope: Scope, extracted: string, tags: Tags, flat: string): Counter {
  return scope.counter(extracted, tags, flat);
}

/**
 * The `upstream_rq_1xx` … `upstream_rq_5xx` (or `downstream_rq_*`) counters, by class index 1–5:
 * `<base>_xx{envoy_response_code_class="<n>"}`.
 */
export function classCounters(scope: Scope, base: string): readonly Counter[] {
  const out: Counter[] = [];
  for (let n = 1; n <= 5; n++) {
    out[n] = taggedCounter(
      scope,
      `${base}_xx`,
      { [TAG.responseCodeClass]: String(n) },
      `${base}_${String(n)}xx`,
    );
  }
  return out;
}

/** Envoy's listener stat name for an address: `127.0.0.1_10000`, `[__1]_10000` (`:` is not allowed in stat names). */
export function listenerStatName(address: string, port: number): string {
  return isIPv6(address) ? `[${address.replaceAll(':', '_')}]_${port}` : `${address}_${port}`;
}

/** A stat name segment from a user value (`stat_prefix`, a cluster name): Envoy keeps `.` as a separator only, so `:` goes. */
export function statSegment(value: string): string {
  return value.replaceAll(':', '_');
}
