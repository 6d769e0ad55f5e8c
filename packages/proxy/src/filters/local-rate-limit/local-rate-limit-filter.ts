// `envoy.filters.http.local_ratelimit`: token buckets from `@meshlet/ratelimit`, the filterEnabled
// / filterEnforced shares (shadow mode), a local reply (429 or the configured status) with
// `x-envoy-ratelimited`, and optional draft 03 `x-ratelimit-*` headers on every response.
import { ConfigError } from '@meshlet/errors';
import {
  type FractionalPercent as RateLimitPercent,
  type LocalRateLimitConfig as LimiterConfig,
  type LocalRateLimitDecision,
  type LocalRateLimiter,
  type RateLimitDescriptor,
  createLocalRateLimiter,
} from '@meshlet/ratelimit';
import type { FractionalPercent } from '@meshlet/xds';
import type { Counter, Scope } from '@meshlet/stats';
import { LRUCache } from 'lru-cache';
import type { FilterEnvironment, HeaderMap, HttpContext, HttpFilter } from '../../types.js';
import { ConfigReader } from '../config-reader.js';
import { type HeaderOp, applyHeaderOps, compileHeaderValueOption } from '../header-mutation/header-ops.js';

/**
 * The `ctx.state` key under which a filter that runs earlier may put the request's rate limit
 * descriptors (`readonly RateLimitDescriptor[]`), matched against the config's `descriptors`.
 * Envoy builds them from route `rate_limits` actions, which the model does not carry.
 */
export const LOCAL_RATE_LIMIT_DESCRIPTORS = 'envoy.filters.http.local_ratelimit.descriptors';

/** The body of the local reply, as Envoy's. */
export const LOCAL_RATE_LIMITED_BODY = 'local_rate_limited';

/** The most connections with their own buckets (`localRateLimitPerDownstreamConnection`); the least recently used is dropped beyond. */
export const MAX_CONNECTION_LIMITERS = 16_384;

/** Envoy's counters (`<stat_prefix>.http_local_rate_limit.*`), summed over per-connection buckets. */
export interface LocalRateLimitFilterStats {
  enabled: number;
  ok: number;
  rateLimited: number;
  enforced: number;
}

/** The same counts in the proxy's stats store, when stats are on. */
class LocalRateLimitCounters {
  readonly enabled: Counter;
  readonly ok: Counter;
  readonly rateLimited: Counter;
  readonly enforced: Counter;
  constructor(scope: Scope) {
    this.enabled = scope.counter('enabled');
    this.ok = scope.counter('ok');
    this.rateLimited = scope.counter('rate_limited');
    this.enforced = scope.counter('enforced');
  }
}

const DENOMINATOR_NAMES = { 100: 'HUNDRED', 10_000: 'TEN_THOUSAND', 1_000_000: 'MILLION' } as const;

/** A compiled local_rate_limit config: the bucket state lives here, across requests. */
export class LocalRateLimitFilterConfig {
  readonly statPrefix: string;
  /** The shared limiter; `null` when per connection or when there is no token bucket. */
  readonly limiter: LocalRateLimiter | null;
  /** Limiters by connection id (`localRateLimitPerDownstreamConnection`), else `null`. */
  readonly perConnection: LRUCache<number, LocalRateLimiter> | null;
  /** The limiter options, to make a connection's limiter. */
  readonly limiterConfig: LimiterConfig | null;
  readonly status: number;
  readonly replyHeaders: readonly HeaderOp[];
  /** `enableXRatelimitHeaders: 'DRAFT_VERSION_03'`. */
  readonly xRateLimitHeaders: boolean;
  readonly stats: LocalRateLimitFilterStats;
  /** `<stat_prefix>.http_local_rate_limit.*` in the proxy's stats store; `null` when stats are off. */
  readonly counters: LocalRateLimitCounters | null;
  /** This config's per-request state key (the decision, for the response headers). */
  readonly key: symbol;

