import { ConfigError } from '@meshlet/errors';
import { show } from './errors.js';

/** Envoy's routing priorities: each has its own thresholds. */
export type RoutingPriority = 'default' | 'high';

/** The resources a cluster limits, as Envoy's `circuit_breakers.thresholds` name them. */
export type ResourceKind = 'connections' | 'pendingRequests' | 'requests' | 'retries' | 'connectionPools';

/** Envoy's `retry_budget`: concurrent retries as a share of the active and pending requests. */
export interface RetryBudget {
  /** Percent of (active + pending requests) that may be retries, in [0, 100]. Default 20. */
  readonly budgetPercent?: number;
  /** Retries allowed whatever the budget says. Default 3. */
  readonly minRetryConcurrency?: number;
}

/** One entry of Envoy's `circuit_breakers.thresholds` (camelCase). Missing fields take Envoy's defaults. */
export interface ResourceThresholds {
  /** Which priority these thresholds apply to. Default `'default'`. */
  readonly priority?: RoutingPriority;
  /** Default 1024. */
  readonly maxConnections?: number;
  /** Default 1024. */
  readonly maxPendingRequests?: number;
  /** Default 1024. */
  readonly maxRequests?: number;
  /** Default 3; ignored when `retryBudget` is set. */
  readonly maxRetries?: number;
  /** Default unlimited. */
  readonly maxConnectionPools?: number;
  /** When set (even `{}`), limits retries instead of `maxRetries`. */
  readonly retryBudget?: RetryBudget;
}

/** Counters of one resource, as returned by `stats()`. */
export interface ResourceStats {
  /** In use now. */
  readonly count: number;
  /** The limit now (for a retry budget, computed from the current requests). */
  readonly max: number;
  /** `max - count`, at least 0: Envoy's `remaining_*` gauge. */
  readonly remaining: number;
  /** Acquires refused because the limit was reached: Envoy's `*_overflow` counter. */
  readonly overflows: number;
}

const UINT32_MAX = 0xffff_ffff;

/**
 * One limited resource: a counter against a maximum. `tryAcquire()` and `release()` are O(1) and
 * allocate nothing; a refused acquire counts an overflow.
 */
export class ResourceCounter {
  /** Which resource this is. */
  readonly kind: ResourceKind;
  #count = 0;
  #overflows = 0;
  readonly #max: number;
  /** < 0: a fixed maximum. Else a retry budget over `#requests` + `#pending`. */
  readonly #budgetPercent: number;
  readonly #minConcurrency: number;
  readonly #requests: ResourceCounter | null;
  readonly #pending: ResourceCounter | null;

  /** @internal Built by {@link createResourceLimits}. */
  constructor(
    kind: ResourceKind,
    max: number,
    budget: {
      percent: number;
      min: number;
      requests: ResourceCounter;
      pending: ResourceCounter;
    } | null = null,
  ) {
    this.kind = kind;
    this.#max = max;
    this.#budgetPercent = budget ? budget.percent : -1;
    this.#minConcurrency = budget ? budget.min : 0;
    this.#requests = budget ? budget.requests : null;
    this.#pending = budget ? budget.pending : null;
  }

  /** In use now. */
  get count(): number {
    return this.#count;
  }

