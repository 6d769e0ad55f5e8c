// The TCP proxy (Envoy's `envoy.filters.network.tcp_proxy`): each downstream connection gets one
// upstream connection to a host of its cluster (or of a weighted cluster, drawn per connection),
// and bytes are relayed both ways with backpressure until either side is done.
//
//   downstream ──data──▶ upstream.write()   false → downstream.pause()   'drain' → resume()
//   downstream ◀──data── upstream           (the same, the other way)
//   'end' on one side → end() on the other (half-close); an error or reset on one → destroy both.
//
// The downstream is paused until the upstream connects; a failed attempt (refused, reset, or
// the cluster's connect timeout) tries another host, up to `max_connect_attempts`.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TimerEntry, type TimerWheel } from '@meshlet/breaker';
import type { PriorityResourceLimits } from '@meshlet/breaker';
import type { Host, PickContext } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import { StreamInfoImpl } from '../http/stream-info.js';
import type {
  ClusterManager,
  ConnectionHandler,
  NetworkConnection,
  StreamInfo,
  UpstreamCluster,
} from '../types.js';

/** What a TCP proxy needs from the proxy. */
export interface TcpProxyEnv {
  readonly clusters: ClusterManager;
  /** Connect and idle deadlines (coarse). */
  readonly timers: TimerWheel;
  /** Weighted cluster draws: a float in [0, 1). */
  readonly random: () => number;
}

/** A weighted cluster with its cumulative weight bound. */
interface WeightedCluster {
  readonly name: string;
  /** The draw (in [0, total)) falls in this cluster when below this. */
  readonly upTo: number;
}

/** One `tcp_proxy` filter of one config version: serves every connection of its chain. */
export class TcpProxyHandler implements ConnectionHandler {
  readonly kind = 'tcp' as const;
  readonly config: model.TcpProxy;
  readonly env: TcpProxyEnv;
  /** `idle_timeout`; 0 = none. */
  readonly idleTimeoutMs: number;
  readonly maxConnectAttempts: number;
  private readonly cluster: string | undefined;
  private readonly weighted: readonly WeightedCluster[];
  private readonly totalWeight: number;

  constructor(config: model.TcpProxy, env: TcpProxyEnv) {
    this.config = config;
    this.env = env;
    this.idleTimeoutMs = config.idleTimeoutMs ?? 0;
    this.maxConnectAttempts = config.maxConnectAttempts;
    this.cluster = config.cluster;
    let total = 0;
    const weighted: WeightedCluster[] = [];
    for (const c of config.weightedClusters ?? []) {
      if (c.weight <= 0) continue;
      total += c.weight;
      weighted.push({ name: c.name, upTo: total });
    }
    this.weighted = weighted;
    this.totalWeight = total;
  }

  /** The cluster of a new connection: the one named, or a weighted draw. */
  chooseCluster(): string {
    if (this.cluster !== undefined) return this.cluster;
    const draw = this.env.random() * this.totalWeight;
    for (const c of this.weighted) if (draw < c.upTo) return c.name;
    // `random()` is below 1, so only rounding gets here: the last cluster.
    return (this.weighted[this.weighted.length - 1] as WeightedCluster).name;
  }

  handle(socket: Duplex, connection: NetworkConnection): void {
    new TcpSession(this, socket, connection).start();
  }
}

/** Fires a session's connect deadline. */
class ConnectDeadline extends TimerEntry {
  private readonly session: TcpSession;

  constructor(session: TcpSession) {
    super();
    this.session = session;
  }

  override fire(): void {
    this.session.onConnectTimeout();
  }
}

/** Fires a session's idle deadline. */
class IdleDeadline extends TimerEntry {
  private readonly session: TcpSession;

  constructor(session: TcpSession) {
    super();
    this.session = session;
  }

  override fire(): void {
    this.session.onIdleCheck();
  }
}

