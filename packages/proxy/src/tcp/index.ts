// The TCP proxy network filter (`envoy.filters.network.tcp_proxy`).
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { CompileContext } from '../config/compile.js';
import type { RpcChainName } from '../rpc/index.js';
import type { ConnectionHandler } from '../types.js';
import { TcpProxyHandler } from './tcp-proxy.js';

export { TcpProxyHandler } from './tcp-proxy.js';
export type { TcpProxyEnv } from './tcp-proxy.js';

/** Compiles a `tcp_proxy` network filter for one config version; throws a ConfigError on a bad config. */
export function compileTcpProxy(
  filter: model.TcpProxyFilter,
  chain: RpcChainName,
  ctx: CompileContext,
): ConnectionHandler {
  const where = `listener "${chain.listenerName}" filter_chain "${chain.chainName}": tcp_proxy "${filter.name}"`;
  const config = filter.config;
  if (config.cluster !== undefined) {
    if (config.cluster === '') throw new ConfigError(`${where}: cluster must not be empty`);
  } else {
    const weighted = config.weightedClusters ?? [];
    if (weighted.length === 0) throw new ConfigError(`${where}: needs cluster or weighted_clusters`);
    for (const [i, c] of weighted.entries()) {
      if (c.name === '')
        throw new ConfigError(`${where}: weighted_clusters.clusters[${i}].name must not be empty`);
      if (!Number.isInteger(c.weight) || c.weight < 0)
        throw new ConfigError(
          `${where}: weighted_clusters.clusters[${i}].weight must be a non-negative integer`,
        );
    }
    if (weighted.every((c) => c.weight === 0))
      throw new ConfigError(`${where}: weighted_clusters need a positive total weight`);
  }
  if (!Number.isInteger(config.maxConnectAttempts) || config.maxConnectAttempts < 1)
    throw new ConfigError(`${where}: max_connect_attempts must be at least 1`);
  if (config.idleTimeoutMs !== undefined && !(config.idleTimeoutMs >= 0))
    throw new ConfigError(`${where}: idle_timeout must not be negative`);
  return new TcpProxyHandler(config, {
    clusters: ctx.clusters,
    timers: ctx.timers,
    random: ctx.env.random,
  });
}
