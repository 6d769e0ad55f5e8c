// One cluster of a config version: its balancer, resource limits, outlier detector, health
// checker, DNS discovery, and the pools of its hosts. Implements the router's UpstreamCluster.
import { createResourceLimits, OutlierDetector } from '@meshlet/breaker';
import type { HostMonitor, ResourceLimits, PriorityResourceLimits, TimerWheel } from '@meshlet/breaker';
import { ConfigError } from '@meshlet/errors';
import { createLoadBalancer } from '@meshlet/lb';
import type { Host, HostSetChange, LoadBalancer, PickContext } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import { EventEmitter } from 'eventemitter3';
import type { Dispatcher } from 'undici';
import { NOOP_UPSTREAM_STATS } from '../observe/noop.js';
import type {
  DownstreamProtocol,
  UpstreamCluster,
  UpstreamOutcome,
  UpstreamProtocol,
  UpstreamStats,
} from '../types.js';
import { HostPools } from '../upstream/host-pools.js';
import type { PoolConnectionEvents } from '../upstream/host-pools.js';
import type { CompiledCluster } from './compile.js';
import { DnsDiscovery } from './dns.js';
import type { DnsResolver } from './dns.js';
import { mapEndpoints } from './endpoints.js';
import type { EndpointInput } from './endpoints.js';
import { HealthChecker } from './health-checker.js';
import type { HealthCheckEvent } from './health-checker.js';

/** Events of a {@link ManagedCluster}. */
export interface ManagedClusterEvents {
  /** The host set changed (an endpoint update, a DNS answer). */
  hosts: [change: HostSetChange];
  /** An active health check of `host` ended. */
  healthCheck: [host: Host, event: HealthCheckEvent];
  /** A DNS refresh was applied (STRICT_DNS, LOGICAL_DNS). */
  resolved: [];
}

/** What a cluster shares with its manager: one timer wheel, the clock, randomness, DNS. */
export interface ClusterEnvironment {
  readonly wheel: TimerWheel;
  readonly random: () => number;
  readonly now: () => number;
  readonly resolver: DnsResolver;
}

/** Per host: its pools, its outlier monitor, its health-check port. */
class HostEntry {
  readonly pools: HostPools;
  readonly monitor: HostMonitor<Host> | null;
  healthCheckPort: number;
  constructor(pools: HostPools, monitor: HostMonitor<Host> | null, healthCheckPort: number) {
    this.pools = pools;
    this.monitor = monitor;
    this.healthCheckPort = healthCheckPort;
  }
}

/** A host's pool connections, counted in its cluster's stats (read when they happen: stats are set after construction). */
class HostConnectionStats implements PoolConnectionEvents {
  readonly #cluster: { readonly stats: UpstreamStats };
  readonly #host: Host;
  constructor(cluster: { readonly stats: UpstreamStats }, host: Host) {
    this.#cluster = cluster;
    this.#host = host;
  }
  connected(): void {
    this.#cluster.stats.connectionOpened(this.#host);
  }
  disconnected(): void {
    this.#cluster.stats.connectionClosed(this.#host);
  }
  connectFailed(): void {
    this.#cluster.stats.connectionFailed(this.#host);
  }
}

const PROTOCOL_HTTP1 = 0;
const PROTOCOL_HTTP2 = 1;
const PROTOCOL_DOWNSTREAM = 2;

/**
 * A cluster as the router uses it (`UpstreamCluster`), built by the cluster manager. Its
 * balancer, outlier detector and health checker are public for stats and tests.
 */
export class ManagedCluster extends EventEmitter<ManagedClusterEvents> implements UpstreamCluster {
  readonly name: string;
  readonly config: model.Cluster;
  /** Upstream stats of this cluster (no-op unless stats are on). */
  stats: UpstreamStats = NOOP_UPSTREAM_STATS;
  /** The cluster's balancer: the outlier detector's target and the health checker's. */
  readonly loadBalancer: LoadBalancer;
  readonly resourceLimits: ResourceLimits;
  /** Null when the cluster has no `outlier_detection`. */
  readonly outlierDetector: OutlierDetector<Host> | null;
  /** Null when the cluster has no health check. */
  readonly healthChecker: HealthChecker | null;
  /** @internal */
  readonly compiled: CompiledCluster;
  readonly #entries = new Map<Host, HostEntry>();
  readonly #protocol: number;
  readonly #split: boolean;
  readonly #env: ClusterEnvironment;
  #dns: DnsDiscovery | null = null;
  #traffic = false;
  #closed = false;
  readonly #closing = new Set<Promise<void>>();
  /** Health-check verdicts carried over from the cluster this one replaces, by `address:port`. */
  #carried: Map<string, boolean> | null = null;
  /** The assignment last applied, to skip an unchanged one cheaply. */
  #assignment: model.ClusterLoadAssignment | undefined = undefined;

