import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { systemClock, systemTimers } from '../clock.js';
import type { Clock, Timers } from '../types.js';
import { checkCount, integerOption, numberOption, objectOption, oneOf } from '../validate.js';
import { FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET } from './scripts.js';

/**
 * The part of a Redis client the limiter uses: `EVALSHA` and `EVAL`, in ioredis's signature. An
 * ioredis `Redis` (or `Cluster`) instance is one as it is; for node-redis, wrap `evalSha` / `eval`.
 */
export interface RedisScriptClient {
  evalsha(sha1: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** The algorithm a Redis limiter runs, each an atomic Lua script. */
export type RedisAlgorithm = 'fixed_window' | 'sliding_window' | 'token_bucket';

/** What to do when Redis fails or is slower than `timeoutMs`: admit (`open`) or refuse (`closed`). */
export type FailureMode = 'open' | 'closed';

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  /** A connected Redis client (ioredis). The limiter never closes it. */
  readonly client: RedisScriptClient;
  /**
   * `fixed_window`: `limit` per window of `windowMs` (aligned on Redis's clock);
   * `sliding_window`: the counter approximation over `windowMs`;
   * `token_bucket`: capacity `limit`, refilled continuously at `limit` per `windowMs`.
   */
  readonly algorithm: RedisAlgorithm;
  /** Requests per window (the bucket's capacity for `token_bucket`). */
  readonly limit: number;
  /** The window length, milliseconds. */
  readonly windowMs: number;
  /** Prefix of every Redis key. Default `meshlet:rl:`. */
  readonly keyPrefix?: string;
  /**
   * Token leasing: each round trip reserves up to `size` tokens for this process, spent locally
   * until used up or `ttlMs` passes (and, for `fixed_window`, never past the window). Bounded
   * over-admission: see the README. Default: no leasing (one round trip per decision).
   */
  readonly lease?: { readonly size: number; readonly ttlMs?: number };
  /** How long to wait for Redis, milliseconds. Default 50. */
  readonly timeoutMs?: number;
  /** Admit (`open`, default) or refuse (`closed`) when Redis fails or times out. */
  readonly failureMode?: FailureMode;
  /** The most keys holding a lease at once (LRU). Default 10,000. */
  readonly maxKeys?: number;
  /** Clock for lease expiry; default `performance.now`. */
  readonly clock?: Clock;
  /** Timers for `timeoutMs`; default the global ones. */
  readonly timers?: Timers;
}

/**
 * - `allowed` / `limited`: the limit decided;
 * - `store_error`: Redis failed or timed out, so the limit could not be checked. Never reported
 *   as `limited`: `allowed` then follows the failure mode.
 */
export type GlobalOutcome = 'allowed' | 'limited' | 'store_error';

/** The decision of a global limiter: a value, never an exception. */
export interface GlobalDecision {
  readonly outcome: GlobalOutcome;
  /** Whether to admit the request (for `store_error`: true when failing open). */
  readonly allowed: boolean;
  readonly limit: number;
  /** Tokens left: in Redis after the round trip, or in this process's lease. */
  readonly remaining: number;
  /** Milliseconds until the limit gives tokens back (0 when unknown). */
  readonly resetAfterMs: number;
  /** Whether a local lease decided it, without a round trip. */
  readonly fromLease: boolean;
  /** For `store_error`: `timeout` or `error`; otherwise null. */
  readonly failure: 'timeout' | 'error' | null;
  /** For `store_error` with `failure: 'error'`: what the client reported. */
  readonly error: unknown;
}

/** Counters of a Redis limiter. */
export interface RedisRateLimiterStats {
  /** Scripts sent to Redis. */
  roundTrips: number;
  /** Decisions made from a lease, without a round trip. */
  leaseHits: number;
  /** Round trips that failed or timed out. */
  storeErrors: number;
}

/** A global rate limit shared by every process that uses the same Redis and key prefix. */
export interface RedisRateLimiter {
  /**
   * Takes `n` tokens (default 1) for `key`. A value when a lease decides; a promise when Redis is
   * asked. Never rejects.
   */
  consume(key: string, n?: number): GlobalDecision | Promise<GlobalDecision>;
  readonly stats: RedisRateLimiterStats;
  /** The most tokens that can be admitted beyond the limit per process (the lease size, or 0). */
  readonly leaseSlack: number;
}

/** A request waiting for its key's refill. */
class Waiter {
  readonly n: number;
  readonly resolve: (decision: GlobalDecision) => void;
  constructor(n: number, resolve: (decision: GlobalDecision) => void) {
    this.n = n;
    this.resolve = resolve;
  }
}

/** This process's tokens for one key, and the requests waiting for the next refill. */
class Lease {
  tokens = 0;
  expiresAt = 0;
  refilling = false;
  waiters: Waiter[] = [];
}

interface Reply {
  readonly granted: number;
  readonly remaining: number;
  readonly resetAfterMs: number;
}

const SCRIPTS: Readonly<Record<RedisAlgorithm, string>> = {
  fixed_window: FIXED_WINDOW,
  sliding_window: SLIDING_WINDOW,
  token_bucket: TOKEN_BUCKET,
};

class RedisLimiter implements RedisRateLimiter {
  readonly stats: RedisRateLimiterStats = { roundTrips: 0, leaseHits: 0, storeErrors: 0 };
  readonly leaseSlack: number;
  readonly #client: RedisScriptClient;
  readonly #script: string;
  readonly #sha: string;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #prefix: string;
  readonly #leaseSize: number;
  readonly #leaseTtlMs: number;
  readonly #fixedWindow: boolean;
  readonly #timeoutMs: number;
  readonly #failOpen: boolean;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #leases: LRUCache<string, Lease> | null;

