import { type Host, localityKey } from './host.js';
import { computePriorityLoad, type LevelCounts, type PriorityLoad } from './priority-load.js';
import type { LoadBalancerPolicy, PickContext, PriorityStats, TableStats } from './types.js';

/** Options after validation and defaults: what every balancer engine reads. @internal */
export interface ResolvedOptions {
  readonly policy: LoadBalancerPolicy;
  readonly panicThreshold: number;
  readonly localityWeighted: boolean;
  readonly overprovisioningFactor: number;
  readonly choiceCount: number;
  readonly activeRequestBias: number;
  readonly minimumRingSize: number;
  readonly maximumRingSize: number;
  readonly tableSize: number;
  /** Slow start window in ms; 0 when slow start is off. */
  readonly slowStartWindow: number;
  readonly slowStartAggression: number;
  /** Floor of the slow-start weight factor, in (0, 1]. */
  readonly slowStartMinWeight: number;
  readonly random: () => number;
  readonly clock: () => number;
}

/** Hosts of one locality within a level, split by health. @internal */
export interface LocalityGroup {
  readonly key: string;
  readonly weight: number;
  readonly all: Host[];
  readonly healthy: Host[];
  readonly degraded: Host[];
}

/** Hosts of one priority level, split by health and by locality. @internal */
export interface Level {
  readonly all: Host[];
  readonly healthy: Host[];
  readonly degraded: Host[];
  /** In order of first appearance in the host list. */
  readonly localities: LocalityGroup[];
  /** What the level's structures were built from; equal signatures mean nothing to rebuild. */
  signature: string;
}

/** Default extra selections when a retry predicate rejects a host. */
export const DEFAULT_HOST_SELECTION_RETRIES = 5;

const EMPTY_LOAD: PriorityLoad = { healthy: [100], degraded: [0], panic: [false] };

/**
 * The part every algorithm shares: hosts grouped by priority and health, the per-priority load
 * with Envoy's overprovisioning factor and panic threshold. Subclasses keep their structures per
 * level and rebuild only the levels whose hosts (or panic state) changed.
 * @internal
 */
export abstract class HostSetBalancer {
  protected readonly options: ResolvedOptions;
  protected levels: Level[] = [];
  protected load: PriorityLoad = EMPTY_LOAD;
  /** The level that takes all load from its healthy hosts, not in panic; -1 when load is spread. */
  protected only = -1;
  /** Hosts in this balancer, in every level. */
  size = 0;

  constructor(options: ResolvedOptions) {
    this.options = options;
  }

  /** Replaces the hosts; rebuilds only what changed. */
  setHosts(hosts: readonly Host[]): void {
    const levels: Level[] = [];
    for (const host of hosts) {
      for (let p = levels.length; p <= host.priority; p++) {
        levels.push({ all: [], healthy: [], degraded: [], localities: [], signature: '' });
      }
      const level = levels[host.priority] as Level;
      const key = localityKey(host.locality);
      let group = level.localities.find((g) => g.key === key);
      if (!group) {
        group = { key, weight: host.localityWeight, all: [], healthy: [], degraded: [] };
        level.localities.push(group);
      }
      level.all.push(host);
      group.all.push(host);
      if (host.health === 'healthy') {
        level.healthy.push(host);
        group.healthy.push(host);
      } else if (host.health === 'degraded') {
        level.degraded.push(host);
        group.degraded.push(host);
      }
    }
    const counts: LevelCounts[] = levels.map((l) => ({
      total: l.all.length,
      healthy: l.healthy.length,
      degraded: l.degraded.length,
    }));
    const load = computePriorityLoad(
      counts,
      this.options.overprovisioningFactor,
      this.options.panicThreshold,
    );
    const previous = this.levels;
    for (let p = 0; p < levels.length; p++) {
      const level = levels[p] as Level;
      level.signature = this.signatureOf(level, load.panic[p] === true);
      if (previous[p]?.signature !== level.signature) this.levelChanged(p, level, load.panic[p] === true);
    }
    for (let p = levels.length; p < previous.length; p++) this.levelChanged(p, undefined, false);
    this.levels = levels;
    this.load = load;
    this.size = hosts.length;
    this.only = -1;
    for (let p = 0; p < load.healthy.length; p++) {
      if (load.healthy[p] === 100 && load.panic[p] !== true) this.only = p;
    }
  }

  /** Per-level state, as `LoadBalancer.stats()` reports it. */
  stats(): PriorityStats[] {
    return this.levels.map((level, priority) => {
      const table = this.tableStats(priority);
      const stats = {
        priority,
        hosts: level.all.length,
        healthy: level.healthy.length,
        degraded: level.degraded.length,
        healthyLoad: this.load.healthy[priority] ?? 0,
        degradedLoad: this.load.degraded[priority] ?? 0,
        panic: this.load.panic[priority] === true,
      };
      return table ? { ...stats, table } : stats;
    });
  }

  /** The consistent-hash table of a level, if the algorithm has one. */
  protected tableStats(_priority: number): TableStats | undefined {
    return undefined;
  }

  /** Picks a host, or null when there is none to pick. Never throws. */
  abstract pick(ctx: PickContext | undefined): Host | null;

  /** A string that changes whenever the structures of the level must be rebuilt. */
  protected abstract signatureOf(level: Level, panic: boolean): string;

  /** The level's hosts changed (or it is gone: `level` undefined): rebuild or drop what was built for it. */
  protected abstract levelChanged(priority: number, level: Level | undefined, panic: boolean): void;

  /** Number of selections allowed by the context. */
  protected static retries(ctx: PickContext): number {
    const n = ctx.hostSelectionRetryCount;
    return typeof n === 'number' && n >= 0 ? Math.min(n, 1000) : DEFAULT_HOST_SELECTION_RETRIES;
  }
}
