// From the model's endpoints to @meshlet/lb's host inputs: one place that knows how Envoy's
// LbEndpoint fields become a balancer's weights, health, subsets, localities and priorities.
import { isIP } from 'node:net';
import { ConfigError } from '@meshlet/errors';
import type { HostHealth, HostInput, MetadataValue } from '@meshlet/lb';
import type * as model from '@meshlet/xds';

/** One endpoint, mapped, with what the balancer does not keep: its health-check port. */
export interface EndpointInput {
  readonly host: HostInput;
  /** `endpoint.health_check_config.port_value`, else the host's port. */
  readonly healthCheckPort: number;
}

const EMPTY: Readonly<Record<string, MetadataValue>> = Object.freeze({});

/** Envoy's health status reduced to a balancer health: only HEALTHY and UNKNOWN take traffic. */
export function declaredHealth(status: model.HealthStatus): HostHealth {
  switch (status) {
    case 'UNHEALTHY':
    case 'DRAINING':
    case 'TIMEOUT':
      return 'unhealthy';
    case 'DEGRADED':
      return 'degraded';
    default:
      return 'healthy';
  }
}

/**
 * The `envoy.lb` namespace of endpoint metadata, flattened to what subset selectors compare:
 * strings, numbers and booleans (Envoy's subset keys are compared as protobuf Values; lists and
 * structs never match a route's metadata match, so they are left out).
 */
export function lbMetadata(metadata: model.Metadata): Readonly<Record<string, MetadataValue>> {
  const ns = metadata['envoy.lb'];
  if (ns === undefined) return EMPTY;
  let out: Record<string, MetadataValue> | undefined;
  for (const key of Object.keys(ns)) {
    const v = ns[key];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') (out ??= {})[key] = v;
  }
  return out ?? EMPTY;
}

/** Where a failing endpoint is, for error messages: `cluster "x" › endpoints[0] › lb_endpoints[2]`. */
function where(cluster: string, i: number, j: number): string {
  return `cluster ${JSON.stringify(cluster)} › endpoints[${i}] › lb_endpoints[${j}]`;
}

/**
 * Maps a load assignment to host inputs. `resolve` turns an endpoint's address into the addresses
 * to use (the address itself for STATIC and EDS, the DNS answer for STRICT_DNS); an endpoint whose
 * name resolved to nothing contributes no host. Throws a `ConfigError` on a pipe address, a bad
 * port or weight, or a duplicate `address:port`.
 */
export function mapEndpoints(
  cluster: string,
  assignment: model.ClusterLoadAssignment | undefined,
  resolve: (address: string) => readonly string[],
): EndpointInput[] {
  const out: EndpointInput[] = [];
  if (assignment === undefined) return out;
  const seen = new Set<string>();
  const localityWeights = new Map<string, number>();
  assignment.endpoints.forEach((group, i) => {
    const priority = group.priority;
    if (!Number.isInteger(priority) || priority < 0 || priority > 127) {
      throw new ConfigError(
        `cluster ${JSON.stringify(cluster)} › endpoints[${i}] › priority: must be an integer in [0, 127], got ${String(priority)}`,
      );
    }
    const localityWeight = group.loadBalancingWeight ?? 1;
    const locality = group.locality;
    const lkey = `${priority}\u0000${locality.region}\u0000${locality.zone}\u0000${locality.subZone}`;
    const known = localityWeights.get(lkey);
    if (known !== undefined && known !== localityWeight) {
      throw new ConfigError(
        `cluster ${JSON.stringify(cluster)} › endpoints[${i}] › load_balancing_weight: ${localityWeight}, but the same locality at priority ${priority} has ${known}`,
      );
    }
    localityWeights.set(lkey, localityWeight);
    group.lbEndpoints.forEach((ep, j) => {
      if (!('socketAddress' in ep.address)) {
        throw new ConfigError(`${where(cluster, i, j)} › endpoint.address: pipe addresses are not supported`);
      }
      const sa = ep.address.socketAddress;
      if (sa.protocol !== 'TCP') {
        throw new ConfigError(`${where(cluster, i, j)} › endpoint.address: only TCP is supported`);
      }
      if (!Number.isInteger(sa.port) || sa.port < 1 || sa.port > 65535) {
        throw new ConfigError(
          `${where(cluster, i, j)} › endpoint.address.port_value: must be an integer in [1, 65535], got ${String(sa.port)}`,
        );
      }
      const weight = ep.loadBalancingWeight;
      if (!Number.isInteger(weight) || weight < 1 || weight > 0xffffffff) {
        throw new ConfigError(
          `${where(cluster, i, j)} › load_balancing_weight: must be an integer in [1, 2^32-1], got ${String(weight)}`,
        );
      }
      const hcPort = ep.healthCheckPort ?? sa.port;
      if (!Number.isInteger(hcPort) || hcPort < 1 || hcPort > 65535) {
        throw new ConfigError(
          `${where(cluster, i, j)} › health_check_config.port_value: must be an integer in [1, 65535], got ${String(hcPort)}`,
        );
      }
      const metadata = lbMetadata(ep.metadata);
      const hashKey = ep.metadata['envoy.lb']?.hash_key;
      // Envoy's host->hostname(): the endpoint's hostname, else the DNS name it was resolved from.
      const hostname = ep.hostname !== '' ? ep.hostname : isIP(sa.address) === 0 ? sa.address : '';
      for (const address of resolve(sa.address)) {
        const key = `${address}:${sa.port}`;
        // Two names resolving to one address (STRICT_DNS) are one host, as in Envoy's host map.
        if (seen.has(key)) {
          if (address === sa.address) throw new ConfigError(`${where(cluster, i, j)}: ${key} appears twice`);
          continue;
        }
        seen.add(key);
        out.push({
          host: {
            address,
            port: sa.port,
            weight,
            health: declaredHealth(ep.healthStatus),
            metadata,
            locality: { region: locality.region, zone: locality.zone, subZone: locality.subZone },
            localityWeight,
            priority,
            ...(typeof hashKey === 'string' && hashKey !== '' ? { hashKey } : {}),
            ...(hostname !== '' ? { hostname } : {}),
          },
          healthCheckPort: hcPort,
        });
      }
    });
  });
  return out;
}

/** The endpoint addresses of a load assignment that are names to resolve (not IP literals). */
export function namesToResolve(assignment: model.ClusterLoadAssignment | undefined): string[] {
  const names = new Set<string>();
  if (assignment === undefined) return [];
  for (const group of assignment.endpoints) {
    for (const ep of group.lbEndpoints) {
      if ('socketAddress' in ep.address && isIP(ep.address.socketAddress.address) === 0) {
        names.add(ep.address.socketAddress.address);
      }
    }
  }
  return [...names];
}
