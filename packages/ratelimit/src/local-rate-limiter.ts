import { ConfigError } from '@meshlet/errors';
import { systemClock } from './clock.js';
import { MIN_FILL_INTERVAL_MS, TokenBucket } from './token-bucket.js';
import { LRUCache } from 'lru-cache';
import type { Clock, Decision, DescriptorEntry, RateLimitDescriptor, RefillStyle } from './types.js';
import { checkCount, integerOption, objectOption, oneOf } from './validate.js';

/** A protobuf `Duration` as Envoy's JSON/YAML config writes it (`"0.05s"`), or milliseconds. */
export type DurationInput = string | number | { readonly seconds?: number; readonly nanos?: number };

/** Envoy's `type.v3.TokenBucket`, in camelCase. */
export interface TokenBucketConfig {
  readonly maxTokens: number;
  /** Default 1. */
  readonly tokensPerFill?: number;
  /** At least 50 ms. */
  readonly fillInterval: DurationInput;
}

/** Envoy's `type.v3.FractionalPercent`. */
export interface FractionalPercent {
  readonly numerator: number;
  /** Default `HUNDRED`. */
  readonly denominator?: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION';
}

/** Envoy's `config.core.v3.RuntimeFractionalPercent` (the runtime key is accepted and not read). */
export interface RuntimeFractionalPercent {
  readonly defaultValue: FractionalPercent;
  readonly runtimeKey?: string;
}

/** Envoy's `LocalRateLimitDescriptor`: entries matched exactly, with their own bucket. */
export interface LocalRateLimitDescriptorConfig {
  readonly entries: RateLimitDescriptor['entries'];
  readonly tokenBucket: TokenBucketConfig;
}

/** Envoy's `extensions.filters.http.local_ratelimit.v3.LocalRateLimit`, the fields that decide. */
export interface LocalRateLimitConfig {
  /** The default bucket. */
  readonly tokenBucket: TokenBucketConfig;
  /**
   * Descriptors with their own buckets, matched verbatim against the request's descriptors. An
   * entry with an empty value is a wildcard (Envoy's dynamic descriptors): it matches any value
   * of its key, and each distinct value gets its own bucket, the most recent
   * `maxDynamicDescriptors` of them kept.
   */
  readonly descriptors?: readonly LocalRateLimitDescriptorConfig[];
  /** The most buckets kept for wildcard descriptors (least recently used evicted). Default 20, as Envoy. */
  readonly maxDynamicDescriptors?: number;
  /** The fraction of requests checked at all. Default 0 %, as Envoy ("for safety"). */
  readonly filterEnabled?: RuntimeFractionalPercent;
  /** The fraction of checked requests whose "limited" is enforced; the others are shadow mode. Default 0 %. */
  readonly filterEnforced?: RuntimeFractionalPercent;
  /** Consume the default bucket even when a descriptor matched. Default true. */
  readonly alwaysConsumeDefaultTokenBucket?: boolean;
  /** `DRAFT_VERSION_03` makes {@link LocalRateLimiter.headers} return the x-ratelimit-* headers. Default `OFF`. */
  readonly enableXRatelimitHeaders?: 'OFF' | 'DRAFT_VERSION_03';
  /**
   * How the buckets refill (a meshlet option, not an Envoy field). Default `'interval'`: Envoy's
   * classic timer fill, `tokensPerFill` at each `fillInterval`. Envoy's newer timer-less bucket
   * refills continuously at the same average rate: `'continuous'` matches it.
   */
  readonly refill?: RefillStyle;
  /** Clock; default `performance.now`. */
  readonly clock?: Clock;
  /** Uniform random numbers in [0, 1) for the enabled / enforced fractions; default `Math.random`. */
  readonly random?: () => number;
}

/**
 * What the local rate limit decided:
 * - `disabled`: not checked (outside `filterEnabled`);
 * - `ok`: checked and within the limit;
 * - `limited`: over the limit and enforced: reply 429;
 * - `shadow_limited`: over the limit but not enforced (shadow mode): let it through, count it.
 */
export type LocalRateLimitOutcome = 'disabled' | 'ok' | 'limited' | 'shadow_limited';

/** The decision for one request. `limit`, `remaining` and `resetSeconds` are those of the bucket that decided. */
export interface LocalRateLimitDecision {
  readonly outcome: LocalRateLimitOutcome;
  /** False only for `limited`. */
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Whole seconds until the deciding bucket's next fill (draft 03's `X-RateLimit-Reset`). */
  readonly resetSeconds: number;
}

