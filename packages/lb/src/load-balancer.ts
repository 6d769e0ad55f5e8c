import { ConfigError } from '@meshlet/errors';
import { EventEmitter } from 'eventemitter3';
import { HashingBalancer } from './hashing-balancer.js';
import { effectiveHealth, Host, localityKey, sameLocality, sameMetadata, validateHostInput } from './host.js';
import type { HostSetBalancer, ResolvedOptions } from './host-set-balancer.js';
import { SchedulingBalancer } from './scheduling-balancer.js';
import { SubsetBalancer } from './subset-balancer.js';
import type {
  HostHealth,
  HostInput,
  HostSetChange,
  LoadBalancerEvents,
  LoadBalancerOptions,
  LoadBalancerPolicy,
  LoadBalancerStats,
  PickContext,
} from './types.js';

const POLICIES: ReadonlySet<string> = new Set<LoadBalancerPolicy>([
  'ROUND_ROBIN',
  'LEAST_REQUEST',
  'RANDOM',
  'RING_HASH',
  'MAGLEV',
]);
const FALLBACKS: ReadonlySet<string> = new Set(['NO_FALLBACK', 'ANY_ENDPOINT', 'DEFAULT_SUBSET']);
const HEALTH: ReadonlySet<string> = new Set(['healthy', 'degraded', 'unhealthy', 'ejected']);

/** Envoy's default (and largest) maximum ring size. */
export const MAX_RING_SIZE = 8_388_608;
/** Envoy's largest Maglev table size. */
export const MAX_MAGLEV_TABLE_SIZE = 5_000_011;

/**
 * A load balancer over a set of hosts, created by {@link createLoadBalancer}. `pick()` is the
 * data-plane call (it never throws; no host is `null`); `update()` and `setHealth()` change the
 * host set and rebuild only what changed. Emits `update` with what changed.
 */
export class LoadBalancer extends EventEmitter<LoadBalancerEvents> {
  /** The policy, by Envoy's name. */
  readonly policy: LoadBalancerPolicy;
  private readonly options: ResolvedOptions;
  private readonly engine: HostSetBalancer | SubsetBalancer;
  private byKey = new Map<string, Host>();
  private list: Host[] = [];

  /** @internal Use {@link createLoadBalancer}. */
  constructor(policy: LoadBalancerPolicy, hosts: readonly HostInput[], options: LoadBalancerOptions) {
    super();
    this.policy = policy;
    this.options = resolveOptions(policy, options);
    const create = (): HostSetBalancer =>
      policy === 'RING_HASH' || policy === 'MAGLEV'
        ? new HashingBalancer(this.options)
        : new SchedulingBalancer(this.options);
    this.engine = options.subset ? new SubsetBalancer(options.subset, create) : create();
    this.apply(hosts, Number.NEGATIVE_INFINITY);
  }

  /** Every host, in the order of the last update. */
  get hosts(): readonly Host[] {
    return this.list;
  }

  /**
   * Picks a host for one request, or returns `null` when there is none (no hosts, no healthy
   * host with panic disabled, no matching subset without fallback). Never throws, unless the
   * context's own `shouldSelectAnotherHost` does.
   *
   * @example
   * ```ts
   * const host = lb.pick({ hash: xxHash64(userId) });
   * if (host === null) return reply(503, 'no healthy upstream');
   * ```
   */
  pick(ctx?: PickContext): Host | null {
    return this.engine.pick(ctx);
  }

  /**
   * Applies a new host set: hosts are matched to current ones by `address:port` (the same Host
   * objects, with their active request counts, stay); new ones are added, missing ones removed,
   * weights, health and metadata updated. Throws a `ConfigError` (changing nothing) on an invalid
   * host or a duplicate `address:port`.
   */
  update(hosts: readonly HostInput[]): HostSetChange {
    const change = this.apply(hosts, this.options.clock());
    if (change.added.length > 0 || change.removed.length > 0 || change.changed.length > 0)
      this.emit('update', change);
    return change;
  }

