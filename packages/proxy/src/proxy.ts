// The proxy: a config version compiled whole, then swapped in at once; listeners bound,
// kept, or drained as versions come and go.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TimerWheel } from '@meshlet/breaker';
import type { Scheduler } from '@meshlet/breaker';
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import { bolt, dubbo } from '@meshlet/codec';
import type { Protocol } from '@meshlet/codec';
import { createStatsStore } from '@meshlet/stats';
import type { StatsStore } from '@meshlet/stats';
import { EventEmitter } from 'eventemitter3';
import { createClusterManager, type DefaultClusterManager } from './cluster/cluster-manager.js';
import type { DnsResolver } from './cluster/dns.js';
import { compileListener, type CompileContext } from './config/compile.js';
import { builtinHttpFilters } from './filters/builtin.js';
import { FilterConfigCache } from './filters/chain.js';
import type { ConnectionManagerEnv } from './http/connection-manager.js';
import type { CompiledListener } from './listener/filter-chains.js';
import { ProxyListener } from './listener/listener.js';
import { compileRouteTable } from './router/route-table.js';
import { createRouterFilter } from './router-filter/router-filter.js';
import { observerFor } from './observe/noop.js';
import { AccessLogs, type AccessLogOptions } from './access-log/access-logs.js';
import { Tracing, type TracingOptions } from './tracing/tracing.js';
import { diagnosticsObservers, publishProxyEvents } from './observe/diagnostics.js';
import { ProxyStats } from './stats/proxy-stats.js';
import { OverloadManager } from './overload/overload-manager.js';
import type { ResourceSources } from './overload/resource-monitors.js';
import type { RpcUpstreams } from './rpc/types.js';
import { createRpcUpstreams } from './rpc/upstream/index.js';
import { Egress } from './egress/egress.js';
import { compileEgressManagers } from './egress/compile.js';
import type { HttpConnectionManager } from './http/connection-manager.js';
import type { HttpFilter, ObserverFactory, ProtocolRegistry, RouterFilter, RouteTable } from './types.js';

/** Options of {@link createProxy}. */
export interface ProxyOptions {
  /** The configuration: listeners, route configurations, clusters and endpoints. */
  readonly config: model.XdsSnapshot;
  /** User filters, found by name from config (TypedStruct `type_url`). The built-ins are always there. */
  readonly filters?: readonly HttpFilter[];
  /** Monotonic milliseconds. Default `performance.now()`. */
  readonly now?: () => number;
  /** A float in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** New `x-request-id` values. Default `crypto.randomUUID()`. */
  readonly requestId?: () => string;
  /** Connections each listener accepts at once; beyond, new ones are closed. Default unlimited. */
  readonly maxConnections?: number;
  /**
   * Serve HTTP/1.1 with the fast path: node's llhttp binding driven directly on the sockets,
   * without node:http's request/response objects (same filters, router and limits). Default on;
   * `false`, or the environment variable `MESHLET_HTTP1_FAST_PATH=0`, serves with node:http.
   */
  readonly http1FastPath?: boolean;
  /** How long a listener removed by `update()` may take to finish its streams. Default 5 s. */
  readonly drainTimeoutMs?: number;
  /** Resolves STRICT_DNS / LOGICAL_DNS host names. Default node:dns. */
  readonly resolver?: DnsResolver;
  /**
   * Sets the timers behind request deadlines, health checks, DNS refreshes and outlier sweeps
   * (each a timer wheel on one underlying timer). Default Node's, unref'd. Tests inject fake time.
   */
  readonly timers?: Scheduler;
  /**
   * User RPC protocols (`defineProtocol` from `@meshlet/codec`) that `rpc_proxy` filters and
   * protocol sniffing may name, on top of the built-in `bolt` and `dubbo`.
   */
  readonly protocols?: readonly Protocol[];
  /**
   * Extra observers of every filter chain's connections and streams, after the proxy's own
   * (stats, access logs, tracing).
   */
  readonly observers?: readonly ObserverFactory[];
  /**
   * Access logs: the user sinks that `access_log` entries may name, and the queue bound. Lines
   * are written in batches after the stream ends; a slow destination drops lines, never the proxy.
   */
  readonly accessLogs?: AccessLogOptions;
  /**
   * Tracing of connection managers with a `tracing` config: the OpenTelemetry API (default: loaded
   * if installed) and tracer. W3C `traceparent` is propagated with or without it.
   */
  readonly tracing?: TracingOptions;
  /**
   * Where the proxy records its stats (Envoy's names: `http.<stat_prefix>.downstream_rq_total`,
   * `cluster.<name>.upstream_rq_2xx`...). Default: a new store per proxy; `false`: no stats.
   */
  readonly stats?: StatsStore | false;
  /**
   * Envoy's overload manager (the bootstrap's `overload_manager`): resource monitors (heap,
   * downstream connections, event-loop delay) and the actions their pressure triggers
   * (`stop_accepting_requests`, `disable_http_keepalive`, `reject_incoming_connections`).
   * Fixed for the proxy's life, as in Envoy. Default: none.
   */
  readonly overloadManager?: model.OverloadManager;
  /** Where the overload manager's monitors read the process's state. Defaults measure this process. */
  readonly resourceSources?: ResourceSources;
}

