// The route configuration of a config with none: one virtual host per cluster, its domains the
// cluster's name, so that `http://orders/...` reaches cluster `orders` with Envoy's route
// defaults. Config wiring only: the proxy routes it like any other route configuration.
import { fromEnvoy, TYPE_URLS } from '@meshlet/xds';
import type { RouteConfiguration, XdsSnapshot } from '@meshlet/xds';

/** The name of the route configuration the mesh adds when the config has none. */
export const CLUSTER_ROUTES = 'meshlet_clusters';

/** The cluster-per-virtual-host route configuration of `clusters`. */
export function clusterRoutes(clusters: Iterable<string>): RouteConfiguration {
  const virtualHosts = [...clusters].map((name) => ({
    name,
    domains: [name, `${name}:*`],
    routes: [{ match: { prefix: '/' }, route: { cluster: name } }],
  }));
  return fromEnvoy({
    '@type': TYPE_URLS.routeConfiguration,
    name: CLUSTER_ROUTES,
    virtual_hosts: virtualHosts,
  }).value as RouteConfiguration;
}

/** `snapshot`, plus the cluster routes when it has no route configuration of its own. */
export function withClusterRoutes(snapshot: XdsSnapshot): XdsSnapshot {
  if (snapshot.routeConfigurations.size > 0 || snapshot.clusters.size === 0) return snapshot;
  return {
    ...snapshot,
    routeConfigurations: new Map([[CLUSTER_ROUTES, clusterRoutes(snapshot.clusters.keys())]]),
  };
}