  /**
   * Sets the observed health of one host (by object or `address:port`), as active health
   * checking would. The host's effective `health` is the worst of this, the health its host set
   * declares, and an outlier ejection ({@link LoadBalancer.eject}), so an ejection survives
   * `update()` calls and a passing health check, and a host the host set calls unhealthy stays
   * so. Returns false when the host is not in the set.
   */
  setHealth(host: Host | string, health: HostHealth): boolean {
    if (!HEALTH.has(health))
      throw new ConfigError(`setHealth: health must be one of ${[...HEALTH].join(', ')}`);
    const current = this.byKey.get(typeof host === 'string' ? host : host.key);
    if (!current) return false;
    current.observedHealth = health;
    this.refreshHealth(current);
    return true;
  }

  /**
   * Ejects a host (by object or `address:port`), as outlier detection does: it gets no traffic
   * outside panic until {@link LoadBalancer.uneject}. Kept apart from `setHealth`, so returning
   * from an ejection never overrides a failing health check. The signature fits
   * `@meshlet/breaker`'s `OutlierDetector` target: `new OutlierDetector({ target: lb })`.
   * Returns false when the host is not in the set.
   */
  eject(host: Host | string): boolean {
    return this.setEjected(host, true);
  }

  /** Ends an ejection (see {@link LoadBalancer.eject}). Returns false when the host is not in the set. */
  uneject(host: Host | string): boolean {
    return this.setEjected(host, false);
  }

  private setEjected(host: Host | string, ejected: boolean): boolean {
    const current = this.byKey.get(typeof host === 'string' ? host : host.key);
    if (!current) return false;
    current.ejected = ejected;
    this.refreshHealth(current);
    return true;
  }

  /** Recomputes one host's effective health and, if it changed, the balancing structures. */
  private refreshHealth(current: Host): void {
    const effective = effectiveHealth(current.declaredHealth, current.observedHealth, current.ejected);
    if (current.health === effective) return;
    if (effective === 'healthy') current.healthySince = this.options.clock();
    current.health = effective;
    this.engine.setHosts(this.list);
    this.emit('update', { added: [], removed: [], changed: [current] });
  }

  /** Per-priority state: host counts, load, panic, and the consistent-hash table's size and spread. */
  stats(): LoadBalancerStats {
    const engine = this.engine;
    if (engine instanceof SubsetBalancer)
      return { priorities: engine.fallbackStats(), subsets: engine.subsetCount };
    return { priorities: engine.stats() };
  }

  /** The host with this `address:port`, if it is in the set. */
  get(key: string): Host | undefined {
    return this.byKey.get(key);
  }

