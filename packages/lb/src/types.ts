import type { Host } from './host.js';

/** A load-balancing policy, by Envoy's name (`Cluster.LbPolicy`). */
export type LoadBalancerPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

/**
 * Health of a host, as Envoy's host health flags reduce it: `healthy` hosts take traffic;
 * `degraded` ones only when healthy hosts are too few; `unhealthy` (failed active health
 * checks) and `ejected` (outlier detection) ones only in panic mode.
 */
export type HostHealth = 'healthy' | 'degraded' | 'unhealthy' | 'ejected';

/** A metadata value: what a subset selector or a route's metadata match compares. */
export type MetadataValue = string | number | boolean;

/** Where a host runs (Envoy's `Locality`): the unit of locality-weighted balancing. */
export interface Locality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

/** One endpoint as given to {@link createLoadBalancer} and `update()`. */
export interface HostInput {
  /** IP address or host name. With `port`, it identifies the host across updates. */
  readonly address: string;
  /** TCP port, an integer in [0, 65535]. */
  readonly port: number;
  /**
   * The host's name when `address` is an IP (Envoy's `host->hostname()`: the endpoint's
   * `hostname`, or the DNS name it was resolved from). Not part of its identity; carried for
   * callers such as `auto_host_rewrite`. A non-empty string when given.
   */
  readonly hostname?: string;
  /** Load-balancing weight, an integer in [1, 2^32 - 1]. Default 1. */
  readonly weight?: number;
  /**
   * Key the consistent-hash policies hash the host by (Envoy's `envoy.lb` `hash_key` metadata).
   * Default `address:port`, as Envoy's `address()->asString()` for an IPv4 address.
   */
  readonly hashKey?: string;
  /** Default `healthy`. */
  readonly health?: HostHealth;
  /** Endpoint metadata, matched by subset load balancing. */
  readonly metadata?: Readonly<Record<string, MetadataValue>>;
  readonly locality?: Locality;
  /**
   * Weight of the host's locality (EDS `LocalityLbEndpoints.load_balancing_weight`), used when
   * `localityWeighted` is on; every host of one locality and priority must give the same value.
   * 0 takes the locality out of balancing. An integer; default 1.
   */
  readonly localityWeight?: number;
  /** Priority level, 0 (highest) and up, an integer below 128. Default 0. */
  readonly priority?: number;
}

/** What one `pick()` may say about the request. Every field is optional. */
export interface PickContext {
  /**
   * The request's hash for `RING_HASH` and `MAGLEV` (from a hash policy, see
   * `createRequestHasher`): a uint64 bigint, or a non-negative safe integer. When absent (or
   * not a valid uint64) they pick with a random hash, as Envoy does.
   */
  readonly hash?: bigint | number | null;
  /**
   * Envoy's retry host predicate: return true for a host that should not be used (one already
   * tried, say). The balancer then selects again, up to `hostSelectionRetryCount` more times;
   * `RING_HASH` and `MAGLEV` rehash for each new selection as Envoy does. If every selection is
   * rejected, the last one is returned.
   */
  readonly shouldSelectAnotherHost?: ((host: Host) => boolean) | undefined;
  /** Extra selections when `shouldSelectAnotherHost` rejects a host. Default 5. */
  readonly hostSelectionRetryCount?: number;
  /** The route's metadata match, for subset load balancing: the subset whose hosts carry these values. */
  readonly metadataMatch?: Readonly<Record<string, MetadataValue>> | undefined;
}

/** Options of `LEAST_REQUEST` (Envoy's `LeastRequest` policy). */
export interface LeastRequestOptions {
  /** Hosts sampled per pick when all weights are equal (power of N choices). Default 2, at least 2. */
  readonly choiceCount?: number;
  /**
   * With unequal weights, a host's scheduling weight is `weight / (activeRequests + 1) ^ bias`.
   * 0 ignores active requests (weighted round robin); larger values favour idle hosts. Default 1.
   */
  readonly activeRequestBias?: number;
}

/** Options of `RING_HASH` (Envoy's `RingHash` policy). */
export interface RingHashOptions {
  /** Default 1024. The least-weighted host gets at least `minimumRingSize * its share` entries. */
  readonly minimumRingSize?: number;
  /** Default 8,388,608 (8M), Envoy's default and limit. */
  readonly maximumRingSize?: number;
}

