// The proxy's stats with Envoy's names, on @meshlet/stats.
export { ProxyStats, hostStatsOf } from './proxy-stats.js';
export type { ListenerAddressOf } from './proxy-stats.js';
export { ClusterStats, HostStats } from './cluster-stats.js';
export type { StatsCluster } from './cluster-stats.js';
export {
  HttpChainObserver,
  HttpConnectionManagerStats,
  ListenerStats,
  RpcChainObserver,
  RpcProxyStats,
  TcpChainObserver,
  TcpProxyStats,
} from './chain-stats.js';
export type { ListenerStatsSource } from './chain-stats.js';
