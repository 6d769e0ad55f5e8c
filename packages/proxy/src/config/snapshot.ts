import type * as model from '@meshlet/xds';

/**
 * The snapshot of a bootstrap's static resources (listeners and clusters; route tables inline):
 * what `createProxy` takes when the config comes from a file rather than a control plane.
 *
 * @example
 * ```ts
 * const { bootstrap } = loadBootstrap('envoy.yaml');
 * const proxy = createProxy({ config: snapshotOfBootstrap(bootstrap) });
 * ```
 */
export function snapshotOfBootstrap(bootstrap: model.Bootstrap): model.XdsSnapshot {
  return {
    listeners: new Map(bootstrap.staticResources.listeners.map((l) => [l.name, l])),
    routeConfigurations: new Map(),
    clusters: new Map(bootstrap.staticResources.clusters.map((c) => [c.name, c])),
    endpoints: new Map(),
  };
}