  constructor(reader: ConfigReader, o: Record<string, unknown>, env: FilterEnvironment) {
    this.statPrefix = reader.string(o.statPrefix, 'statPrefix', '');
    const status = reader.integer(o.status ?? 429, 'status', 100, 599);
    // Envoy answers 429 for a configured status below 400.
    this.status = status < 400 ? 429 : status;
    const ops: HeaderOp[] = [];
    reader.list(o.responseHeadersToAdd, 'responseHeadersToAdd').forEach((h, i) => {
      const op = compileHeaderValueOption(reader, h, `responseHeadersToAdd[${i}]`);
      if (op !== null) ops.push(op);
    });
    this.replyHeaders = ops;
    const mode = reader.string(o.enableXRatelimitHeaders, 'enableXRatelimitHeaders', 'OFF');
    if (mode !== 'OFF' && mode !== 'DRAFT_VERSION_03') {
      throw reader.error(
        'enableXRatelimitHeaders',
        `must be OFF or DRAFT_VERSION_03, got ${JSON.stringify(mode)}`,
      );
    }
    this.xRateLimitHeaders = mode === 'DRAFT_VERSION_03';
    const perConnection = reader.boolean(
      o.localRateLimitPerDownstreamConnection,
      'localRateLimitPerDownstreamConnection',
      false,
    );
    this.limiterConfig = null;
    this.limiter = null;
    this.perConnection = null;
    // Without a token bucket the filter limits nothing (Envoy: "no rate limiting is applied").
    if (o.tokenBucket !== undefined) {
      const limiterConfig: LimiterConfig = {
        tokenBucket: bucket(reader, o.tokenBucket, 'tokenBucket'),
        descriptors: reader.list(o.descriptors, 'descriptors').map((d, i) => {
          const here = `descriptors[${i}]`;
          const dd = reader.object(d, here);
          return {
            entries: reader.list(dd.entries, `${here}.entries`).map((e, j) => {
              const entry = reader.object(e, `${here}.entries[${j}]`);
              return {
                key: reader.string(entry.key, `${here}.entries[${j}].key`),
                value: reader.string(entry.value, `${here}.entries[${j}].value`),
              };
            }),
            tokenBucket: bucket(reader, dd.tokenBucket, `${here}.tokenBucket`),
          };
        }),
        filterEnabled: runtimePercent(reader, o.filterEnabled, 'filterEnabled'),
        filterEnforced: runtimePercent(reader, o.filterEnforced, 'filterEnforced'),
        enableXRatelimitHeaders: mode,
        clock: { now: () => env.now() },
        random: () => env.random(),
      };
      // Built once here even when per connection: it validates the buckets (ConfigError).
      const first = limiter(reader, limiterConfig);
      this.limiterConfig = limiterConfig;
      if (perConnection) this.perConnection = new LRUCache({ max: MAX_CONNECTION_LIMITERS });
      else this.limiter = first;
    }
    this.stats = { enabled: 0, ok: 0, rateLimited: 0, enforced: 0 };
    // Envoy roots them at `<stat_prefix>.http_local_rate_limit.`, no tag extracted.
    this.counters =
      env.stats === undefined
        ? null
        : new LocalRateLimitCounters(
            env.stats.scope(
              this.statPrefix === '' ? 'http_local_rate_limit' : `${this.statPrefix}.http_local_rate_limit`,
            ),
          );
    this.key = Symbol('local_rate_limit');
  }

  /** The limiter for a request: the shared one, or its connection's. */
  limiterFor(ctx: HttpContext): LocalRateLimiter | null {
    const perConnection = this.perConnection;
    if (perConnection === null) return this.limiter;
    const id = ctx.connection.id;
    let l = perConnection.get(id);
    if (l === undefined) {
      l = createLocalRateLimiter(this.limiterConfig as LimiterConfig);
      perConnection.set(id, l);
    }
    return l;
  }
}

function bucket(reader: ConfigReader, value: unknown, field: string): LimiterConfig['tokenBucket'] {
  const b = reader.object(value, field);
  return {
    maxTokens: reader.integer(b.maxTokens, `${field}.maxTokens`, 1, 2 ** 32 - 1),
    tokensPerFill: reader.integer(b.tokensPerFill ?? 1, `${field}.tokensPerFill`, 1, 2 ** 32 - 1),
    fillInterval: reader.integer(b.fillIntervalMs, `${field}.fillIntervalMs`, 50, 2 ** 48),
  };
}

