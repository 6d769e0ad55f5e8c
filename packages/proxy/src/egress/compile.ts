// The egress connection managers of a config version: one per route configuration of the
// snapshot, with the router filter alone, as an `http_connection_manager` with Envoy's defaults
// and `stat_prefix: egress_<name>` would be.
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { CompileContext } from '../config/compile.js';
import { FilterChainPlan } from '../filters/chain.js';
import { HttpConnectionManager } from '../http/connection-manager.js';

const ROUTER: model.HttpFilter = {
  name: 'envoy.filters.http.router',
  isOptional: false,
  disabled: false,
  config: { type: 'router', suppressEnvoyHeaders: false },
};

/** The connection manager config an egress of route configuration `name` runs with. */
export function egressConnectionManagerConfig(name: string): model.HttpConnectionManager {
  return {
    statPrefix: `egress_${name}`,
    codecType: 'AUTO',
    rds: { routeConfigName: name },
    httpFilters: [ROUTER],
    commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
    useRemoteAddress: false,
    xffNumTrustedHops: 0,
    serverName: '',
    normalizePath: false,
    mergeSlashes: false,
    generateRequestId: true,
    upgradeConfigs: [],
  };
}

/** Compiles the egress connection manager of every route configuration in `routeConfigs`. */
export function compileEgressManagers(
  routeConfigs: ReadonlyMap<string, model.RouteConfiguration>,
  ctx: CompileContext,
): ReadonlyMap<string, HttpConnectionManager> {
  const out = new Map<string, HttpConnectionManager>();
  for (const [name, routeConfig] of routeConfigs) {
    const where = `egress "${name}"`;
    const config = egressConnectionManagerConfig(name);
    let routeTable;
    try {
      routeTable = ctx.routeTable(routeConfig);
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError(`${where}: ${error.message}`, { cause: error });
      throw error;
    }
    const plan = FilterChainPlan.compile(config.httpFilters, ctx.registry, [routeConfig], ctx.filters, where);
    const filter: model.NetworkFilter = {
      name: 'envoy.filters.network.http_connection_manager',
      kind: 'http_connection_manager',
      config,
    };
    out.set(
      name,
      new HttpConnectionManager({
        name: `egress/${name}`,
        config,
        routeTable,
        plan,
        router: ctx.routerFilter(plan.router),
        env: ctx.env,
        observer: ctx.observer({
          listenerName: `egress:${name}`,
          chainName: name,
          kind: 'http',
          statPrefix: config.statPrefix,
          filter,
        }),
      }),
    );
  }
  return out;
}
