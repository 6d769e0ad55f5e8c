import type { Host } from '@meshlet/lb';
import type * as model from '@meshlet/xds';

/**
 * The hostname of a picked host for `auto_host_rewrite`, as Envoy's `host->hostname()`: the
 * endpoint's `hostname`, else the DNS name of a STRICT_DNS / LOGICAL_DNS endpoint (set on the
 * host by src/cluster from the endpoint or DNS answer, so EDS hosts have theirs too); `undefined`
 * when there is none (then Envoy leaves the authority alone).
 */
export function hostnameOf(_cluster: model.Cluster, host: Host): string | undefined {
  return host.hostname;
}