  /** @internal Built by the cluster manager. Throws a `ConfigError` on what the parts reject. */
  constructor(compiled: CompiledCluster, env: ClusterEnvironment) {
    super();
    this.compiled = compiled;
    this.name = compiled.name;
    this.config = compiled.config;
    this.#env = env;
    const where = `cluster ${JSON.stringify(compiled.name)}`;
    try {
      this.loadBalancer = createLoadBalancer(compiled.config.lbPolicy, [], {
        ...compiled.lbOptions,
        random: env.random,
        clock: env.now,
      });
    } catch (err) {
      throw new ConfigError(`${where} › load balancing: ${(err as Error).message}`, { cause: err });
    }
    try {
      this.resourceLimits = createResourceLimits(compiled.thresholds);
    } catch (err) {
      throw new ConfigError(`${where} › circuit_breakers: ${(err as Error).message}`, { cause: err });
    }
    const outlier = compiled.outlier;
    this.#split = outlier?.splitExternalLocalOriginErrors ?? false;
    if (outlier === undefined) {
      this.outlierDetector = null;
    } else {
      try {
        this.outlierDetector = new OutlierDetector<Host>({
          ...outlier,
          target: this.loadBalancer,
          wheel: env.wheel,
          random: env.random,
        });
      } catch (err) {
        throw new ConfigError(`${where} › ${(err as Error).message}`, { cause: err });
      }
    }
    this.healthChecker =
      compiled.healthCheck === undefined
        ? null
        : new HealthChecker(this, compiled.healthCheck, compiled.pool, env.wheel, env.random);
    this.#protocol =
      compiled.protocol === 'http2' || (compiled.protocol === 'auto' && compiled.tls)
        ? PROTOCOL_HTTP2
        : compiled.protocol === 'downstream'
          ? PROTOCOL_DOWNSTREAM
          : PROTOCOL_HTTP1;
  }

  /** Circuit breaker thresholds of one routing priority. */
  limits(priority: 'default' | 'high'): PriorityResourceLimits {
    return priority === 'high' ? this.resourceLimits.high : this.resourceLimits.default;
  }

  /** A host from the balancer, or `null` when none is available. */
  pick(context: PickContext): Host | null {
    return this.loadBalancer.pick(context);
  }

  /**
   * The kept-alive dispatcher of `host` for `protocol`, made on first use. A host that left the
   * cluster between `pick()` and this call gets a one-off pool that closes once its request is done.
   */
  dispatcher(host: Host, protocol: UpstreamProtocol): Dispatcher {
    this.#traffic = true;
    const entry = this.#entries.get(host);
    if (entry !== undefined && !entry.pools.closed) return entry.pools.get(protocol);
    const pools = new HostPools(
      host.address,
      host.port,
      this.compiled.pool,
      null,
      new HostConnectionStats(this, host),
    );
    const dispatcher = pools.get(protocol);
    // The caller dispatches right after this call; close() then lets that request finish.
    queueMicrotask(() => {
      this.#track(pools.close());
    });
    return dispatcher;
  }

  /** The upstream protocol for a downstream one (`upstream_http_protocol_options`). */
  protocolFor(downstream: DownstreamProtocol | (string & {})): UpstreamProtocol {
    const p = this.#protocol;
    if (p === PROTOCOL_HTTP1) return 'http1';
    if (p === PROTOCOL_HTTP2) return 'http2';
    return downstream === 'HTTP/2' ? 'http2' : 'http1';
  }