  /** The limit now. With a retry budget: `max(floor(percent% × (requests + pending)), minRetryConcurrency)`. */
  get max(): number {
    if (this.#budgetPercent < 0) return this.#max;
    const active = (this.#requests as ResourceCounter).#count + (this.#pending as ResourceCounter).#count;
    return Math.max(Math.floor((this.#budgetPercent / 100) * active), this.#minConcurrency);
  }

  /** How many more may be acquired now. */
  get remaining(): number {
    return Math.max(0, this.max - this.#count);
  }

  /** Acquires refused since creation. */
  get overflows(): number {
    return this.#overflows;
  }

  /** Whether the limit is reached (Envoy's `*_open` gauge): the next acquire would overflow. */
  get open(): boolean {
    return this.#count >= this.max;
  }

  /** Takes one unit if under the limit; otherwise counts an overflow and returns `false`. */
  tryAcquire(): boolean {
    if (this.#count >= (this.#budgetPercent < 0 ? this.#max : this.max)) {
      this.#overflows++;
      return false;
    }
    this.#count++;
    return true;
  }

  /** Gives one unit back. Returns `false` (and changes nothing) if none was in use. */
  release(): boolean {
    if (this.#count === 0) return false;
    this.#count--;
    return true;
  }

  /** A snapshot of the counters. */
  stats(): ResourceStats {
    return { count: this.#count, max: this.max, remaining: this.remaining, overflows: this.#overflows };
  }
}

/** The five resources of one priority. */
export class PriorityResourceLimits {
  readonly priority: RoutingPriority;
  readonly connections: ResourceCounter;
  readonly pendingRequests: ResourceCounter;
  readonly requests: ResourceCounter;
  readonly retries: ResourceCounter;
  readonly connectionPools: ResourceCounter;

  /** @internal Built by {@link createResourceLimits}. */
  constructor(priority: RoutingPriority, t: ResourceThresholds) {
    this.priority = priority;
    this.connections = new ResourceCounter('connections', t.maxConnections ?? 1024);
    this.pendingRequests = new ResourceCounter('pendingRequests', t.maxPendingRequests ?? 1024);
    this.requests = new ResourceCounter('requests', t.maxRequests ?? 1024);
    const budget = t.retryBudget;
    this.retries = new ResourceCounter(
      'retries',
      t.maxRetries ?? 3,
      budget
        ? {
            percent: budget.budgetPercent ?? 20,
            min: budget.minRetryConcurrency ?? 3,
            requests: this.requests,
            pending: this.pendingRequests,
          }
        : null,
    );
    this.connectionPools = new ResourceCounter('connectionPools', t.maxConnectionPools ?? UINT32_MAX);
  }

  /** Counters of every resource. */
  stats(): Record<ResourceKind, ResourceStats> {
    return {
      connections: this.connections.stats(),
      pendingRequests: this.pendingRequests.stats(),
      requests: this.requests.stats(),
      retries: this.retries.stats(),
      connectionPools: this.connectionPools.stats(),
    };
  }
}

/** A cluster's resource limits: one set per routing priority. */
export interface ResourceLimits {
  readonly default: PriorityResourceLimits;
  readonly high: PriorityResourceLimits;
  /** The limits of `priority`. */
  forPriority(priority: RoutingPriority): PriorityResourceLimits;
}

const FIELDS = new Set([
  'priority',
  'maxConnections',
  'maxPendingRequests',
  'maxRequests',
  'maxRetries',
  'maxConnectionPools',
  'retryBudget',
]);

function validate(input: unknown, where: string): RoutingPriority {
  if (typeof input !== 'object' || input === null) throw new ConfigError(`${where} must be an object`);
  const t = input as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!FIELDS.has(key)) throw new ConfigError(`${where}: unknown field ${key}`);
  }
  const priority = t.priority ?? 'default';
  if (priority !== 'default' && priority !== 'high') {
    throw new ConfigError(`${where}.priority must be 'default' or 'high', got ${show(priority)}`);
  }
  for (const key of [
    'maxConnections',
    'maxPendingRequests',
    'maxRequests',
    'maxRetries',
    'maxConnectionPools',
  ] as const) {
    const v = t[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= UINT32_MAX)) {
      throw new ConfigError(`${where}.${key} must be an integer in [0, 2^32-1], got ${show(v)}`);
    }
  }
  const budgetValue = t.retryBudget;
  if (budgetValue !== undefined) {
    const budget = budgetValue as Record<string, unknown> | null;
    if (typeof budget !== 'object' || budget === null)
      throw new ConfigError(`${where}.retryBudget must be an object`);
    for (const key of Object.keys(budget)) {
      if (key !== 'budgetPercent' && key !== 'minRetryConcurrency') {
        throw new ConfigError(`${where}.retryBudget: unknown field ${key}`);
      }
    }
    const p = budget.budgetPercent;
    if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 100)) {
      throw new ConfigError(
        `${where}.retryBudget.budgetPercent must be a number in [0, 100], got ${show(p)}`,
      );
    }
    const m = budget.minRetryConcurrency;
    if (m !== undefined && !(typeof m === 'number' && Number.isInteger(m) && m >= 0 && m <= UINT32_MAX)) {
      throw new ConfigError(
        `${where}.retryBudget.minRetryConcurrency must be an integer in [0, 2^32-1], got ${show(m)}`,
      );
    }
  }
  return priority;
}

/**
 * Envoy's cluster `circuit_breakers.thresholds`: per routing priority, limits on connections,
 * pending requests, requests, retries (or a retry budget) and connection pools, with Envoy's
 * defaults (1024 / 1024 / 1024 / 3 / unlimited). A priority not listed gets the defaults. Throws
 * {@link ConfigError} for an unknown field, a duplicate priority or a value out of range.
 *
 * @example
 * ```ts
 * const limits = createResourceLimits([{ maxRequests: 100, retryBudget: { budgetPercent: 25 } }]);
 * const rq = limits.default.requests;
 * if (!rq.tryAcquire()) return reply503('upstream overflow'); // counted in rq.overflows
 * try { await send(); } finally { rq.release(); }
 * ```
 */
export function createResourceLimits(thresholds: readonly ResourceThresholds[] = []): ResourceLimits {
  if (!Array.isArray(thresholds)) throw new ConfigError('circuit_breakers.thresholds must be an array');
  const byPriority = new Map<RoutingPriority, ResourceThresholds>();
  thresholds.forEach((t: unknown, i) => {
    const priority = validate(t, `thresholds[${i}]`);
    if (byPriority.has(priority))
      throw new ConfigError(`thresholds[${i}]: priority ${priority} is given twice`);
    byPriority.set(priority, t as ResourceThresholds);
  });
  const def = new PriorityResourceLimits('default', byPriority.get('default') ?? {});
  const high = new PriorityResourceLimits('high', byPriority.get('high') ?? {});
  return {
    default: def,
    high,
    forPriority(priority: RoutingPriority): PriorityResourceLimits {
      return priority === 'high' ? high : def;
    },
  };
}