/** One proxied connection: the downstream socket and its upstream attempt(s). */
class TcpSession {
  private readonly proxy: TcpProxyHandler;
  private readonly downstream: Duplex;
  private readonly info: StreamInfo;
  private readonly pickContext: PickContext;
  private cluster: UpstreamCluster | null = null;
  private limits: PriorityResourceLimits | null = null;
  /** The current upstream socket (attempt or connected), `null` before and after. */
  private upstream: net.Socket | null = null;
  private host: Host | null = null;
  private tried: Host[] = [];
  private connected = false;
  private done = false;
  private lastActivity = 0;
  private readonly connectDeadline: ConnectDeadline;
  private readonly idleDeadline: IdleDeadline;

  constructor(proxy: TcpProxyHandler, downstream: Duplex, connection: NetworkConnection) {
    this.proxy = proxy;
    this.downstream = downstream;
    this.info =
      connection.streamInfo ??
      new StreamInfoImpl(performance.now(), Date.now(), connection.info.remoteAddress);
    this.pickContext = { shouldSelectAnotherHost: (host) => this.tried.includes(host) };
    this.connectDeadline = new ConnectDeadline(this);
    this.idleDeadline = new IdleDeadline(this);
  }

  start(): void {
    const ds = this.downstream;
    // The client's FIN is forwarded, not answered: the upstream may still reply.
    ds.allowHalfOpen = true;
    // Bytes are relayed as they come (Envoy sets TCP_NODELAY both ways): no Nagle delay.
    if (ds instanceof net.Socket) ds.setNoDelay(true);
    ds.pause();
    ds.on('error', () => {
      this.flag('DC');
    });
    ds.once('close', () => {
      this.onDownstreamClose();
    });
    const name = this.proxy.chooseCluster();
    this.info.upstreamCluster = name;
    const cluster = this.proxy.env.clusters.get(name);
    if (cluster === undefined) {
      this.fail('NC');
      return;
    }
    this.cluster = cluster;
    this.limits = cluster.limits('default');
    this.connect();
  }

  private flag(flag: 'DC' | 'UC' | 'UF' | 'UH' | 'UO' | 'NC'): void {
    this.info.responseFlags.add(flag);
  }

  /** Gives up on the connection: the downstream is closed without a flush. */
  private fail(flag: 'UF' | 'UH' | 'UO' | 'NC'): void {
    this.flag(flag);
    this.finish();
    this.downstream.destroy();
  }

  /** One connect attempt to a host the balancer picks (not one tried already, if it can). */
  private connect(): void {
    const cluster = this.cluster as UpstreamCluster;
    const host = cluster.pick(this.pickContext);
    if (host === null) {
      this.fail(this.tried.length === 0 ? 'UH' : 'UF');
      return;
    }
    const limits = this.limits as PriorityResourceLimits;
    if (!limits.connections.tryAcquire()) {
      cluster.stats.connectionOverflow?.();
      this.fail('UO');
      return;
    }
    this.tried.push(host);
    this.info.attempts++;
    this.host = host;
    this.info.upstreamHost = `${host.address}:${host.port}`;
    cluster.stats.connectionOpened(host);
    const limit = cluster.config.perConnectionBufferLimitBytes;
    const up = net.connect({
      host: host.address,
      port: host.port,
      allowHalfOpen: true,
      noDelay: true,
      ...(limit === undefined ? {} : { writableHighWaterMark: limit, readableHighWaterMark: limit }),
    });
    this.upstream = up;
    up.once('connect', () => {
      if (this.upstream === up) this.onConnect(up);
    });
    up.on('error', () => {
      if (this.upstream !== up) return;
      if (this.connected) this.flag('UC');
      else this.onConnectFailed(up);
    });
    up.once('close', () => {
      limits.connections.release();
      cluster.stats.connectionClosed(host);
      if (this.upstream === up) this.onUpstreamClose();
    });
    if (cluster.config.connectTimeoutMs > 0) {
      this.proxy.env.timers.schedule(this.connectDeadline, cluster.config.connectTimeoutMs);
    }
  }

