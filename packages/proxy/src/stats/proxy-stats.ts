// A proxy's stats: the observer factory of its filter chains, the stats of its clusters, and
// the scope its HTTP filters count in, all on one `@meshlet/stats` store.
import type { StatsStore } from '@meshlet/stats';
import type { Host } from '@meshlet/lb';
import type {
  ConnectionInfo,
  ObservedChain,
  ObserverFactory,
  StreamObserver,
  UpstreamCluster,
} from '../types.js';
import {
  HttpChainObserver,
  HttpConnectionManagerStats,
  ListenerStats,
  RpcChainObserver,
  RpcProxyStats,
  TcpChainObserver,
  TcpProxyStats,
} from './chain-stats.js';
import type { ListenerStatsSource } from './chain-stats.js';
import { ClusterStats } from './cluster-stats.js';
import type { HostStats, StatsCluster } from './cluster-stats.js';
import { listenerStatName } from './names.js';

/** The address a listener is bound to, by listener name (`undefined` before it listens). */
export type ListenerAddressOf = (listenerName: string) => { address: string; port: number } | undefined;

/**
 * Records a proxy's stats into `store` with Envoy's names: an `ObserverFactory` for its filter
 * chains (listener, HTTP connection manager, tcp_proxy, rpc_proxy stats) and the
 * `UpstreamStats` of each cluster.
 */
export class ProxyStats implements ObserverFactory, ListenerStatsSource {
  readonly store: StatsStore;
  readonly #addressOf: ListenerAddressOf;
  readonly #listeners = new Map<string, ListenerStats>();
  readonly #clusters = new Map<string, ClusterStats>();

  constructor(store: StatsStore, addressOf: ListenerAddressOf) {
    this.store = store;
    this.#addressOf = addressOf;
  }

  /** The observer of one filter chain, its stats made now. */
  forChain(chain: ObservedChain): StreamObserver {
    switch (chain.kind) {
      case 'http':
        return new HttpChainObserver(
          this,
          chain.listenerName,
          new HttpConnectionManagerStats(this.store, chain.statPrefix),
        );
      case 'tcp':
        return new TcpChainObserver(
          this,
          chain.listenerName,
          new TcpProxyStats(this.store, chain.statPrefix),
        );
      case 'rpc': {
        const filter = chain.filter;
        const protocol = filter.kind === 'rpc_proxy' ? filter.config.protocol : 'rpc';
        return new RpcChainObserver(
          this,
          chain.listenerName,
          new RpcProxyStats(this.store, protocol, chain.statPrefix),
        );
      }
    }
  }

  /** @internal The stats of a listener, by its bound address (the connection's local one until it is known). */
  listenerStats(listenerName: string, connection: ConnectionInfo): ListenerStats {
    const bound = this.#addressOf(listenerName);
    const address = bound?.address ?? connection.localAddress;
    const port = bound?.port ?? connection.localPort;
    const key = listenerStatName(address, port);
    let stats = this.#listeners.get(key);
    if (stats === undefined) {
      stats = new ListenerStats(this.store, address, port);
      this.#listeners.set(key, stats);
    }
    return stats;
  }

  /** @internal The stats of a cluster the cluster manager just built (same name, same stats: counters go on). */
  forCluster(cluster: StatsCluster): ClusterStats {
    const stats = new ClusterStats(this.store, cluster);
    this.#clusters.set(cluster.name, stats);
    return stats;
  }

  /** @internal A cluster left the config: its stats leave the store. */
  removeCluster(name: string): void {
    const stats = this.#clusters.get(name);
    if (stats === undefined) return;
    this.#clusters.delete(name);
    this.store.remove(stats.scope);
  }
}

/**
 * The counts of one host of a cluster (`cx_total`, `rq_success`... as Envoy's `/clusters`
 * shows them), or `undefined` when stats are off or the host has seen no traffic.
 *
 * @example
 * ```ts
 * const cluster = proxy.clusters.get('backend');
 * for (const host of cluster?.loadBalancer.hosts ?? []) {
 *   const h = cluster && hostStatsOf(cluster, host);
 *   console.log(host.key, h?.rqTotal ?? 0, h?.rqError ?? 0);
 * }
 * ```
 */
export function hostStatsOf(cluster: UpstreamCluster, host: Host): Readonly<HostStats> | undefined {
  const stats = cluster.stats;
  return stats instanceof ClusterStats ? stats.host(host) : undefined;
}
