// The stats observers of TCP and RPC chains, driven through the `StreamObserver` contract the
// TCP and RPC proxies call (their end-to-end paths live in their own folders), and the
// cluster stats' reactions to health checks, ejections and host set changes.
import { createStatsStore } from '@meshlet/stats';
import type { StatsStore } from '@meshlet/stats';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { ProxyStats } from '../../src/index.js';
import type {
  ConnectionInfo,
  HttpContext,
  ObservedChain,
  ResponseFlag,
  StreamInfo,
} from '../../src/index.js';
import { createClusterManager } from '../../src/cluster/cluster-manager.js';
import { cluster, outlierDetection } from '../e2e/helpers.js';

function value(store: StatsStore, name: string): number | undefined {
  for (const c of store.counters()) if (c.name === name) return c.value;
  for (const g of store.gauges()) if (g.name === name) return g.value;
  return undefined;
}

const connection: ConnectionInfo = {
  id: 1,
  listenerName: 'rpc',
  remoteAddress: '127.0.0.1',
  remotePort: 50000,
  localAddress: '127.0.0.1',
  localPort: 12200,
  tls: false,
  serverName: undefined,
  alpnProtocol: undefined,
};

function info(bytesReceived: number, bytesSent: number, flags: ResponseFlag[] = []): StreamInfo {
  return {
    startTime: 10,
    startTimeUnixMs: 0,
    responseFlags: new Set(flags),
    responseCodeDetails: '',
    upstreamCluster: undefined,
    upstreamHost: undefined,
    attempts: 1,
    bytesReceived,
    bytesSent,
    endTime: 14,
  };
}

/** The parts of a stream the observers read. */
function stream(status: number | null, aborted = false): HttpContext {
  return {
    info: info(0, 0),
    response: status === null ? null : { status, headers: {} },
    aborted,
    protocol: 'bolt',
  } as Partial<HttpContext> as HttpContext;
}

/** Envoy's outlier detection defaults, but one 5xx ejects. */
const ejectOnFirst5xx = outlierDetection({
  consecutive5xx: 1,
  maxEjectionPercent: 100,
  enforcingSuccessRate: 0,
});

const addressOf = (name: string) => (name === 'rpc' ? { address: '0.0.0.0', port: 12200 } : undefined);