/** Envoy's local rate limit stats (`<stat_prefix>.http_local_rate_limit.*`). */
export interface LocalRateLimitStats {
  enabled: number;
  enforced: number;
  rateLimited: number;
  ok: number;
}

/** Envoy's `local_ratelimit` filter logic, without the HTTP around it. */
export interface LocalRateLimiter {
  /** Checks one request against the buckets, with the request's descriptors (default none). */
  check(descriptors?: readonly RateLimitDescriptor[], hits?: number): LocalRateLimitDecision;
  /** The draft 03 x-ratelimit-* headers for a decision, or null when disabled or not configured. */
  headers(decision: LocalRateLimitDecision): Record<string, string> | null;
  /** Counters, as Envoy's stats. */
  readonly stats: LocalRateLimitStats;
}

const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/** Parses a protobuf Duration (JSON form `"1.5s"`, an object, or milliseconds) into milliseconds. */
export function durationMs(name: string, value: DurationInput): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const m = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(value);
    if (!m) throw new ConfigError(`${name} must be a duration such as "0.05s", got ${JSON.stringify(value)}`);
    ms = Number(m[1]) * 1000;
  } else if (typeof value === 'object' && (value as unknown) !== null) {
    ms = (value.seconds ?? 0) * 1000 + (value.nanos ?? 0) / 1e6;
  } else throw new ConfigError(`${name} must be a duration, got ${typeof value}`);
  if (!Number.isFinite(ms)) throw new ConfigError(`${name} must be a finite duration`);
  return ms;
}

function fraction(name: string, value: RuntimeFractionalPercent | undefined): number {
  if (value === undefined) return 0;
  const percent = (value as Partial<RuntimeFractionalPercent> | null)?.defaultValue;
  if (typeof percent !== 'object') throw new ConfigError(`${name}.defaultValue must be a FractionalPercent`);
  const denominator = percent.denominator ?? 'HUNDRED';
  if (!Object.hasOwn(DENOMINATORS, denominator)) {
    throw new ConfigError(`${name}.defaultValue.denominator must be HUNDRED, TEN_THOUSAND or MILLION`);
  }
  const scale = DENOMINATORS[denominator];
  // Envoy caps a numerator above the denominator at 100 %.
  return Math.min(integerOption(`${name}.defaultValue.numerator`, percent.numerator, 0), scale) / scale;
}

function bucketFrom(name: string, config: TokenBucketConfig, clock: Clock, refill: RefillStyle): TokenBucket {
  objectOption(name, config);
  const fillIntervalMs = durationMs(`${name}.fillInterval`, config.fillInterval);
  if (fillIntervalMs < MIN_FILL_INTERVAL_MS) {
    throw new ConfigError(
      `${name}.fillInterval must be at least 50ms (Envoy's minimum), got ${fillIntervalMs} ms`,
    );
  }
  return new TokenBucket({
    maxTokens: integerOption(`${name}.maxTokens`, config.maxTokens, 1, 2 ** 32 - 1),
    tokensPerFill: integerOption(`${name}.tokensPerFill`, config.tokensPerFill ?? 1, 1, 2 ** 32 - 1),
    fillIntervalMs,
    refill,
    clock,
  });
}

/** An unambiguous key for a descriptor's entries: lengths prefix every key and value. */
function descriptorKey(descriptor: RateLimitDescriptor): string {
  let key = '';
  for (const entry of descriptor.entries) {
    key += `${entry.key.length}:${entry.key}${entry.value.length}:${entry.value}`;
  }
  return key;
}

class EnvoyLocalRateLimiter implements LocalRateLimiter {
  readonly stats: LocalRateLimitStats = { enabled: 0, enforced: 0, rateLimited: 0, ok: 0 };
  readonly #default: TokenBucket;
  /** Exact descriptors, as a trie of entries: a lookup walks the request's entries, no key built. */
  readonly #exact = new DescriptorNode();
  #exactCount = 0;
  readonly #wildcards: Wildcard[] = [];
  readonly #dynamic: LRUCache<string, TokenBucket>;
  readonly #clock: Clock;
  readonly #refill: RefillStyle;
  readonly #alwaysConsumeDefault: boolean;
  readonly #enabled: number;
  readonly #enforced: number;
  readonly #headers: boolean;
  readonly #random: () => number;
  /** Scratch list of matched buckets, reused across checks. */
  readonly #matched: TokenBucket[] = [];