/** Events of a {@link HttpProxy}. */
export interface ProxyEvents {
  /** A listener is bound. */
  listening: [name: string, address: AddressInfo];
  /** A config version is in effect. */
  updated: [version: number];
  /** Something failed that no request could report (a filter hook, a socket): the proxy carries on. */
  error: [error: unknown, where: string];
  /** A listener finished draining (removed by an update, or `drain()`). */
  'listener-drained': [name: string];
  /** `drain()` finished. */
  drained: [];
}

const DEFAULT_DRAIN_TIMEOUT_MS = 5000;

/** Cached compiled pieces from the previous version, reused when their config is unchanged. */
interface Reuse {
  routeTables: Map<model.RouteConfiguration, RouteTable>;
  routerFilters: Map<string, RouterFilter>;
}

/**
 * A running proxy: `start()` binds the listeners, `update()` swaps in a new config atomically,
 * `drain()` and `close()` stop it. Create it with {@link createProxy}.
 */
export class HttpProxy extends EventEmitter<ProxyEvents> {
  /** The clusters (pools, balancers, health) of the current version. */
  readonly clusters: DefaultClusterManager;
  /** The current config version, counting from 1. */
  version = 0;
  /** Access log destinations and their counters (`queued`, `written`, `dropped`, `failed`). */
  readonly accessLogs: AccessLogs;
  /** The store the proxy records its stats in (`prometheus()`, `json()`...), or `null` when stats are off. */
  readonly stats: StatsStore | null;
  /** The overload manager, when `overloadManager` is configured. */
  readonly overload: OverloadManager | null;
  private config: model.XdsSnapshot;
  private readonly registry: ReadonlyMap<string, HttpFilter>;
  private readonly protocols: ProtocolRegistry;
  /** What watches connections and streams (stats, access logs, tracing); composed per chain. */
  private readonly observers: ObserverFactory[] = [];
  private readonly filterCache: FilterConfigCache;
  private readonly env: ConnectionManagerEnv;
  private readonly wheel: TimerWheel;
  /** Upstream RPC connections of every `rpc_proxy`, kept across config versions. */
  private readonly rpcUpstreams: RpcUpstreams;
  private readonly options: ProxyOptions;
  private readonly running = new Map<string, ProxyListener>();
  private reuse: Reuse = { routeTables: new Map(), routerFilters: new Map() };
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  /** The egress connection manager of each route configuration (router only), current version. */
  private egressManagers: ReadonlyMap<string, HttpConnectionManager> = new Map();
  private readonly draining = new Set<Promise<void>>();
  // Read-only state for the admin server (src/admin/): see the getters below.
  private startedAtMs: number | undefined = undefined;
  private drainStarted = false;
  private healthFailed = false;