/** A FractionalPercent in the limiter's form; absent is 0 %, Envoy's default for both shares. */
function runtimePercent(
  reader: ConfigReader,
  value: unknown,
  field: string,
): { defaultValue: RateLimitPercent } {
  if (value === undefined) return { defaultValue: { numerator: 0 } };
  const p: FractionalPercent = reader.percent(value, field);
  return { defaultValue: { numerator: p.numerator, denominator: DENOMINATOR_NAMES[p.denominator] } };
}

function limiter(reader: ConfigReader, config: LimiterConfig): LocalRateLimiter {
  try {
    return createLocalRateLimiter(config);
  } catch (err) {
    if (err instanceof ConfigError) throw reader.error('', err.message, err);
    throw err;
  }
}

function descriptorsOf(ctx: HttpContext): readonly RateLimitDescriptor[] | undefined {
  const d = ctx.state.get(LOCAL_RATE_LIMIT_DESCRIPTORS);
  return Array.isArray(d) ? (d as readonly RateLimitDescriptor[]) : undefined;
}

/**
 * The local rate limit filter (`local_rate_limit`), Envoy's semantics: `filterEnabled` and
 * `filterEnforced` absent mean 0 % (the filter then only counts); a limited, enforced request
 * gets the configured status (429) with `x-envoy-ratelimited: true` and `responseHeadersToAdd`,
 * response flag `RL`. A per-route config replaces the filter's (Istio's usual way to limit one
 * route), with its own buckets.
 *
 * @example
 * ```ts
 * // in an HCM: { name: 'envoy.filters.http.local_ratelimit', config: { type: 'local_rate_limit',
 * //   tokenBucket: { maxTokens: 100, tokensPerFill: 100, fillIntervalMs: 1000 },
 * //   filterEnabled: { numerator: 100, denominator: 100 }, filterEnforced: { numerator: 100, denominator: 100 }, ... } }
 * createProxy({ config, filters: [...builtinHttpFilters] });
 * ```
 */
export const localRateLimitFilter: HttpFilter<LocalRateLimitFilterConfig> = {
  name: 'local_rate_limit',
  configure(config: unknown, env: FilterEnvironment): LocalRateLimitFilterConfig {
    const reader = new ConfigReader(env);
    return new LocalRateLimitFilterConfig(reader, reader.typed(config, 'local_rate_limit'), env);
  },
  onRequest(ctx: HttpContext, c: LocalRateLimitFilterConfig): void {
    const l = c.limiterFor(ctx);
    if (l === null) return;
    const d = l.check(descriptorsOf(ctx));
    if (d.outcome === 'disabled') return;
    const stats = c.stats;
    const counters = c.counters;
    stats.enabled++;
    counters?.enabled.inc();
    if (c.xRateLimitHeaders) ctx.state.set(c.key, d);
    if (d.outcome === 'ok') {
      stats.ok++;
      counters?.ok.inc();
      return;
    }
    stats.rateLimited++;
    counters?.rateLimited.inc();
    if (d.outcome === 'shadow_limited') return;
    stats.enforced++;
    counters?.enforced.inc();
    ctx.info.responseFlags.add('RL');
    ctx.info.responseCodeDetails = LOCAL_RATE_LIMITED_BODY;
    const headers: HeaderMap = { 'x-envoy-ratelimited': 'true' };
    if (c.replyHeaders.length > 0) applyHeaderOps(headers, c.replyHeaders);
    ctx.reply(c.status, LOCAL_RATE_LIMITED_BODY, headers);
  },
  destroy(c: LocalRateLimitFilterConfig): void {
    // The config version is retired: let the per-connection buckets go now.
    c.perConnection?.clear();
  },
  onResponse(ctx: HttpContext, c: LocalRateLimitFilterConfig): void {
    if (!c.xRateLimitHeaders || ctx.response === null) return;
    const d = ctx.state.get(c.key) as LocalRateLimitDecision | undefined;
    if (d === undefined) return;
    const headers = ctx.response.headers;
    headers['x-ratelimit-limit'] = String(d.limit);
    headers['x-ratelimit-remaining'] = String(d.remaining);
    headers['x-ratelimit-reset'] = String(d.resetSeconds);
  },
};
