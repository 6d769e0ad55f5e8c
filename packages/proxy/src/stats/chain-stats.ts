// The stream observers that record Envoy's downstream stats: `listener.<address>.*` for every
// chain, plus `http.<stat_prefix>.*` (connection manager), `tcp.<stat_prefix>.*` (tcp_proxy) or
// `<protocol>.<stat_prefix>.*` (rpc_proxy, as Envoy's dubbo_proxy). Built once per chain and
// config version, with every stat object in hand; recording only increments.
import type { Counter, Gauge, Histogram, Scope } from '@meshlet/stats';
import type { ConnectionInfo, HttpContext, StreamInfo, StreamObserver } from '../types.js';
import { classCounters, listenerStatName, statSegment, TAG } from './names.js';

/** Envoy's `listener.<address>.` connection stats. */
export class ListenerStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;

  constructor(root: Scope, address: string, port: number) {
    const name = listenerStatName(address, port);
    const scope = root.scope(`listener.${name}`, { [TAG.listenerAddress]: name }, 'listener');
    this.cxTotal = scope.counter('downstream_cx_total');
    this.cxActive = scope.gauge('downstream_cx_active');
    this.cxDestroy = scope.counter('downstream_cx_destroy');
  }
}

/** Where a chain's observer finds its listener's stats (the listener's bound address is known once it listens). */
export interface ListenerStatsSource {
  listenerStats(listenerName: string, connection: ConnectionInfo): ListenerStats;
}

/** What every chain observer does with connections: the listener's stats. */
abstract class ChainObserver implements StreamObserver {
  readonly #source: ListenerStatsSource;
  readonly #listenerName: string;
  #listener: ListenerStats | null = null;

  constructor(source: ListenerStatsSource, listenerName: string) {
    this.#source = source;
    this.#listenerName = listenerName;
  }

  /** The listener's stats, looked up on this chain's first connection. */
  protected listener(connection: ConnectionInfo): ListenerStats {
    return (this.#listener ??= this.#source.listenerStats(this.#listenerName, connection));
  }

  connectionOpened(connection: ConnectionInfo): void {
    const l = this.listener(connection);
    l.cxTotal.inc();
    l.cxActive.inc();
  }

  connectionClosed(connection: ConnectionInfo, _info: StreamInfo): void {
    const l = this.listener(connection);
    l.cxActive.dec();
    l.cxDestroy.inc();
  }

  abstract streamStarted(ctx: HttpContext): void;
  abstract streamEnded(ctx: HttpContext): void;
}

/** Envoy's `http.<stat_prefix>.` stats of one connection manager. */
export class HttpConnectionManagerStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;
  readonly cxRxBytesTotal: Counter;
  readonly cxTxBytesTotal: Counter;
  readonly rqTotal: Counter;
  readonly rqActive: Gauge;
  readonly rqHttp1Total: Counter;
  readonly rqHttp2Total: Counter;
  readonly rqCompleted: Counter;
  readonly rqIdleTimeout: Counter;
  readonly rqRxReset: Counter;
  readonly rqTime: Histogram;
  /** `downstream_rq_1xx`…`downstream_rq_5xx` by class. */
  readonly rqByClass: readonly Counter[];

  constructor(root: Scope, statPrefix: string) {
    const prefix = statSegment(statPrefix);
    const scope = root.scope(`http.${prefix}`, { [TAG.httpConnManagerPrefix]: prefix }, 'http');
    this.cxTotal = scope.counter('downstream_cx_total');
    this.cxActive = scope.gauge('downstream_cx_active');
    this.cxDestroy = scope.counter('downstream_cx_destroy');
    this.cxRxBytesTotal = scope.counter('downstream_cx_rx_bytes_total');
    this.cxTxBytesTotal = scope.counter('downstream_cx_tx_bytes_total');
    this.rqTotal = scope.counter('downstream_rq_total');
    this.rqActive = scope.gauge('downstream_rq_active');
    this.rqHttp1Total = scope.counter('downstream_rq_http1_total');
    this.rqHttp2Total = scope.counter('downstream_rq_http2_total');
    this.rqCompleted = scope.counter('downstream_rq_completed');
    this.rqIdleTimeout = scope.counter('downstream_rq_idle_timeout');
    this.rqRxReset = scope.counter('downstream_rq_rx_reset');
    this.rqTime = scope.histogram('downstream_rq_time', 'milliseconds');
    this.rqByClass = classCounters(scope, 'downstream_rq');
  }
}

/** Records an HTTP connection manager chain. */
export class HttpChainObserver extends ChainObserver {
  readonly stats: HttpConnectionManagerStats;

  constructor(source: ListenerStatsSource, listenerName: string, stats: HttpConnectionManagerStats) {
    super(source, listenerName);
    this.stats = stats;
  }

  override connectionOpened(connection: ConnectionInfo): void {
    super.connectionOpened(connection);
    this.stats.cxTotal.inc();
    this.stats.cxActive.inc();
  }

  override connectionClosed(connection: ConnectionInfo, info: StreamInfo): void {
    super.connectionClosed(connection, info);
    const s = this.stats;
    s.cxActive.dec();
    s.cxDestroy.inc();
    s.cxRxBytesTotal.add(info.bytesReceived);
    s.cxTxBytesTotal.add(info.bytesSent);
  }

  streamStarted(ctx: HttpContext): void {
    const s = this.stats;
    s.rqTotal.inc();
    s.rqActive.inc();
    if (ctx.protocol === 'HTTP/2') s.rqHttp2Total.inc();
    else s.rqHttp1Total.inc();
  }