  constructor(options: ProxyOptions) {
    super();
    this.options = options;
    const now = options.now ?? performance.now.bind(performance);
    const random = options.random ?? Math.random;
    const onError = (error: unknown, where: string): void => {
      this.emit('error', error, where);
    };
    this.wheel = new TimerWheel({
      tickMs: 10,
      clock: { now },
      ...(options.timers !== undefined ? { scheduler: options.timers } : {}),
    });
    this.registry = registryOf(options.filters ?? []);
    this.protocols = protocolsOf(options.protocols ?? []);
    this.stats = options.stats === false ? null : (options.stats ?? createStatsStore());
    this.overload =
      options.overloadManager === undefined
        ? null
        : new OverloadManager(options.overloadManager, {
            wheel: this.wheel,
            stats: this.stats,
            sources: options.resourceSources ?? {},
            onError,
          });
    this.env = {
      now,
      wallNow: Date.now,
      random,
      requestId: options.requestId ?? randomUUID,
      onError,
      ...(this.overload !== null ? { overload: this.overload.state } : {}),
    };
    const proxyStats = this.stats === null ? null : new ProxyStats(this.stats, (name) => this.address(name));
    if (proxyStats !== null) this.observers.push(proxyStats);
    this.accessLogs = new AccessLogs(
      options.accessLogs ?? {},
      (error) => {
        this.emit('error', error, 'access log');
      },
      this.stats,
    );
    this.observers.push(new Tracing(options.tracing ?? {}, random), this.accessLogs, diagnosticsObservers);
    publishProxyEvents(this);
    if (options.observers !== undefined) this.observers.push(...options.observers);
    this.filterCache = new FilterConfigCache(
      { now, random, ...(this.stats !== null ? { stats: this.stats } : {}) },
      (error) => {
        this.emit('error', error, 'filter destroy');
      },
    );
    this.clusters = createClusterManager({
      now,
      random,
      ...(options.resolver !== undefined ? { resolver: options.resolver } : {}),
      ...(options.timers !== undefined ? { timers: options.timers } : {}),
      ...(proxyStats !== null ? { stats: proxyStats } : {}),
    });
    this.rpcUpstreams = createRpcUpstreams({
      timers: this.wheel,
      onError: (error, where) => {
        this.emit('error', error, where);
      },
    });
    this.config = options.config;
    this.apply(options.config);
  }