/** Options of `MAGLEV` (Envoy's `Maglev` policy). */
export interface MaglevOptions {
  /** Lookup table size: a prime, at most 5,000,011. Default 65537. */
  readonly tableSize?: number;
}

/** Slow start for hosts that just joined or just became healthy (Envoy's `SlowStartConfig`). */
export interface SlowStartOptions {
  /** Milliseconds over which a new host's weight ramps up to its full weight. */
  readonly window: number;
  /** Ramp shape: weight factor is `(elapsed / window) ^ (1 / aggression)`. Default 1 (linear). */
  readonly aggression?: number;
  /** Floor of the weight factor, percent in (0, 100]. Default 10. */
  readonly minWeightPercent?: number;
}

/** What a subset balancer does when a request's metadata match finds no (non-empty) subset. */
export type SubsetFallbackPolicy = 'NO_FALLBACK' | 'ANY_ENDPOINT' | 'DEFAULT_SUBSET';

/** Subset load balancing (Envoy's `LbSubsetConfig`). */
export interface SubsetOptions {
  /** Each selector is a set of metadata keys; hosts are grouped by their values for those keys. */
  readonly selectors: readonly (readonly string[])[];
  /** Default `NO_FALLBACK`, as Envoy's. */
  readonly fallbackPolicy?: SubsetFallbackPolicy;
  /** The subset `DEFAULT_SUBSET` falls back to: hosts whose metadata has all these values. */
  readonly defaultSubset?: Readonly<Record<string, MetadataValue>>;
}

/** Options of {@link createLoadBalancer}, validated once. */
export interface LoadBalancerOptions {
  /** Percent of available hosts in a priority below which it is in panic (uses all its hosts). 0 disables. Default 50. */
  readonly healthyPanicThreshold?: number;
  /** Envoy's overprovisioning factor, percent: a priority at `100 / factor` availability is "full". Default 140. */
  readonly overprovisioningFactor?: number;
  /**
   * Envoy's locality-weighted balancing (`locality_weighted_lb_config`): traffic of a priority level
   * is split between its localities by `localityWeight` (scaled down for localities with few
   * available hosts), then balanced inside the locality. Default false.
   */
  readonly localityWeighted?: boolean;
  readonly leastRequest?: LeastRequestOptions;
  readonly ringHash?: RingHashOptions;
  readonly maglev?: MaglevOptions;
  /** For `ROUND_ROBIN` and `LEAST_REQUEST`, as in Envoy. */
  readonly slowStart?: SlowStartOptions;
  readonly subset?: SubsetOptions;
  /** Uniform random number in [0, 1). Default `Math.random`. Injected for deterministic tests. */
  readonly random?: () => number;
  /** Monotonic milliseconds (slow start). Default `performance.now`. */
  readonly clock?: () => number;
}

/** What an `update()` or a health change did, as emitted with the `update` event. */
export interface HostSetChange {
  readonly added: readonly Host[];
  readonly removed: readonly Host[];
  /** Hosts whose weight, health, metadata, locality, priority or hash key changed. */
  readonly changed: readonly Host[];
}

/** Events of a {@link LoadBalancer}. */
export interface LoadBalancerEvents {
  update: [change: HostSetChange];
}

/** The consistent-hash table of one priority level (Envoy's ring_hash_lb / maglev_lb gauges). */
export interface TableStats {
  /** Ring entries or Maglev slots. */
  readonly entries: number;
  readonly minEntriesPerHost: number;
  readonly maxEntriesPerHost: number;
  /** Bytes of the table's typed arrays. */
  readonly bytes: number;
}

/** State of one priority level. */
export interface PriorityStats {
  readonly priority: number;
  readonly hosts: number;
  readonly healthy: number;
  readonly degraded: number;
  /** Percent of requests sent to this level's healthy hosts (all hosts when in panic). */
  readonly healthyLoad: number;
  /** Percent of requests sent to this level's degraded hosts. */
  readonly degradedLoad: number;
  /** Whether the level balances over all its hosts because too few are available. */
  readonly panic: boolean;
  /** `RING_HASH` and `MAGLEV` only. */
  readonly table?: TableStats;
}

/** A snapshot of a balancer's state, from `stats()`. */
export interface LoadBalancerStats {
  /** Levels of the whole set (of the fallback set behind subsets; empty with NO_FALLBACK). */
  readonly priorities: readonly PriorityStats[];
  /** Subsets that hold hosts, when subset load balancing is on. */
  readonly subsets?: number;
}