  private apply(inputs: readonly HostInput[], now: number): HostSetChange {
    const given: unknown = inputs; // checked without narrowing `inputs` to any[]
    if (!Array.isArray(given)) throw new ConfigError('hosts: must be an array of hosts');
    const seen = new Set<string>();
    const localityWeights = new Map<string, number>();
    inputs.forEach((input, i) => {
      validateHostInput(input, `hosts[${i}]`);
      const key = `${input.address}:${input.port}`;
      if (seen.has(key)) throw new ConfigError(`hosts[${i}]: ${key} appears twice`);
      seen.add(key);
      const locality = `${input.priority ?? 0}\u0000${localityKey(input.locality)}`;
      const weight = input.localityWeight ?? 1;
      const known = localityWeights.get(locality);
      if (known !== undefined && known !== weight) {
        throw new ConfigError(
          `hosts[${i}].localityWeight: ${weight}, but another host of its locality and priority has ${known}`,
        );
      }
      localityWeights.set(locality, weight);
    });
    const added: Host[] = [];
    const changed: Host[] = [];
    const next = new Map<string, Host>();
    const list: Host[] = [];
    for (const input of inputs) {
      const key = `${input.address}:${input.port}`;
      const existing = this.byKey.get(key);
      if (!existing) {
        const host = new Host(input, now);
        added.push(host);
        next.set(key, host);
        list.push(host);
        continue;
      }
      const declared = input.health ?? 'healthy';
      const health = effectiveHealth(declared, existing.observedHealth, existing.ejected);
      existing.declaredHealth = declared;
      // A name does not change how the host is balanced: kept current without a `changed` event.
      existing.hostname = input.hostname;
      const hashKey = input.hashKey ?? key;
      const metadata = input.metadata ?? {};
      const weight = input.weight ?? 1;
      const priority = input.priority ?? 0;
      const localityWeight = input.localityWeight ?? 1;
      if (
        existing.localityWeight !== localityWeight ||
        existing.health !== health ||
        existing.hashKey !== hashKey ||
        existing.weight !== weight ||
        existing.priority !== priority ||
        !sameMetadata(existing.metadata, metadata) ||
        !sameLocality(existing.locality, input.locality)
      ) {
        if (health === 'healthy' && existing.health !== 'healthy') existing.healthySince = now;
        existing.health = health;
        existing.hashKey = hashKey;
        existing.weight = weight;
        existing.priority = priority;
        existing.metadata = metadata;
        existing.locality = input.locality;
        existing.localityWeight = localityWeight;
        changed.push(existing);
      }
      next.set(key, existing);
      list.push(existing);
    }
    const removed: Host[] = [];
    for (const [key, host] of this.byKey) if (!next.has(key)) removed.push(host);
    this.byKey = next;
    this.list = list;
    this.engine.setHosts(list);
    return { added, removed, changed };
  }
}

/**
 * Creates a load balancer with one of Envoy's policies over `hosts`.
 *
 * @param policy `'ROUND_ROBIN'`, `'LEAST_REQUEST'`, `'RANDOM'`, `'RING_HASH'` or `'MAGLEV'`;
 *   any other name throws a `ConfigError` (no silent fallback to round robin).
 * @example
 * ```ts
 * const lb = createLoadBalancer('MAGLEV', [
 *   { address: '10.0.0.1', port: 8080 },
 *   { address: '10.0.0.2', port: 8080, weight: 2 },
 * ]);
 * const host = lb.pick({ hash: xxHash64(sessionId) }); // same session, same host (and same as Envoy's)
 * ```
 */
export function createLoadBalancer(
  policy: LoadBalancerPolicy,
  hosts: readonly HostInput[],
  options: LoadBalancerOptions = {},
): LoadBalancer {
  if (!POLICIES.has(policy)) {
    throw new ConfigError(
      `load balancer policy: unknown name ${JSON.stringify(policy)}; expected one of ${[...POLICIES].join(', ')}`,
    );
  }
  return new LoadBalancer(policy, hosts, options);
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** A value for an error message, without "[object Object]". */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  return typeof value;
}

function bool(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ConfigError(`${field}: must be a boolean, got ${show(value)}`);
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${field}: must be an integer in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

function finite(
  value: unknown,
  field: string,
  min: number,
  max: number,
  fallback: number,
  minExclusive = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (minExclusive && value === min) ||
    value > max
  ) {
    throw new ConfigError(
      `${field}: must be a number in ${minExclusive ? '(' : '['}${min}, ${max}], got ${show(value)}`,
    );
  }
  return value;
}