  constructor(config: LocalRateLimitConfig) {
    objectOption('local rate limit config', config);
    const clock = config.clock ?? systemClock;
    const refill = oneOf('refill', config.refill ?? 'interval', ['interval', 'continuous'] as const);
    this.#default = bucketFrom('tokenBucket', config.tokenBucket, clock, refill);
    const descriptors = config.descriptors ?? [];
    const seen = new Set<string>();
    for (let i = 0; i < descriptors.length; i++) {
      const d = descriptors[i] as LocalRateLimitDescriptorConfig;
      const name = `descriptors[${i}]`;
      if (!Array.isArray(d.entries) || d.entries.length === 0)
        throw new ConfigError(`${name}.entries must be a non-empty list`);
      for (const entry of d.entries as readonly unknown[]) {
        const { key, value } = (entry ?? {}) as { key?: unknown; value?: unknown };
        if (typeof key !== 'string' || typeof value !== 'string') {
          throw new ConfigError(`${name}.entries must be { key, value } strings`);
        }
      }
      const key = descriptorKey(d);
      if (seen.has(key)) throw new ConfigError(`${name} duplicates an earlier descriptor`);
      seen.add(key);
      const bucket = bucketFrom(`${name}.tokenBucket`, d.tokenBucket, clock, refill);
      const entries = d.entries as readonly DescriptorEntry[];
      if (entries.some((e) => e.value === '')) this.#wildcards.push(new Wildcard(entries, d.tokenBucket));
      else {
        insertDescriptor(this.#exact, entries, bucket);
        this.#exactCount++;
      }
    }
    this.#clock = clock;
    this.#refill = refill;
    this.#dynamic = new LRUCache({
      max: integerOption('maxDynamicDescriptors', config.maxDynamicDescriptors ?? 20, 1, 2 ** 24),
    });
    this.#alwaysConsumeDefault = config.alwaysConsumeDefaultTokenBucket ?? true;
    this.#enabled = fraction('filterEnabled', config.filterEnabled);
    this.#enforced = fraction('filterEnforced', config.filterEnforced);
    const mode = oneOf('enableXRatelimitHeaders', config.enableXRatelimitHeaders ?? 'OFF', [
      'OFF',
      'DRAFT_VERSION_03',
    ] as const);
    this.#headers = mode === 'DRAFT_VERSION_03';
    this.#random = config.random ?? Math.random;
  }

  check(descriptors?: readonly RateLimitDescriptor[], hits = 1): LocalRateLimitDecision {
    checkCount(hits);
    if (!this.#draw(this.#enabled)) return decision('disabled', true, this.#default.consume(0));
    this.stats.enabled++;

    // Every request descriptor that matches a configured one verbatim; the slowest to refill is
    // consumed first, as Envoy does, and the first that is empty decides.
    const matched = this.#matched;
    matched.length = 0;
    if (descriptors !== undefined && (this.#exactCount > 0 || this.#wildcards.length > 0)) {
      for (const descriptor of descriptors) {
        const bucket = findDescriptor(this.#exact, descriptor.entries) ?? this.#dynamicBucket(descriptor);
        if (bucket !== undefined && !matched.includes(bucket)) matched.push(bucket);
      }
      if (matched.length > 1) matched.sort(byFillRate);
    }
    // One clock read per bucket: the decision that reports is the bucket's own consume result,
    // that of the bucket that refused, else of the first (slowest) matched bucket, else the default's.
    let limited: Decision | null = null;
    let first: Decision | null = null;
    for (const bucket of matched) {
      const d = bucket.consume(hits);
      first ??= d;
      if (!d.allowed) {
        limited = d;
        break;
      }
    }
    if (limited === null && (matched.length === 0 || this.#alwaysConsumeDefault)) {
      const d = this.#default.consume(hits);
      if (!d.allowed) limited = d;
      first ??= d;
    }
    if (limited === null) {
      this.stats.ok++;
      return decision('ok', true, first as Decision);
    }
    this.stats.rateLimited++;
    if (!this.#draw(this.#enforced)) return decision('shadow_limited', true, limited);
    this.stats.enforced++;
    return decision('limited', false, limited);
  }

  headers(d: LocalRateLimitDecision): Record<string, string> | null {
    if (!this.#headers || d.outcome === 'disabled') return null;
    return {
      'x-ratelimit-limit': String(d.limit),
      'x-ratelimit-remaining': String(d.remaining),
      'x-ratelimit-reset': String(d.resetSeconds),
    };
  }

  /** The bucket of the first wildcard descriptor that `descriptor` matches, made on first use. */
  #dynamicBucket(descriptor: RateLimitDescriptor): TokenBucket | undefined {
    if (this.#wildcards.length === 0) return undefined;
    const key = descriptorKey(descriptor);
    const known = this.#dynamic.get(key);
    if (known !== undefined) return known;
    for (const wildcard of this.#wildcards) {
      if (!wildcard.matches(descriptor)) continue;
      const bucket = bucketFrom('descriptor', wildcard.tokenBucket, this.#clock, this.#refill);
      this.#dynamic.set(key, bucket);
      return bucket;
    }
    return undefined;
  }

  #draw(fraction: number): boolean {
    if (fraction >= 1) return true;
    if (fraction <= 0) return false;
    return this.#random() < fraction;
  }
}

/** A node of the trie of exact descriptors: entry key → entry value → next node. */
class DescriptorNode {
  bucket: TokenBucket | undefined = undefined;
  readonly next = new Map<string, Map<string, DescriptorNode>>();
}

function insertDescriptor(
  root: DescriptorNode,
  entries: readonly DescriptorEntry[],
  bucket: TokenBucket,
): void {
  let node = root;
  for (const { key, value } of entries) {
    let values = node.next.get(key);
    if (values === undefined) {
      values = new Map<string, DescriptorNode>();
      node.next.set(key, values);
    }
    let child = values.get(value);
    if (child === undefined) {
      child = new DescriptorNode();
      values.set(value, child);
    }
    node = child;
  }
  node.bucket = bucket;
}

/** The bucket of the descriptor with exactly these entries, found without building a key. */
function findDescriptor(root: DescriptorNode, entries: readonly DescriptorEntry[]): TokenBucket | undefined {
  let node: DescriptorNode | undefined = root;
  for (let i = 0; i < entries.length && node !== undefined; i++) {
    const entry = entries[i] as DescriptorEntry;
    node = node.next.get(entry.key)?.get(entry.value);
  }
  return node?.bucket;
}

/** A descriptor with wildcard entries (empty values): keys must be equal, values equal or wild. */
class Wildcard {
  readonly entries: readonly DescriptorEntry[];
  readonly tokenBucket: TokenBucketConfig;
  constructor(entries: readonly DescriptorEntry[], tokenBucket: TokenBucketConfig) {
    this.entries = entries.map((e) => ({ key: e.key, value: e.value }));
    this.tokenBucket = tokenBucket;
  }
  matches(descriptor: RateLimitDescriptor): boolean {
    const entries = descriptor.entries;
    if (entries.length !== this.entries.length) return false;
    for (let i = 0; i < entries.length; i++) {
      const want = this.entries[i] as DescriptorEntry;
      const got = entries[i] as DescriptorEntry;
      if (want.key !== got.key || (want.value !== '' && want.value !== got.value)) return false;
    }
    return true;
  }
}

function byFillRate(a: TokenBucket, b: TokenBucket): number {
  return a.tokensPerFill / a.fillIntervalMs - b.tokensPerFill / b.fillIntervalMs;
}

function decision(outcome: LocalRateLimitOutcome, allowed: boolean, d: Decision): LocalRateLimitDecision {
  return {
    outcome,
    allowed,
    limit: d.limit,
    remaining: d.remaining,
    resetSeconds: Math.ceil(d.resetAfterMs / 1000),
  };
}

/**
 * Envoy's HTTP `local_ratelimit` filter as a decision function: a default token bucket, optional
 * descriptors with their own buckets (matched exactly on their entries),
 * `alwaysConsumeDefaultTokenBucket`, the `filterEnabled` / `filterEnforced` fractions (shadow
 * mode), and draft 03 x-ratelimit-* headers. Config names are Envoy's, in camelCase.
 *
 * @example
 * ```ts
 * const limiter = createLocalRateLimiter({
 *   tokenBucket: { maxTokens: 100, tokensPerFill: 100, fillInterval: '1s' },
 *   filterEnabled: { defaultValue: { numerator: 100 } },
 *   filterEnforced: { defaultValue: { numerator: 100 } },
 *   descriptors: [{ entries: [{ key: 'client', value: 'batch' }], tokenBucket: { maxTokens: 5, fillInterval: '1s' } }],
 * });
 * const d = limiter.check([{ entries: [{ key: 'client', value: req.headers['x-client'] }] }]);
 * if (!d.allowed) reply(429, limiter.headers(d));
 * ```
 */
export function createLocalRateLimiter(config: LocalRateLimitConfig): LocalRateLimiter {
  return new EnvoyLocalRateLimiter(config);
}