  streamEnded(ctx: HttpContext): void {
    const s = this.stats;
    s.rqActive.dec();
    const info = ctx.info;
    const response = ctx.response;
    if (response !== null) {
      s.rqCompleted.inc();
      s.rqByClass[Math.floor(response.status / 100)]?.inc();
      s.rqTime.record(info.endTime - info.startTime);
    } else if (ctx.aborted) {
      s.rqRxReset.inc();
    }
    if (info.responseFlags.has('SI')) s.rqIdleTimeout.inc();
  }
}

/** Envoy's `tcp.<stat_prefix>.` stats of one tcp_proxy. */
export class TcpProxyStats {
  readonly cxTotal: Counter;
  readonly cxRxBytesTotal: Counter;
  readonly cxTxBytesTotal: Counter;
  readonly cxNoRoute: Counter;

  constructor(root: Scope, statPrefix: string) {
    const prefix = statSegment(statPrefix);
    const scope = root.scope(`tcp.${prefix}`, { [TAG.tcpPrefix]: prefix }, 'tcp');
    this.cxTotal = scope.counter('downstream_cx_total');
    this.cxRxBytesTotal = scope.counter('downstream_cx_rx_bytes_total');
    this.cxTxBytesTotal = scope.counter('downstream_cx_tx_bytes_total');
    this.cxNoRoute = scope.counter('downstream_cx_no_route');
  }
}

/** Records a tcp_proxy chain: per connection (a TCP proxy has no streams). */
export class TcpChainObserver extends ChainObserver {
  readonly stats: TcpProxyStats;

  constructor(source: ListenerStatsSource, listenerName: string, stats: TcpProxyStats) {
    super(source, listenerName);
    this.stats = stats;
  }

  override connectionOpened(connection: ConnectionInfo): void {
    super.connectionOpened(connection);
    this.stats.cxTotal.inc();
  }

  override connectionClosed(connection: ConnectionInfo, info: StreamInfo): void {
    super.connectionClosed(connection, info);
    const s = this.stats;
    s.cxRxBytesTotal.add(info.bytesReceived);
    s.cxTxBytesTotal.add(info.bytesSent);
    if (info.responseFlags.has('NR') || info.responseFlags.has('NC')) s.cxNoRoute.inc();
  }

  streamStarted(_ctx: HttpContext): void {
    // A TCP proxy has no streams.
  }

  streamEnded(_ctx: HttpContext): void {
    // A TCP proxy has no streams.
  }
}

/** `<protocol>.<stat_prefix>.` stats of one rpc_proxy, as Envoy's `dubbo.<stat_prefix>.`. */
export class RpcProxyStats {
  readonly request: Counter;
  readonly requestActive: Gauge;
  readonly response: Counter;
  readonly responseSuccess: Counter;
  readonly responseError: Counter;
  readonly responseErrorCausedConnectionClose: Counter;
  readonly requestTime: Histogram;
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxRxBytesTotal: Counter;
  readonly cxTxBytesTotal: Counter;

  constructor(root: Scope, protocol: string, statPrefix: string) {
    // Envoy extracts no tag from `dubbo.<stat_prefix>.`: the prefix stays in the metric name.
    const scope = root.scope(`${statSegment(protocol)}.${statSegment(statPrefix)}`);
    this.request = scope.counter('request');
    this.requestActive = scope.gauge('request_active');
    this.response = scope.counter('response');
    this.responseSuccess = scope.counter('response_success');
    this.responseError = scope.counter('response_error');
    this.responseErrorCausedConnectionClose = scope.counter('response_error_caused_connection_close');
    this.requestTime = scope.histogram('request_time', 'milliseconds');
    this.cxTotal = scope.counter('cx_total');
    this.cxActive = scope.gauge('cx_active');
    this.cxRxBytesTotal = scope.counter('cx_rx_bytes_total');
    this.cxTxBytesTotal = scope.counter('cx_tx_bytes_total');
  }
}

/** Records an rpc_proxy chain: one stream per request frame. */
export class RpcChainObserver extends ChainObserver {
  readonly stats: RpcProxyStats;

  constructor(source: ListenerStatsSource, listenerName: string, stats: RpcProxyStats) {
    super(source, listenerName);
    this.stats = stats;
  }

  override connectionOpened(connection: ConnectionInfo): void {
    super.connectionOpened(connection);
    this.stats.cxTotal.inc();
    this.stats.cxActive.inc();
  }

  override connectionClosed(connection: ConnectionInfo, info: StreamInfo): void {
    super.connectionClosed(connection, info);
    const s = this.stats;
    s.cxActive.dec();
    s.cxRxBytesTotal.add(info.bytesReceived);
    s.cxTxBytesTotal.add(info.bytesSent);
  }

  streamStarted(_ctx: HttpContext): void {
    this.stats.request.inc();
    this.stats.requestActive.inc();
  }

  streamEnded(ctx: HttpContext): void {
    const s = this.stats;
    s.requestActive.dec();
    const response = ctx.response;
    if (response === null) {
      // No response went back: the client's connection closed first (or a one-way request).
      if (ctx.aborted) s.responseErrorCausedConnectionClose.inc();
      return;
    }
    s.response.inc();
    if (response.status < 400) s.responseSuccess.inc();
    else s.responseError.inc();
    s.requestTime.record(ctx.info.endTime - ctx.info.startTime);
  }
}