  /** Feeds outlier detection with how a request to `host` ended. */
  report(host: Host, outcome: UpstreamOutcome): void {
    const monitor = this.#entries.get(host)?.monitor;
    if (monitor === undefined || monitor === null) return;
    switch (outcome.kind) {
      case 'response':
        if (this.#split) monitor.reportLocalOrigin('connect-success');
        monitor.reportHttpStatus(outcome.status);
        return;
      case 'timeout':
        monitor.reportLocalOrigin('timeout');
        return;
      default:
        // A connect failure, or a reset before a response: Envoy's LOCAL_ORIGIN_CONNECT_FAILED.
        monitor.reportLocalOrigin('connect-failed');
    }
  }

  /** The pools of `host`, if it is in the cluster (for stats and tests). */
  pools(host: Host): HostPools | undefined {
    return this.#entries.get(host)?.pools;
  }

  /** Whether any request was sent through this cluster (Envoy's `upstream_cx_total` used). */
  hasTraffic(): boolean {
    return this.#traffic;
  }

  /** @internal A health check ended: apply its verdict to the balancer. */
  onHealthCheck(host: Host, event: HealthCheckEvent): void {
    if (event.changed) {
      this.loadBalancer.setHealth(
        host,
        !event.healthy ? 'unhealthy' : event.degraded ? 'degraded' : 'healthy',
      );
    }
    // Envoy's successful_active_health_check_uneject_host (default true).
    if (event.outcome === 'success' && this.outlierDetector?.isEjected(host) === true) {
      this.outlierDetector.unejectHost(host);
    }
    this.emit('healthCheck', host, event);
  }

  /** @internal Starts the cluster with its first endpoints; `previous` is the cluster it replaces. */
  start(
    assignment: model.ClusterLoadAssignment | undefined,
    inputs: readonly EndpointInput[] | null,
    previous: ManagedCluster | undefined,
  ): void {
    if (previous?.healthChecker && this.healthChecker) {
      const carried = new Map<string, boolean>();
      for (const host of previous.loadBalancer.hosts) {
        const check = previous.healthChecker.get(host);
        if (check !== undefined && !check.pending) carried.set(host.key, check.healthy);
      }
      this.#carried = carried;
    }
    if (previous !== undefined) this.#traffic = previous.#traffic;
    const discovery = this.compiled.discovery;
    if (discovery === 'STRICT_DNS' || discovery === 'LOGICAL_DNS') {
      this.#dns = new DnsDiscovery(this, this.config, this.#env.resolver, this.#env.wheel);
      this.#assignment = assignment;
      this.#dns.setAssignment(assignment);
    } else {
      this.setAssignment(assignment, inputs);
    }
    this.#carried = null;
  }

  /** @internal A new load assignment (EDS, or the cluster's own for STATIC and DNS). Validated before. */
  setAssignment(
    assignment: model.ClusterLoadAssignment | undefined,
    inputs: readonly EndpointInput[] | null,
  ): void {
    if (this.#dns !== null) {
      if (assignment === this.#assignment) return;
      this.#assignment = assignment;
      this.#dns.setAssignment(assignment);
      return;
    }
    this.#assignment = assignment;
    this.#apply(inputs ?? mapEndpoints(this.name, assignment, identity));
  }

  /** @internal The last assignment applied. */
  get assignment(): model.ClusterLoadAssignment | undefined {
    return this.#assignment;
  }

  /** @internal A DNS answer to apply. */
  onResolved(
    assignment: model.ClusterLoadAssignment | undefined,
    resolve: (name: string) => readonly string[],
  ): void {
    if (this.#closed) return;
    let inputs: EndpointInput[];
    try {
      inputs = mapEndpoints(this.name, assignment, resolve);
    } catch {
      return; // validated when the assignment was set; an answer cannot make it invalid
    }
    this.#apply(inputs);
    this.emit('resolved');
  }

  #apply(inputs: readonly EndpointInput[]): void {
    const ports = new Map<string, number>();
    const hostInputs = inputs.map((e) => {
      ports.set(`${e.host.address}:${e.host.port}`, e.healthCheckPort);
      return e.host;
    });
    const lb = this.loadBalancer;
    const change = lb.update(hostInputs);
    for (const host of change.removed) {
      const entry = this.#entries.get(host);
      this.#entries.delete(host);
      this.outlierDetector?.removeHost(host);
      if (this.healthChecker) this.#track(this.healthChecker.remove(host));
      if (entry !== undefined) {
        // A pool never used has nothing to wait for.
        if (entry.pools.used) this.#track(entry.pools.close());
        else void entry.pools.close();
      }
    }
    const checker = this.healthChecker;
    for (const host of change.added) {
      const port = ports.get(host.key) ?? host.port;
      const monitor = this.outlierDetector?.addHost(host) ?? null;
      this.#entries.set(
        host,
        new HostEntry(
          new HostPools(
            host.address,
            host.port,
            this.compiled.pool,
            this.resourceLimits.default.connections,
            new HostConnectionStats(this, host),
          ),
          monitor,
          port,
        ),
      );
      if (checker !== null) {
        const carried = this.#carried?.get(host.key);
        // Until its first check passes, a new host takes no traffic (Envoy's FAILED_ACTIVE_HC).
        if (carried !== true) lb.setHealth(host, 'unhealthy');
        checker.add(host, port, carried);
      }
    }
    if (checker !== null) {
      for (const [host, entry] of this.#entries) {
        const port = ports.get(host.key);
        if (port !== undefined && port !== entry.healthCheckPort) {
          entry.healthCheckPort = port;
          const check = checker.get(host);
          if (check) check.port = port;
        }
      }
    }
    if (change.added.length > 0 || change.removed.length > 0 || change.changed.length > 0) {
      this.emit('hosts', change);
    }
  }

  #track(promise: Promise<void>): void {
    const tracked = promise.catch(() => undefined);
    this.#closing.add(tracked);
    void tracked.then(() => this.#closing.delete(tracked));
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops health checks, DNS refreshes and outlier sweeps, and closes every pool once its
   * requests in flight have finished.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#dns?.close();
      this.outlierDetector?.close();
      if (this.healthChecker) this.#track(this.healthChecker.close());
      for (const entry of this.#entries.values()) {
        if (entry.pools.used) this.#track(entry.pools.close());
        else void entry.pools.close();
      }
    }
    while (this.#closing.size > 0) await Promise.all([...this.#closing]);
  }

  /** @internal Releases what a cluster built but never started holds (an update that failed). */
  dispose(): void {
    this.#closed = true;
    this.outlierDetector?.close();
  }
}

function identity(address: string): readonly string[] {
  return [address];
}
