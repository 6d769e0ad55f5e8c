import type { Host } from './host.js';
import type { HostSetBalancer } from './host-set-balancer.js';
import type {
  MetadataValue,
  PickContext,
  PriorityStats,
  SubsetFallbackPolicy,
  SubsetOptions,
} from './types.js';

/**
 * Subset load balancing, as Envoy's SubsetLoadBalancer: hosts are grouped by the values of each
 * selector's metadata keys; a request's metadata match (whose keys must be exactly one
 * selector's) picks among its subset with the cluster's policy. When there is no such subset,
 * or it is empty, the fallback policy decides: no host, any host, or the default subset.
 * Each subset is a full balancer of its own (priorities, health, panic), kept across updates.
 * @internal
 */
export class SubsetBalancer {
  private readonly create: () => HostSetBalancer;
  /** Selector index by its sorted keys joined with NUL. */
  private readonly selectorByKeys = new Map<string, number>();
  private readonly selectors: readonly (readonly string[])[];
  private readonly fallbackPolicy: SubsetFallbackPolicy;
  private readonly defaultSubset: Readonly<Record<string, MetadataValue>>;
  private readonly subsets = new Map<string, HostSetBalancer>();
  private readonly fallback: HostSetBalancer | null;

  constructor(options: SubsetOptions, create: () => HostSetBalancer) {
    this.create = create;
    this.selectors = options.selectors.map((keys) => [...keys].sort());
    this.selectors.forEach((keys, i) => {
      const id = keys.join('\u0000');
      if (!this.selectorByKeys.has(id)) this.selectorByKeys.set(id, i);
    });
    this.fallbackPolicy = options.fallbackPolicy ?? 'NO_FALLBACK';
    this.defaultSubset = options.defaultSubset ?? {};
    this.fallback = this.fallbackPolicy === 'NO_FALLBACK' ? null : create();
  }

  get size(): number {
    let n = this.fallback?.size ?? 0;
    for (const subset of this.subsets.values()) n = Math.max(n, subset.size);
    return n;
  }

  setHosts(hosts: readonly Host[]): void {
    const groups = new Map<string, Host[]>();
    for (const host of hosts) {
      this.selectors.forEach((keys, i) => {
        const key = subsetKey(i, keys, host.metadata);
        if (key === null) return;
        let group = groups.get(key);
        if (!group) groups.set(key, (group = []));
        group.push(host);
      });
    }
    for (const [key, balancer] of this.subsets) {
      if (!groups.has(key)) {
        balancer.setHosts([]);
        this.subsets.delete(key);
      }
    }
    for (const [key, group] of groups) {
      let balancer = this.subsets.get(key);
      if (!balancer) this.subsets.set(key, (balancer = this.create()));
      balancer.setHosts(group);
    }
    if (this.fallback) {
      const defaults = this.defaultSubset;
      const keys = Object.keys(defaults);
      this.fallback.setHosts(
        this.fallbackPolicy === 'ANY_ENDPOINT' || keys.length === 0
          ? hosts
          : hosts.filter((h) => keys.every((k) => sameValue(h.metadata[k], defaults[k]))),
      );
    }
  }

  pick(ctx: PickContext | undefined): Host | null {
    const match = ctx?.metadataMatch;
    if (match && typeof match === 'object') {
      const keys = Object.keys(match).sort();
      const selector = this.selectorByKeys.get(keys.join('\u0000'));
      if (selector !== undefined) {
        const key = subsetKey(selector, keys, match);
        const subset = key === null ? undefined : this.subsets.get(key);
        if (subset && subset.size > 0) return subset.pick(ctx);
      }
    }
    return this.fallback ? this.fallback.pick(ctx) : null;
  }

  /** Per-level state of the fallback set (empty with NO_FALLBACK). */
  fallbackStats(): PriorityStats[] {
    return this.fallback ? this.fallback.stats() : [];
  }

  /** Number of subsets that hold hosts now. */
  get subsetCount(): number {
    return this.subsets.size;
  }
}

function sameValue(a: MetadataValue | undefined, b: MetadataValue | undefined): boolean {
  return a !== undefined && b !== undefined && String(a) === String(b) && typeof a === typeof b;
}

/** `selector|v1|v2...` for the metadata, or null when a key is missing. Values are typed: 1 and "1" differ. */
function subsetKey(
  selector: number,
  keys: readonly string[],
  metadata: Readonly<Record<string, MetadataValue>>,
): string | null {
  let key = String(selector);
  for (const k of keys) {
    const v = metadata[k];
    if (v === undefined) return null;
    key += `\u0000${typeof v}:${String(v)}`;
  }
  return key;
}
