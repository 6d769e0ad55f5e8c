// The clusters of the current config version. `update()` checks and builds everything first
// (a ConfigError leaves the running clusters untouched), then swaps: unchanged clusters keep
// their balancer, pools, health and outlier state and only see their new endpoints; changed
// clusters are rebuilt; removed ones close once their requests in flight are done.
import { isIP } from 'node:net';
import { systemClock, systemScheduler, TimerWheel } from '@meshlet/breaker';
import type { Scheduler } from '@meshlet/breaker';
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { ClusterManager, UpstreamStats } from '../types.js';
import { compileCluster } from './compile.js';
import { deepEqual, sameClusterConfig } from './deep-equal.js';
import { systemResolver } from './dns.js';
import type { DnsResolver } from './dns.js';
import { mapEndpoints } from './endpoints.js';
import type { EndpointInput } from './endpoints.js';
import { ManagedCluster } from './managed-cluster.js';
import type { ClusterEnvironment } from './managed-cluster.js';

/** Options of {@link createClusterManager}. */
export interface ClusterManagerOptions {
  /** Monotonic milliseconds. Default `performance.now()`. */
  readonly now?: () => number;
  /** A float in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Resolves STRICT_DNS names. Default node:dns `lookup`. */
  readonly resolver?: DnsResolver;
  /** Sets the one timer behind health checks, DNS refreshes and outlier sweeps. Default Node's, unref'd. */
  readonly timers?: Scheduler;
  /** Resolution of those timers, milliseconds. Default 10. */
  readonly tickMs?: number;
  /** Makes each cluster's upstream stats when it is built, drops them when it leaves. Default: no stats. */
  readonly stats?: ClusterStatsFactory;
}

/** Where clusters get their `UpstreamStats` (the proxy's `ProxyStats`). */
export interface ClusterStatsFactory {
  /** The stats of a cluster just built; a cluster rebuilt under the same name continues its counters. */
  forCluster(cluster: ManagedCluster): UpstreamStats;
  /** The cluster named `name` left the config. */
  removeCluster(name: string): void;
}

interface Plan {
  readonly cluster: ManagedCluster;
  /** The running cluster it replaces, for a rebuilt one. */
  readonly previous: ManagedCluster | undefined;
  readonly fresh: boolean;
  readonly assignment: model.ClusterLoadAssignment | undefined;
  /** The assignment's hosts, mapped and checked (not for DNS clusters: their hosts come from answers). */
  readonly inputs: readonly EndpointInput[] | null;
  /** Whether the assignment differs from the one the cluster has. */
  readonly changed: boolean;
}

function ipOnly(cluster: string, kind: string): (address: string) => readonly string[] {
  return (address) => {
    if (isIP(address) === 0) {
      throw new ConfigError(
        `cluster ${JSON.stringify(cluster)}: ${kind} endpoints must be IP addresses, got ${JSON.stringify(address)} (use STRICT_DNS for names)`,
      );
    }
    return [address];
  };
}

function anyAddress(address: string): readonly string[] {
  return [address];
}

/** The cluster manager: implements the router's `ClusterManager`. */
export class DefaultClusterManager implements ClusterManager {
  #clusters = new Map<string, ManagedCluster>();
  readonly #env: ClusterEnvironment;
  readonly #closing = new Set<Promise<void>>();
  readonly #stats: ClusterStatsFactory | null;
  #closed = false;