  /** Binds every listener. Resolves once all are listening (see {@link HttpProxy.address}). */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ConfigError(`proxy: start() when ${this.state}`);
    this.state = 'starting';
    this.startedAtMs = Date.now();
    this.overload?.start();
    await this.bindMissing();
    this.state = 'running';
  }

  /**
   * Applies a new config: everything is compiled first (a ConfigError rejects and nothing
   * changes), then route tables, filter chains and clusters swap at once. Unchanged clusters
   * keep their pools, health and outlier state; listeners at an unchanged address keep their
   * socket and connections; removed listeners drain; requests in flight finish on the version
   * they started with.
   */
  async update(config: model.XdsSnapshot): Promise<void> {
    if (this.state === 'closed') throw new ConfigError('proxy: update() after close()');
    this.apply(config);
    this.config = config;
    if (this.state !== 'new') await this.bindMissing();
  }

  /**
   * The in-process egress through a listener's connection manager (its first HTTP filter chain:
   * route table, HTTP filters, observers), or else through a route configuration of the
   * snapshot with the router filter alone (stats as `http.egress_<name>.*`). Resolved per
   * request: an update applies to the next request, requests in flight keep their version.
   */
  egress(name: string): Egress {
    // An in-process mesh may never call start(): its overload manager starts with its egress.
    if (this.state !== 'closed') this.overload?.start();
    return new Egress(name, this.resolveEgress);
  }

  private readonly resolveEgress = (name: string): HttpConnectionManager | null => {
    const listener = this.running.get(name);
    if (listener !== undefined) {
      for (const chain of listener.current.chains) if (chain.manager !== null) return chain.manager;
      return null;
    }
    return this.egressManagers.get(name) ?? null;
  };

  /** The bound address of a listener, `undefined` before `start()` or for an unknown name. */
  address(name: string): AddressInfo | undefined {
    const listener = this.running.get(name);
    return listener === undefined || this.state === 'new' ? undefined : listener.address();
  }

  /** Every bound listener's address, by name. */
  get addresses(): ReadonlyMap<string, AddressInfo> {
    const out = new Map<string, AddressInfo>();
    for (const [name, listener] of this.running) {
      const address = listener.address() as AddressInfo | null;
      if (address !== null) out.set(name, address);
    }
    return out;
  }

  /** The config in effect. */
  get currentConfig(): model.XdsSnapshot {
    return this.config;
  }

  /** Where the proxy is in its life: `new`, `starting` (binding), `running` or `closed`. */
  get lifecycle(): 'new' | 'starting' | 'running' | 'closed' {
    return this.state;
  }

  /** Wall-clock time (ms since the epoch) of `start()`, `undefined` before. */
  get startedAt(): number | undefined {
    return this.startedAtMs;
  }

  /** True once `drain()` or `close()` began draining listeners. */
  get isDraining(): boolean {
    return this.drainStarted;
  }

  /**
   * Envoy's health-check-failed state (`/healthcheck/fail`): the proxy keeps serving, but tells
   * whoever probes it (the admin's `/ready`, `server_info.state`) to take it out of rotation.
   */
  get healthCheckFailed(): boolean {
    return this.healthFailed;
  }

  /** Sets the health-check-failed state (`true`: `/healthcheck/fail`, `false`: `/healthcheck/ok`). */
  failHealthCheck(failed: boolean): void {
    this.healthFailed = failed;
  }

  /**
   * Stops accepting connections, lets streams in flight finish (`Connection: close` on HTTP/1,
   * GOAWAY on HTTP/2) for at most `timeoutMs`, then closes what is left. `only` picks the
   * listeners to drain (the admin's `/drain_listeners?inboundonly`); default all.
   */
  async drain(timeoutMs: number, only?: (listener: model.Listener) => boolean): Promise<void> {
    this.drainStarted = true;
    const chosen = [...this.running].filter(([name]) => {
      const config = this.config.listeners.get(name);
      return only === undefined || (config !== undefined && only(config));
    });
    const all = chosen.map(([, l]) => this.drainListener(l, timeoutMs));
    await Promise.all([...all, ...this.draining]);
    this.emit('drained');
  }

  /** Drains with no grace, closes every upstream pool and health check, destroys filter state. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.drain(0);
    this.running.clear();
    await this.rpcUpstreams.close();
    await this.clusters.close();
    this.filterCache.clear();
    await this.accessLogs.close();
    this.overload?.close();
    // Cancelled entries leave the wheel's timer armed until it wakes once for nothing (up to a
    // route timeout later); with nothing scheduled any more, advancing disarms it now.
    this.wheel.advance();
  }

  private apply(config: model.XdsSnapshot): void {
    const tx = this.filterCache.begin();
    const next: Reuse = { routeTables: new Map(), routerFilters: new Map() };
    const previous = this.reuse;
    const ctx: CompileContext = {
      registry: this.registry,
      protocols: this.protocols,
      clusters: this.clusters,
      timers: this.wheel,
      rpcUpstreams: this.rpcUpstreams,
      observer: (chain) => observerFor(this.observers, chain),
      filters: tx,
      env: this.env,
      routeTable: (rc) => {
        let table = next.routeTables.get(rc) ?? previous.routeTables.get(rc);
        table ??= compileRouteTable(rc);
        next.routeTables.set(rc, table);
        return table;
      },
      routerFilter: (rc) => {
        const key = JSON.stringify(rc);
        let filter = next.routerFilters.get(key) ?? previous.routerFilters.get(key);
        filter ??= createRouterFilter({
          clusters: this.clusters,
          config: rc,
          now: this.env.now,
          random: this.env.random,
          timers: this.wheel,
          onError: (error) => {
            this.env.onError(error, 'router filter');
          },
        });
        next.routerFilters.set(key, filter);
        return filter;
      },
    };
    const compiled = new Map<string, CompiledListener>();
    let egress: ReadonlyMap<string, HttpConnectionManager>;
    try {
      const seen = new Map<string, string>();
      for (const [name, listener] of config.listeners) {
        if (listener.name !== name) {
          throw new ConfigError(`listener "${name}": its config is named "${listener.name}"`);
        }
        const c = compileListener(listener, ctx, config.routeConfigurations);
        if (c.port !== 0) {
          const other = seen.get(`${c.host}:${c.port}`);
          if (other !== undefined)
            throw new ConfigError(
              `listener "${name}": address ${c.host}:${c.port} is also listener "${other}"'s`,
            );
          seen.set(`${c.host}:${c.port}`, name);
        }
        compiled.set(name, c);
      }
      egress = compileEgressManagers(config.routeConfigurations, ctx);
      this.clusters.update(config.clusters, config.endpoints);
    } catch (error) {
      this.filterCache.abort(tx);
      throw error;
    }
    // Everything compiled: swap.
    this.filterCache.commit(tx);
    this.reuse = next;
    this.egressManagers = egress;
    this.version++;
    for (const [name, listener] of this.running) {
      const c = compiled.get(name);
      if (c?.key === listener.current.key) {
        listener.apply(c);
        continue;
      }
      // Removed, or moved to another address or transport: drain the old one.
      this.running.delete(name);
      const done = this.drainListener(listener, this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      this.draining.add(done);
      void done.finally(() => this.draining.delete(done));
    }
    for (const [name, c] of compiled) {
      if (!this.running.has(name)) {
        this.running.set(
          name,
          new ProxyListener(c, {
            ...(this.options.maxConnections !== undefined
              ? { maxConnections: this.options.maxConnections }
              : {}),
            ...(this.overload !== null ? { overload: this.overload.state, random: this.env.random } : {}),
            onError: this.env.onError,
            ...(this.options.http1FastPath !== undefined
              ? { http1FastPath: this.options.http1FastPath }
              : {}),
          }),
        );
      }
    }
    this.emit('updated', this.version);
  }

  private drainListener(listener: ProxyListener, timeoutMs: number): Promise<void> {
    return listener.drain(timeoutMs).then(() => {
      this.emit('listener-drained', listener.current.name);
    });
  }

  private async bindMissing(): Promise<void> {
    const binding: Promise<void>[] = [];
    for (const [name, listener] of this.running) {
      if (listener.bound) continue;
      binding.push(
        listener.listen().then(() => {
          this.emit('listening', name, listener.address());
        }),
      );
    }
    await Promise.all(binding);
  }
}

function registryOf(user: readonly HttpFilter[]): ReadonlyMap<string, HttpFilter> {
  const registry = new Map<string, HttpFilter>();
  for (const filter of builtinHttpFilters) registry.set(filter.name, filter);
  for (const filter of user) {
    const known = registry.get(filter.name);
    if (known === filter) continue;
    if (known !== undefined || filter.name === 'router') {
      throw new ConfigError(`createProxy: filters: "${filter.name}" is already a filter's name`);
    }
    registry.set(filter.name, filter);
  }
  return registry;
}

function protocolsOf(user: readonly Protocol[]): ProtocolRegistry {
  const registry = new Map<string, Protocol>([
    [bolt.name, bolt],
    [dubbo.name, dubbo],
  ]);
  for (const protocol of user) {
    const known = registry.get(protocol.name);
    if (known === protocol) continue;
    if (known !== undefined) {
      throw new ConfigError(`createProxy: protocols: "${protocol.name}" is already a protocol's name`);
    }
    registry.set(protocol.name, protocol);
  }
  return registry;
}

/**
 * Creates a proxy from a config snapshot (the `@meshlet/xds` model) and the user filters the
 * config may name. The config is compiled now: a bad one throws a ConfigError.
 *
 * @example
 * ```ts
 * const { bootstrap } = loadBootstrap('envoy.yaml'); // from @meshlet/xds
 * const proxy = createProxy({ config: snapshotOfBootstrap(bootstrap), filters: [tenantFilter] });
 * await proxy.start();
 * console.log(proxy.address('ingress'));
 * await proxy.update(nextSnapshot);
 * await proxy.close();
 * ```
 */
export function createProxy(options: ProxyOptions): HttpProxy {
  return new HttpProxy(options);
}