describe('ProxyStats observers', () => {
  it('records an rpc_proxy chain as <protocol>.<stat_prefix>., and its listener', () => {
    const store = createStatsStore();
    const stats = new ProxyStats(store, addressOf);
    const filter: model.NetworkFilter = {
      name: 'rpc',
      kind: 'rpc_proxy',
      config: { statPrefix: 'rpc_in', protocol: 'bolt', routes: [] },
    };
    const chain: ObservedChain = {
      listenerName: 'rpc',
      chainName: 'c',
      kind: 'rpc',
      statPrefix: 'rpc_in',
      filter,
    };
    const observer = stats.forChain(chain);
    observer.connectionOpened(connection);
    for (const status of [200, 200, 500]) {
      const s = stream(status);
      observer.streamStarted(s);
      observer.streamEnded(s);
    }
    const gone = stream(null, true);
    observer.streamStarted(gone);
    expect(value(store, 'bolt.rpc_in.request_active')).toBe(1);
    observer.streamEnded(gone);
    observer.connectionClosed(connection, info(300, 200));

    expect(value(store, 'bolt.rpc_in.request')).toBe(4);
    expect(value(store, 'bolt.rpc_in.request_active')).toBe(0);
    expect(value(store, 'bolt.rpc_in.response')).toBe(3);
    expect(value(store, 'bolt.rpc_in.response_success')).toBe(2);
    expect(value(store, 'bolt.rpc_in.response_error')).toBe(1);
    expect(value(store, 'bolt.rpc_in.response_error_caused_connection_close')).toBe(1);
    expect(value(store, 'bolt.rpc_in.cx_rx_bytes_total')).toBe(300);
    expect(value(store, 'bolt.rpc_in.cx_tx_bytes_total')).toBe(200);
    expect(value(store, 'listener.0.0.0.0_12200.downstream_cx_total')).toBe(1);
    expect(value(store, 'listener.0.0.0.0_12200.downstream_cx_active')).toBe(0);
    const histogram = [...store.histograms()].find((h) => h.name === 'bolt.rpc_in.request_time');
    expect(histogram?.count).toBe(3);
    expect(store.prometheus()).toContain('envoy_bolt_rpc_in_request 4');
    expect(store.prometheus()).toContain(
      'envoy_listener_downstream_cx_total{envoy_listener_address="0.0.0.0_12200"} 1',
    );
  });

  it('records a tcp_proxy chain as tcp.<stat_prefix>. with the envoy_tcp_prefix tag', () => {
    const store = createStatsStore();
    const stats = new ProxyStats(store, () => undefined);
    const filter: model.NetworkFilter = {
      name: 'tcp',
      kind: 'tcp_proxy',
      config: { statPrefix: 'db', cluster: 'db', maxConnectAttempts: 1 },
    };
    const observer = stats.forChain({
      listenerName: 'tcp',
      chainName: 'c',
      kind: 'tcp',
      statPrefix: 'db',
      filter,
    });
    observer.connectionOpened(connection);
    observer.connectionOpened({ ...connection, id: 2 });
    observer.connectionClosed(connection, info(1000, 4000));
    observer.connectionClosed({ ...connection, id: 2 }, info(10, 0, ['NC']));
    expect(value(store, 'tcp.db.downstream_cx_total')).toBe(2);
    expect(value(store, 'tcp.db.downstream_cx_rx_bytes_total')).toBe(1010);
    expect(value(store, 'tcp.db.downstream_cx_tx_bytes_total')).toBe(4000);
    expect(value(store, 'tcp.db.downstream_cx_no_route')).toBe(1);
    // Without a bound address, the connection's local one names the listener.
    expect(value(store, 'listener.127.0.0.1_12200.downstream_cx_destroy')).toBe(2);
    expect(store.prometheus()).toContain('envoy_tcp_downstream_cx_total{envoy_tcp_prefix="db"} 2');
  });

  it('keeps cluster membership, health check and ejection stats from the cluster events', () => {
    const store = createStatsStore();
    const stats = new ProxyStats(store, () => undefined);
    const manager = createClusterManager({ stats });
    manager.update(
      new Map([['backend', cluster('backend', [1, 2, 3], { outlierDetection: ejectOnFirst5xx })]]),
      new Map(),
    );
    const backend = manager.get('backend');
    if (backend === undefined) throw new Error('no cluster');
    expect(value(store, 'cluster.backend.membership_total')).toBe(3);
    expect(value(store, 'cluster.backend.membership_healthy')).toBe(3);
    const host = backend.loadBalancer.hosts[0];
    if (host === undefined) throw new Error('no host');
    // A 5xx from the host: consecutive_5xx of 1 ejects it at once.
    backend.stats.requestStarted(host);
    backend.stats.requestEnded(host, { kind: 'response', status: 500 }, 3);
    backend.report(host, { kind: 'response', status: 500 });
    expect(value(store, 'cluster.backend.outlier_detection.ejections_active')).toBe(1);
    expect(value(store, 'cluster.backend.outlier_detection.ejections_total')).toBe(1);
    expect(value(store, 'cluster.backend.membership_healthy')).toBe(2);
    expect(value(store, 'cluster.backend.upstream_rq_5xx')).toBe(1);

    manager.update(new Map([['backend', cluster('backend', [1, 2])]]), new Map());
    expect(value(store, 'cluster.backend.membership_total')).toBe(2);
    manager.update(new Map(), new Map());
    expect(value(store, 'cluster.backend.membership_total')).toBeUndefined();
    return manager.close();
  });
});