  /** @internal Use {@link createClusterManager}. */
  constructor(options: ClusterManagerOptions = {}) {
    const now = options.now ?? ((): number => systemClock.now());
    const random = options.random ?? Math.random;
    if (typeof now !== 'function') throw new ConfigError('cluster manager: now must be a function');
    if (typeof random !== 'function') throw new ConfigError('cluster manager: random must be a function');
    const resolver = options.resolver ?? systemResolver;
    if (typeof resolver.lookup !== 'function') {
      throw new ConfigError('cluster manager: resolver must have a lookup(hostname, options) method');
    }
    this.#env = {
      wheel: new TimerWheel({
        tickMs: options.tickMs ?? 10,
        clock: { now },
        scheduler: options.timers ?? systemScheduler,
      }),
      random,
      now,
      resolver,
    };
    this.#stats = options.stats ?? null;
  }

  /** The timer wheel of every cluster's timers (a test may `advance()` it). */
  get wheel(): TimerWheel {
    return this.#env.wheel;
  }

  /** The cluster named `name` in the current version. */
  get(name: string): ManagedCluster | undefined {
    return this.#clusters.get(name);
  }

  /** Every cluster of the current version. */
  get clusters(): ReadonlyMap<string, ManagedCluster> {
    return this.#clusters;
  }

  /**
   * Applies a config version's clusters and endpoints (the snapshot's `clusters` and
   * `endpoints`). Throws a `ConfigError`, having changed nothing, when any cluster is invalid.
   */
  update(
    clusters: ReadonlyMap<string, model.Cluster>,
    endpoints: ReadonlyMap<string, model.ClusterLoadAssignment>,
  ): void {
    if (this.#closed) throw new ConfigError('cluster manager: update() after close()');
    const plans: Plan[] = [];
    try {
      for (const [name, config] of clusters) {
        if (config.name !== name) {
          throw new ConfigError(
            `cluster ${JSON.stringify(name)}: its config is named ${JSON.stringify(config.name)}`,
          );
        }
        const assignment =
          config.type === 'EDS' ? endpoints.get(config.edsServiceName ?? name) : config.loadAssignment;
        const factor = assignment?.policy.overprovisioningFactor;
        const current = this.#clusters.get(name);
        // The overprovisioning factor comes with the endpoints but configures the balancer (a
        // cluster whose endpoints are gone keeps its own).
        const kept =
          current !== undefined &&
          (factor === undefined || current.compiled.lbOptions.overprovisioningFactor === factor) &&
          (current.config === config || sameClusterConfig(current.config, config))
            ? current
            : undefined;
        const keep = kept !== undefined;
        const cluster = kept ?? new ManagedCluster(compileCluster(config, factor), this.#env);
        // Endpoints are checked whatever happens to the cluster: a bad one rejects the update.
        // An equal assignment of a kept cluster (a new snapshot, same endpoints) is skipped.
        const changed =
          kept === undefined || (assignment !== kept.assignment && !deepEqual(assignment, kept.assignment));
        const dns = config.type === 'STRICT_DNS' || config.type === 'LOGICAL_DNS';
        const inputs = changed
          ? mapEndpoints(name, assignment, dns ? anyAddress : ipOnly(name, config.type))
          : null;
        plans.push({
          cluster,
          previous: keep ? undefined : current,
          fresh: !keep,
          assignment,
          inputs: changed && !dns ? inputs : null,
          changed,
        });
      }
    } catch (err) {
      for (const plan of plans) if (plan.fresh) plan.cluster.dispose();
      throw err;
    }
    const next = new Map<string, ManagedCluster>();
    for (const plan of plans) {
      next.set(plan.cluster.name, plan.cluster);
      if (plan.fresh) {
        if (this.#stats !== null) plan.cluster.stats = this.#stats.forCluster(plan.cluster);
        plan.cluster.start(plan.assignment, plan.inputs, plan.previous);
        if (plan.previous) this.#retire(plan.previous);
      } else if (plan.changed) {
        plan.cluster.setAssignment(plan.assignment, plan.inputs);
      }
    }
    for (const [name, cluster] of this.#clusters) {
      if (next.has(name)) continue;
      this.#retire(cluster);
      this.#stats?.removeCluster(name);
    }
    this.#clusters = next;
  }

  #retire(cluster: ManagedCluster): void {
    const closing = cluster.close();
    this.#closing.add(closing);
    void closing.then(() => this.#closing.delete(closing));
  }

  /** Closes every cluster: health checks and DNS refreshes stop, pools close after their requests. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const cluster of this.#clusters.values()) this.#retire(cluster);
    this.#clusters = new Map();
    while (this.#closing.size > 0) await Promise.all([...this.#closing]);
    // Retired clusters cancelled their timers (health checks, DNS, outlier sweeps), which leaves
    // the wheel's own timer armed until it wakes once for nothing; advancing disarms it now.
    this.#env.wheel.advance();
  }
}

/**
 * Creates the cluster manager of a proxy.
 *
 * @example
 * ```ts
 * const clusters = createClusterManager();
 * clusters.update(snapshot.clusters, snapshot.endpoints);
 * const cluster = clusters.get('backend');
 * const host = cluster?.pick({});
 * if (cluster && host) {
 *   const res = await cluster.dispatcher(host, 'http1').request({ method: 'GET', path: '/' });
 *   cluster.report(host, { kind: 'response', status: res.statusCode });
 * }
 * ```
 */
export function createClusterManager(options?: ClusterManagerOptions): DefaultClusterManager {
  return new DefaultClusterManager(options);
}
