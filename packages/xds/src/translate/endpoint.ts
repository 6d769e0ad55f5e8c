// ClusterLoadAssignment (EDS, or a static cluster's load_assignment) to the model.
import { type IssueList, field, index } from '../issues.js';
import type { ClusterLoadAssignment, HealthStatus, LbEndpoint, LocalityLbEndpoints } from '../types.js';
import {
  type JsonObject,
  address,
  fractionalPercent,
  has,
  list,
  locality,
  metadata,
  num,
  obj,
  only,
  optNum,
  str,
} from './common.js';

const HEALTH: readonly HealthStatus[] = [
  'UNKNOWN',
  'HEALTHY',
  'UNHEALTHY',
  'DRAINING',
  'TIMEOUT',
  'DEGRADED',
];

export function clusterLoadAssignment(o: JsonObject, issues: IssueList, path = ''): ClusterLoadAssignment {
  only(o, issues, path, ['clusterName', 'endpoints', 'policy'], ['namedEndpoints']);
  const policy = obj(o.policy);
  only(
    policy,
    issues,
    field(path, 'policy'),
    ['overprovisioningFactor', 'dropOverloads'],
    ['endpointStaleAfter', 'weightedPriorityHealth'],
  );
  return {
    clusterName: str(o.clusterName),
    endpoints: list(o.endpoints).map((l, i) =>
      localityLbEndpoints(l, issues, index(field(path, 'endpoints'), i)),
    ),
    policy: {
      overprovisioningFactor: num(policy.overprovisioningFactor, 140),
      dropOverloads: list(policy.dropOverloads).map((d) => ({
        category: str(d.category),
        dropPercentage: fractionalPercent(d.dropPercentage),
      })),
    },
  };
}

function localityLbEndpoints(o: JsonObject, issues: IssueList, path: string): LocalityLbEndpoints {
  only(
    o,
    issues,
    path,
    ['locality', 'lbEndpoints', 'loadBalancingWeight', 'priority'],
    ['metadata', 'proximity'],
  );
  if (has(o, 'leds') || has(o, 'ledsClusterLocalityConfig'))
    issues.error(field(path, 'leds_cluster_locality_config'), 'LEDS is not supported');
  const out: { -readonly [K in keyof LocalityLbEndpoints]: LocalityLbEndpoints[K] } = {
    locality: locality(o.locality),
    priority: num(o.priority, 0),
    lbEndpoints: list(o.lbEndpoints).flatMap(
      (e, i) => lbEndpoint(e, issues, index(field(path, 'lb_endpoints'), i)) ?? [],
    ),
  };
  const w = optNum(o.loadBalancingWeight);
  if (w !== undefined) out.loadBalancingWeight = w;
  return out;
}

function lbEndpoint(o: JsonObject, issues: IssueList, path: string): LbEndpoint | undefined {
  only(o, issues, path, ['endpoint', 'healthStatus', 'loadBalancingWeight', 'metadata']);
  if (has(o, 'endpointName')) {
    issues.error(field(path, 'endpoint_name'), 'named endpoints are not supported');
    return undefined;
  }
  const e = obj(o.endpoint);
  const here = field(path, 'endpoint');
  only(e, issues, here, ['address', 'hostname', 'healthCheckConfig'], ['additionalAddresses']);
  const addr = address(obj(e.address), issues, field(here, 'address'));
  if (!addr) return undefined;
  const hc = obj(e.healthCheckConfig);
  const out: { -readonly [K in keyof LbEndpoint]: LbEndpoint[K] } = {
    address: addr,
    hostname: str(e.hostname),
    healthStatus: HEALTH.includes(o.healthStatus as HealthStatus)
      ? (o.healthStatus as HealthStatus)
      : 'UNKNOWN',
    loadBalancingWeight: num(o.loadBalancingWeight, 1),
    metadata: metadata(o.metadata),
  };
  const port = optNum(hc.portValue);
  if (port) out.healthCheckPort = port;
  return out;
}