  constructor(options: RedisRateLimiterOptions) {
    objectOption('createRedisRateLimiter options', options);
    objectOption('client', options.client);
    this.#client = options.client;
    const algorithm = oneOf('algorithm', options.algorithm, [
      'fixed_window',
      'sliding_window',
      'token_bucket',
    ] as const);
    this.#script = SCRIPTS[algorithm];
    this.#sha = createHash('sha1').update(this.#script).digest('hex');
    this.#fixedWindow = algorithm === 'fixed_window';
    this.#limit = integerOption('limit', options.limit, 1);
    this.#windowMs = integerOption('windowMs', options.windowMs, 1);
    this.#prefix = options.keyPrefix ?? 'meshlet:rl:';
    this.#timeoutMs = numberOption('timeoutMs', options.timeoutMs ?? 50, 1);
    this.#failOpen =
      oneOf('failureMode', options.failureMode ?? 'open', ['open', 'closed'] as const) === 'open';
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    if (options.lease === undefined) {
      this.#leaseSize = 1;
      this.#leaseTtlMs = 0;
      this.#leases = null;
    } else {
      objectOption('lease', options.lease);
      this.#leaseSize = integerOption('lease.size', options.lease.size, 1, this.#limit);
      this.#leaseTtlMs = numberOption('lease.ttlMs', options.lease.ttlMs ?? 1000, 1);
      this.#leases = new LRUCache<string, Lease>({
        max: integerOption('maxKeys', options.maxKeys ?? 10_000, 1),
      });
    }
    this.leaseSlack = this.#leases === null ? 0 : this.#leaseSize;
  }

  consume(key: string, n = 1): GlobalDecision | Promise<GlobalDecision> {
    checkCount(n);
    const leases = this.#leases;
    if (leases === null)
      return this.#roundTrip(this.#prefix + key, n, n).then((reply) => this.#decide(reply, n));
    let lease = leases.get(key);
    if (lease === undefined) {
      lease = new Lease();
      leases.set(key, lease);
    }
    if (!lease.refilling && lease.tokens >= n && this.#clock.now() < lease.expiresAt) {
      lease.tokens -= n;
      this.stats.leaseHits++;
      return this.#fromLease(lease);
    }
    // One refill per key at a time: requests arriving meanwhile queue behind it, in order.
    const waiters = lease.waiters;
    const waiting = new Promise<GlobalDecision>((resolve) => {
      waiters.push(new Waiter(n, resolve));
    });
    if (!lease.refilling) this.#refill(key, lease);
    return waiting;
  }

  #fromLease(lease: Lease): GlobalDecision {
    return decision(
      'allowed',
      true,
      this.#limit,
      lease.tokens,
      lease.expiresAt - this.#clock.now(),
      true,
      null,
      null,
    );
  }

  /** Asks Redis for a lease big enough for the first waiter, then serves the waiters from it. */
  #refill(key: string, lease: Lease): void {
    const need = (lease.waiters[0] as Waiter).n;
    lease.refilling = true;
    // What was left is given up: Redis counted it already, so it is never admitted twice.
    lease.tokens = 0;
    void this.#roundTrip(this.#prefix + key, Math.max(need, this.#leaseSize), need).then((reply) => {
      this.#settle(key, lease, reply, need);
    });
  }

  #settle(key: string, lease: Lease, reply: Reply | StoreFailure, need: number): void {
    lease.refilling = false;
    const waiters = lease.waiters;
    const first = waiters[0] as Waiter;
    const outcome = this.#decide(reply, need);
    if (outcome.outcome === 'store_error') {
      // The waiters all waited for this round trip: they share its failure rather than each
      // waiting out a timeout of its own.
      lease.waiters = [];
      for (const w of waiters) w.resolve(outcome);
      return;
    }
    let next = 1;
    if (outcome.outcome === 'limited') {
      first.resolve(outcome);
      // Redis had fewer than the first waiter's tokens; those asking for more are refused too.
      const left = (reply as Reply).remaining;
      const stay: Waiter[] = [];
      for (; next < waiters.length; next++) {
        const w = waiters[next] as Waiter;
        if (w.n > left) w.resolve(outcome);
        else stay.push(w);
      }
      lease.waiters = stay;
    } else {
      const granted = (reply as Reply).granted;
      lease.tokens = granted - need;
      // A fixed window's lease ends with the window it was counted in, so the window's limit holds.
      const reset = (reply as Reply).resetAfterMs;
      lease.expiresAt =
        this.#clock.now() + (this.#fixedWindow ? Math.min(this.#leaseTtlMs, reset) : this.#leaseTtlMs);
      first.resolve(
        decision('allowed', true, this.#limit, outcome.remaining + lease.tokens, reset, false, null, null),
      );
      for (; next < waiters.length; next++) {
        const w = waiters[next] as Waiter;
        if (w.n > lease.tokens) break;
        lease.tokens -= w.n;
        this.stats.leaseHits++;
        w.resolve(this.#fromLease(lease));
      }
      lease.waiters = waiters.slice(next);
    }
    if (lease.waiters.length > 0) this.#refill(key, lease);
  }

  #decide(reply: Reply | StoreFailure, need: number): GlobalDecision {
    if (reply instanceof StoreFailure) {
      this.stats.storeErrors++;
      return decision('store_error', this.#failOpen, this.#limit, 0, 0, false, reply.failure, reply.error);
    }
    if (reply.granted < need) {
      return decision('limited', false, this.#limit, reply.remaining, reply.resetAfterMs, false, null, null);
    }
    return decision('allowed', true, this.#limit, reply.remaining, reply.resetAfterMs, false, null, null);
  }

  #roundTrip(key: string, want: number, need: number): Promise<Reply | StoreFailure> {
    this.stats.roundTrips++;
    return new Promise((resolve) => {
      let settled = false;
      const timer = this.#timers.setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve(new StoreFailure('timeout', null));
      }, this.#timeoutMs);
      const finish = (value: Reply | StoreFailure): void => {
        if (settled) return;
        settled = true;
        this.#timers.clearTimeout(timer);
        resolve(value);
      };
      const args = [want, need, this.#limit, this.#windowMs];
      this.#client
        .evalsha(this.#sha, 1, key, ...args)
        .catch((err: unknown) => {
          // First use on this server (or after SCRIPT FLUSH): EVAL sends the script and caches it.
          if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
            return this.#client.eval(this.#script, 1, key, ...args);
          }
          throw err;
        })
        .then(
          (raw) => {
            finish(parseReply(raw));
          },
          (err: unknown) => {
            finish(new StoreFailure('error', err));
          },
        );
    });
  }
}

class StoreFailure {
  readonly failure: 'timeout' | 'error';
  readonly error: unknown;
  constructor(failure: 'timeout' | 'error', error: unknown) {
    this.failure = failure;
    this.error = error;
  }
}

function parseReply(raw: unknown): Reply | StoreFailure {
  if (Array.isArray(raw) && raw.length === 3) {
    const [granted, remaining, reset] = raw as unknown[];
    if (typeof granted === 'number' && typeof remaining === 'number' && typeof reset === 'number') {
      return { granted, remaining: Math.max(0, remaining), resetAfterMs: Math.max(0, reset) };
    }
  }
  return new StoreFailure(
    'error',
    new TypeError(`unexpected reply from the rate limit script: ${JSON.stringify(raw)}`),
  );
}

function decision(
  outcome: GlobalOutcome,
  allowed: boolean,
  limit: number,
  remaining: number,
  resetAfterMs: number,
  fromLease: boolean,
  failure: 'timeout' | 'error' | null,
  error: unknown,
): GlobalDecision {
  return { outcome, allowed, limit, remaining, resetAfterMs, fromLease, failure, error };
}

/**
 * A global rate limit on Redis: fixed window, sliding window or token bucket, each one atomic Lua
 * script, with optional token leasing (a batch of tokens reserved in one round trip and spent
 * locally), a timeout, and a fail-open / fail-closed policy. A Redis failure is the outcome
 * `store_error`, never `limited`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const limiter = createRedisRateLimiter({
 *   client: new Redis({ enableOfflineQueue: false }),
 *   algorithm: 'sliding_window', limit: 1000, windowMs: 60_000,
 *   lease: { size: 20 }, timeoutMs: 20, failureMode: 'open',
 * });
 * const d = await limiter.consume(`user:${userId}`);
 * if (!d.allowed) reply(429);
 * ```
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  return new RedisLimiter(options);
}