  onConnectTimeout(): void {
    const up = this.upstream;
    if (up !== null && !this.connected) this.onConnectFailed(up);
  }

  private onConnectFailed(up: net.Socket): void {
    this.proxy.env.timers.cancel(this.connectDeadline);
    this.upstream = null;
    up.destroy();
    const host = this.host as Host;
    const cluster = this.cluster as UpstreamCluster;
    cluster.stats.connectionFailed(host);
    cluster.report(host, { kind: 'connect-failed' });
    if (this.done || this.downstream.destroyed) return;
    if (this.info.attempts < this.proxy.maxConnectAttempts) this.connect();
    else this.fail('UF');
  }

  private onConnect(up: net.Socket): void {
    this.proxy.env.timers.cancel(this.connectDeadline);
    const ds = this.downstream;
    if (this.done || ds.destroyed) {
      up.destroy();
      return;
    }
    this.connected = true;
    ds.on('data', this.onDownstreamData);
    ds.on('end', this.onDownstreamEnd);
    ds.on('drain', this.onDownstreamDrain);
    up.on('data', this.onUpstreamData);
    up.on('end', this.onUpstreamEnd);
    up.on('drain', this.onUpstreamDrain);
    if (this.proxy.idleTimeoutMs > 0) {
      this.lastActivity = this.proxy.env.timers.clock.now();
      this.proxy.env.timers.schedule(this.idleDeadline, this.proxy.idleTimeoutMs);
    }
    ds.resume();
  }

  // Arrow properties: handed to socket events, made once per connection.
  private readonly onDownstreamData = (chunk: Buffer): void => {
    if (this.proxy.idleTimeoutMs > 0) this.lastActivity = this.proxy.env.timers.clock.now();
    if (!(this.upstream as net.Socket).write(chunk)) this.downstream.pause();
  };

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.proxy.idleTimeoutMs > 0) this.lastActivity = this.proxy.env.timers.clock.now();
    if (!this.downstream.write(chunk)) (this.upstream as net.Socket).pause();
  };

  private readonly onUpstreamDrain = (): void => {
    this.downstream.resume();
  };

  private readonly onDownstreamDrain = (): void => {
    this.upstream?.resume();
  };

  private readonly onDownstreamEnd = (): void => {
    this.upstream?.end();
  };

  private readonly onUpstreamEnd = (): void => {
    this.downstream.end();
  };

  /** Idle deadline reached: close both sides unless bytes moved since. */
  onIdleCheck(): void {
    if (this.done) return;
    const idle = this.proxy.env.timers.clock.now() - this.lastActivity;
    if (idle < this.proxy.idleTimeoutMs) {
      this.proxy.env.timers.schedule(this.idleDeadline, this.proxy.idleTimeoutMs - idle);
      return;
    }
    this.finish();
    this.upstream?.destroy();
    this.downstream.destroy();
  }

  /** Both directions of the upstream are over (or it failed): the downstream follows. */
  private onUpstreamClose(): void {
    this.upstream = null;
    const ds = this.downstream;
    if (ds.destroyed) return;
    if (this.info.responseFlags.has('UC')) {
      this.finish();
      ds.destroy();
      return;
    }
    // Nothing more can be forwarded: flush what is buffered, then close.
    ds.off('data', this.onDownstreamData);
    ds.resume();
    if (ds.writableEnded) {
      if (ds.writableFinished) ds.destroy();
      else ds.once('finish', () => ds.destroy());
    } else ds.end(() => ds.destroy());
  }

  private onDownstreamClose(): void {
    this.finish();
    const up = this.upstream;
    if (up === null) return;
    // A client that closed before the upstream finished (reset, or a close without half-close).
    if (!up.destroyed) up.destroy();
  }

  /** Timers off; nothing more starts. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.proxy.env.timers.cancel(this.connectDeadline);
    this.proxy.env.timers.cancel(this.idleDeadline);
  }
}