function resolveOptions(policy: LoadBalancerPolicy, o: LoadBalancerOptions): ResolvedOptions {
  if (typeof o !== 'object' || (o as unknown) === null) throw new ConfigError('options: must be an object');
  const only = (field: keyof LoadBalancerOptions, ...policies: LoadBalancerPolicy[]): void => {
    if (o[field] !== undefined && !policies.includes(policy)) {
      throw new ConfigError(`options.${field}: applies to ${policies.join(' and ')}, not ${policy}`);
    }
  };
  only('leastRequest', 'LEAST_REQUEST');
  only('ringHash', 'RING_HASH');
  only('maglev', 'MAGLEV');
  only('slowStart', 'ROUND_ROBIN', 'LEAST_REQUEST');
  if (o.random !== undefined && typeof o.random !== 'function')
    throw new ConfigError('options.random: must be a function');
  if (o.clock !== undefined && typeof o.clock !== 'function')
    throw new ConfigError('options.clock: must be a function');

  const minimumRingSize = integer(
    o.ringHash?.minimumRingSize,
    'options.ringHash.minimumRingSize',
    1,
    MAX_RING_SIZE,
    1024,
  );
  const maximumRingSize = integer(
    o.ringHash?.maximumRingSize,
    'options.ringHash.maximumRingSize',
    1,
    MAX_RING_SIZE,
    MAX_RING_SIZE,
  );
  if (minimumRingSize > maximumRingSize) {
    throw new ConfigError(
      `options.ringHash: minimumRingSize (${minimumRingSize}) > maximumRingSize (${maximumRingSize})`,
    );
  }
  const tableSize = integer(o.maglev?.tableSize, 'options.maglev.tableSize', 2, MAX_MAGLEV_TABLE_SIZE, 65537);
  if (!isPrime(tableSize))
    throw new ConfigError(`options.maglev.tableSize: must be a prime number, got ${tableSize}`);

  const slowStart = o.slowStart;
  if (slowStart !== undefined && (typeof slowStart !== 'object' || (slowStart as unknown) === null)) {
    throw new ConfigError('options.slowStart: must be an object');
  }
  const subset = o.subset;
  if (subset !== undefined) {
    if (typeof subset !== 'object' || (subset as unknown) === null || !Array.isArray(subset.selectors)) {
      throw new ConfigError('options.subset.selectors: must be an array of arrays of metadata keys');
    }
    subset.selectors.forEach((keys, i) => {
      if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) {
        throw new ConfigError(
          `options.subset.selectors[${i}]: must be a non-empty array of non-empty strings`,
        );
      }
    });
    if (subset.fallbackPolicy !== undefined && !FALLBACKS.has(subset.fallbackPolicy)) {
      throw new ConfigError(`options.subset.fallbackPolicy: must be one of ${[...FALLBACKS].join(', ')}`);
    }
    if (
      subset.defaultSubset !== undefined &&
      (typeof subset.defaultSubset !== 'object' || (subset.defaultSubset as unknown) === null)
    ) {
      throw new ConfigError('options.subset.defaultSubset: must be an object of metadata values');
    }
  }
  const clock = o.clock ?? (() => performance.now());
  return {
    policy,
    localityWeighted: bool(o.localityWeighted, 'options.localityWeighted'),
    panicThreshold: finite(o.healthyPanicThreshold, 'options.healthyPanicThreshold', 0, 100, 50),
    overprovisioningFactor: integer(
      o.overprovisioningFactor,
      'options.overprovisioningFactor',
      1,
      0xffffffff,
      140,
    ),
    choiceCount: integer(o.leastRequest?.choiceCount, 'options.leastRequest.choiceCount', 2, 1000, 2),
    activeRequestBias: finite(
      o.leastRequest?.activeRequestBias,
      'options.leastRequest.activeRequestBias',
      0,
      1e6,
      1,
    ),
    minimumRingSize,
    maximumRingSize,
    tableSize,
    slowStartWindow: slowStart ? finite(slowStart.window, 'options.slowStart.window', 0, 1e12, 0, true) : 0,
    slowStartAggression: finite(slowStart?.aggression, 'options.slowStart.aggression', 0, 1e6, 1, true),
    slowStartMinWeight:
      finite(slowStart?.minWeightPercent, 'options.slowStart.minWeightPercent', 0, 100, 10, true) / 100,
    random: o.random ?? Math.random,
    clock,
  };
}
