import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'eventemitter3';
import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import { BreakerOpenError, BreakerTimeoutError, show } from './errors.js';
import { CountWindow, FAILED, SLOW, TimeWindow } from './sliding-window.js';
import type { OutcomeWindow } from './sliding-window.js';
import { sharedTimerWheel, TimerEntry } from './timer-wheel.js';
import type { TimerWheel } from './timer-wheel.js';

/** The state of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Why a call was refused: see {@link Rejection}. */
export type RejectReason = 'open' | 'forced-open' | 'half-open-busy';

/** Why a breaker opened, as given to the `open` event. */
export type OpenReason =
  'consecutive-failures' | 'failure-rate' | 'slow-call-rate' | 'half-open-failure' | 'forced';

/** How an error counts: as a failure, not at all, or as a success. */
export type ErrorClass = 'failure' | 'ignore' | 'success';

/** The rolling window the failure and slow-call rates are computed over. */
export type BreakerWindow =
  | { readonly kind: 'count'; readonly size: number }
  | { readonly kind: 'time'; readonly durationMs: number; readonly buckets: number };

/** Options of {@link CircuitBreaker}; all validated once, at construction. */
export interface CircuitBreakerOptions {
  /** A name for error messages. Default `'breaker'`. */
  readonly name?: string;
  /** Trip after this many failures in a row (closed state). Default 5; 0 disables. */
  readonly consecutiveFailures?: number;
  /** Trip when failures are at least this % of the calls in the window. Default 50; 0 disables. */
  readonly failureRateThreshold?: number;
  /** Trip when slow calls are at least this % of the calls in the window. Default 0 (disabled). */
  readonly slowCallRateThreshold?: number;
  /** A call taking longer than this many ms is slow. Default 60,000. */
  readonly slowCallDurationMs?: number;
  /** Window of the rates. Default `{ kind: 'count', size: 100 }`. */
  readonly window?: BreakerWindow;
  /** The rates are not evaluated before the window holds this many calls (at most a count window's size). Default 20. */
  readonly minimumCalls?: number;
  /** Time spent open before the first trial call, ms. Default 30,000. */
  readonly openDurationMs?: number;
  /** Each consecutive opening (no close in between) multiplies the open time by this. Default 1. */
  readonly openDurationMultiplier?: number;
  /** Cap of the open time with a multiplier, ms. Default 300,000. */
  readonly maxOpenDurationMs?: number;
  /** Trial calls admitted in one half-open period. Default 1. */
  readonly halfOpenMaxCalls?: number;
  /** Successful trials that close the breaker. Default `halfOpenMaxCalls`. */
  readonly halfOpenSuccessThreshold?: number;
  /** `execute()` fails a call still running after this many ms (a failure). Default 0: none. */
  readonly timeoutMs?: number;
  /** Classifies an error passed to `permit.failure(error)` or thrown in `execute()`. Default: all are failures. */
  readonly classifyError?: (error: unknown) => ErrorClass;
  /** The timer wheel (and through it the clock). Default the process-wide shared wheel. */
  readonly wheel?: TimerWheel;
}

/** Options of one {@link CircuitBreaker.execute} call. */
export interface ExecuteOptions {
  /** Aborting it aborts the call; the outcome is then not counted (the caller gave up, not the dependency). */
  readonly signal?: AbortSignal;
}

/** Payload of the `open` event. */
export interface OpenEvent {
  readonly reason: OpenReason;
  /** How long the breaker stays open before a trial call; `Infinity` when forced. */
  readonly durationMs: number;
}

/** Events of a {@link CircuitBreaker} (eventemitter3). */
export interface CircuitBreakerEvents {
  open: (event: OpenEvent) => void;
  halfOpen: () => void;
  close: () => void;
  reject: (reason: RejectReason) => void;
  /** `durationMs` is measured only when timing is on (slow calls, a time window or `timeoutMs`). */
  success: (durationMs: number | undefined) => void;
  failure: (error: unknown, durationMs: number | undefined) => void;
}

/** A refused call, as returned by {@link CircuitBreaker.tryAcquire}: one frozen value per reason. */
export interface Rejection {
  readonly rejected: true;
  readonly reason: RejectReason;
}

/** The state of a breaker as plain data, for {@link CircuitBreaker.restore} (JSON-safe). */
export interface CircuitBreakerSnapshot {
  readonly version: 1;
  readonly state: BreakerState;
  readonly forced: 'open' | 'closed' | null;
  /** Time left before the first trial call, ms (0 unless open and not forced). */
  readonly openRemainingMs: number;
  /** Openings since the last close (drives `openDurationMultiplier`). */
  readonly openings: number;
  readonly consecutiveFailures: number;
  readonly halfOpenSuccesses: number;
  /** The window: outcome codes oldest first (bit 0 failed, bit 1 slow), or time buckets `[calls, failures, slow]` oldest first. */
  readonly window: readonly number[] | readonly (readonly [number, number, number])[];
}

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'name',
  'consecutiveFailures',
  'failureRateThreshold',
  'slowCallRateThreshold',
  'slowCallDurationMs',
  'window',
  'minimumCalls',
  'openDurationMs',
  'openDurationMultiplier',
  'maxOpenDurationMs',
  'halfOpenMaxCalls',
  'halfOpenSuccessThreshold',
  'timeoutMs',
  'classifyError',
  'wheel',
]);

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const STATE_NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open'];

/** `diagnostics_channel` `meshlet:breaker:state-change`: `{ breaker, name, from, to }` (docs/diagnostics.md). */
const stateChange = channel('meshlet:breaker:state-change');

const NOT_FORCED = 0;
const FORCED_OPEN = 1;
const FORCED_CLOSED = 2;

const SUCCESS = 0;
const FAILURE = 1;
const IGNORE = 2;

const REJECTED_OPEN: Rejection = Object.freeze({ rejected: true, reason: 'open' });
const REJECTED_FORCED: Rejection = Object.freeze({ rejected: true, reason: 'forced-open' });
const REJECTED_BUSY: Rejection = Object.freeze({ rejected: true, reason: 'half-open-busy' });

function classifyAll(): ErrorClass {
  return 'failure';
}

/**
 * The right to make one call through a breaker, from {@link CircuitBreaker.tryAcquire}. Report
 * exactly one outcome: `success()`, `failure(error?)` or `release()` (no outcome: the caller
 * gave up). Later reports are ignored, and so are outcomes of permits taken before the breaker
 * last changed state.
 */
export class Permit {
  /** Always `false`: tells a permit from a {@link Rejection}. */
  readonly rejected = false as const;
  readonly #breaker: CircuitBreaker;
  /** @internal The breaker's epoch when the permit was taken. */
  readonly _epoch: number;
  /** @internal Clock reading when taken, when the breaker times calls. */
  readonly _startedAt: number;
  #settled = false;

  /** @internal Created by the breaker only. */
  constructor(breaker: CircuitBreaker, epoch: number, startedAt: number) {
    this.#breaker = breaker;
    this._epoch = epoch;
    this._startedAt = startedAt;
  }

  /** Whether an outcome was reported already. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Records a successful call. */
  success(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#breaker._success(this);
  }

  /** Records a failed call; `error` goes through the breaker's `classifyError`. */
  failure(error?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#breaker._record(this, FAILURE, error);
  }

  /** Gives the permit back with no outcome (a half-open trial slot is freed). */
  release(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#breaker._record(this, IGNORE, undefined);
  }
}

/**
 * A circuit breaker: closed (calls flow), open (calls are refused), half-open (a few trial calls
 * decide between closing and reopening).
 *
 * It trips on consecutive failures, on the failure rate or the slow-call rate over a rolling
 * window (count or time based, with a minimum number of calls). Open time may grow with each
 * consecutive opening. Every breaker of a process shares one timer wheel, so 10,000 breakers
 * cost one timer, and the hot path (`tryAcquire` → `permit.success()`) allocates one small
 * object and reads no clock unless timing is on.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ consecutiveFailures: 5, openDurationMs: 10_000 });
 * breaker.on('open', ({ reason }) => console.warn('orders breaker open:', reason));
 * const order = await breaker.execute((signal) => fetch(url, { signal }).then((r) => r.json()));
 *
 * // Hot path, no closures: a permit or a rejection value.
 * const permit = breaker.tryAcquire();
 * if (permit.rejected) return reply503(permit.reason);
 * send(request).then(() => permit.success(), (err) => permit.failure(err));
 * ```
 */
export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  /** The name given in the options. */
  readonly name: string;
  readonly #wheel: TimerWheel;
  readonly #timer: TimerEntry;
  readonly #window: OutcomeWindow | null;
  readonly #consecutiveThreshold: number;
  readonly #failureRate: number;
  readonly #slowRate: number;
  readonly #slowMs: number;
  readonly #minimumCalls: number;
  readonly #openMs: number;
  readonly #openMultiplier: number;
  readonly #maxOpenMs: number;
  readonly #halfOpenMax: number;
  readonly #halfOpenSuccessesNeeded: number;
  readonly #timeoutMs: number;
  readonly #classify: (error: unknown) => ErrorClass;
  /** Whether calls are timed (a clock read at acquire and at outcome). */
  readonly #timed: boolean;

  #state = CLOSED;
  #forced = NOT_FORCED;
  /** Bumped on every state change; outcomes of permits from an older epoch are not counted. */
  #epoch = 0;
  #consecutiveFailures = 0;
  #openUntil = 0;
  #openings = 0;
  #halfOpenAdmitted = 0;
  #halfOpenSuccesses = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    if (typeof options !== 'object' || (options as unknown) === null)
      throw new ConfigError('CircuitBreaker: options must be an object');
    const name = options.name ?? 'breaker';
    const where = `CircuitBreaker ${JSON.stringify(name)}`;
    for (const key of Object.keys(options)) {
      if (!OPTION_NAMES.has(key)) throw new ConfigError(`${where}: unknown option ${key}`);
    }
    const int = (field: keyof CircuitBreakerOptions, fallback: number, min: number): number => {
      const value = options[field] ?? fallback;
      if (!(Number.isSafeInteger(value) && (value as number) >= min)) {
        throw new ConfigError(`${where}: ${field} must be an integer >= ${min}, got ${show(value)}`);
      }
      return value as number;
    };
    const num = (
      field: keyof CircuitBreakerOptions,
      fallback: number,
      min: number,
      max = Infinity,
    ): number => {
      const value = options[field] ?? fallback;
      if (!(typeof value === 'number' && value >= min && value <= max && !Number.isNaN(value))) {
        throw new ConfigError(`${where}: ${field} must be a number in [${min}, ${max}], got ${show(value)}`);
      }
      return value;
    };
    this.name = name;
    this.#consecutiveThreshold = int('consecutiveFailures', 5, 0);
    this.#failureRate = num('failureRateThreshold', 50, 0, 100);
    this.#slowRate = num('slowCallRateThreshold', 0, 0, 100);
    this.#slowMs = num('slowCallDurationMs', 60_000, 0);
    let minimumCalls = int('minimumCalls', 20, 1);
    this.#openMs = num('openDurationMs', 30_000, 0);
    this.#openMultiplier = num('openDurationMultiplier', 1, 1);
    this.#maxOpenMs = num('maxOpenDurationMs', Math.max(300_000, this.#openMs), this.#openMs);
    this.#halfOpenMax = int('halfOpenMaxCalls', 1, 1);
    this.#halfOpenSuccessesNeeded = int('halfOpenSuccessThreshold', this.#halfOpenMax, 1);
    if (this.#halfOpenSuccessesNeeded > this.#halfOpenMax) {
      throw new ConfigError(
        `${where}: halfOpenSuccessThreshold (${this.#halfOpenSuccessesNeeded}) cannot exceed halfOpenMaxCalls (${this.#halfOpenMax})`,
      );
    }
    this.#timeoutMs = num('timeoutMs', 0, 0);
    const classify = options.classifyError ?? classifyAll;
    if (typeof classify !== 'function') throw new ConfigError(`${where}: classifyError must be a function`);
    this.#classify = classify;

    const rates = this.#failureRate > 0 || this.#slowRate > 0;
    const window = options.window ?? { kind: 'count', size: 100 };
    if (typeof window !== 'object' || (window as unknown) === null) {
      throw new ConfigError(`${where}: window must be an object`);
    }
    let timeWindow = false;
    if (window.kind === 'count') {
      if (!(Number.isSafeInteger(window.size) && window.size >= 1 && window.size <= 1_000_000)) {
        throw new ConfigError(
          `${where}: window.size must be an integer in [1, 1000000], got ${String(window.size)}`,
        );
      }
      this.#window = rates ? new CountWindow(window.size) : null;
      // A window of n calls can never hold more: the minimum is at most the window.
      minimumCalls = Math.min(minimumCalls, window.size);
    } else if ((window as { kind: unknown }).kind === 'time') {
      if (!(Number.isSafeInteger(window.buckets) && window.buckets >= 1 && window.buckets <= 10_000)) {
        throw new ConfigError(
          `${where}: window.buckets must be an integer in [1, 10000], got ${String(window.buckets)}`,
        );
      }
      if (!(
        typeof window.durationMs === 'number' &&
        window.durationMs > 0 &&
        Number.isFinite(window.durationMs)
      )) {
        throw new ConfigError(
          `${where}: window.durationMs must be a positive number, got ${String(window.durationMs)}`,
        );
      }
      this.#window = rates ? new TimeWindow(window.durationMs, window.buckets) : null;
      timeWindow = rates;
    } else {
      throw new ConfigError(`${where}: window.kind must be 'count' or 'time'`);
    }
    this.#minimumCalls = minimumCalls;
    this.#timed = this.#slowRate > 0 || timeWindow;
    this.#wheel = options.wheel ?? sharedTimerWheel();
    this.#timer = new TimerEntry(() => {
      this.#checkOpenElapsed();
    });
  }

  /** The current state; an elapsed open period turns into half-open when read. */
  get state(): BreakerState {
    if (this.#state === OPEN) this.#checkOpenElapsed();
    return STATE_NAMES[this.#state] as BreakerState;
  }

  /** `'open'` or `'closed'` while forced by {@link forceOpen} / {@link forceClose}, else `null`. */
  get forced(): 'open' | 'closed' | null {
    return this.#forced === FORCED_OPEN ? 'open' : this.#forced === FORCED_CLOSED ? 'closed' : null;
  }

  /** Failures in a row counted in the closed state. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Calls, failures and slow calls in the window now (zeros when no rate is configured). */
  get windowCounts(): { readonly calls: number; readonly failures: number; readonly slow: number } {
    const w = this.#window;
    if (w instanceof TimeWindow) w.roll(this.#wheel.clock.now());
    return { calls: w?.calls ?? 0, failures: w?.failures ?? 0, slow: w?.slow ?? 0 };
  }

  /**
   * Asks to make one call: a {@link Permit} to report the outcome on, or a frozen
   * {@link Rejection} (`rejected: true`, `reason`). No closure, no promise, no exception.
   */
  tryAcquire(): Permit | Rejection {
    if (this.#state === CLOSED) {
      return new Permit(this, this.#epoch, this.#timed ? this.#wheel.clock.now() : 0);
    }
    return this.#acquireSlow();
  }

  #acquireSlow(): Permit | Rejection {
    if (this.#state === OPEN) {
      if (this.#forced === FORCED_OPEN) return this.#reject(REJECTED_FORCED);
      if (!this.#checkOpenElapsed()) return this.#reject(REJECTED_OPEN);
    }
    if (this.#halfOpenAdmitted >= this.#halfOpenMax) return this.#reject(REJECTED_BUSY);
    this.#halfOpenAdmitted++;
    return new Permit(this, this.#epoch, this.#timed ? this.#wheel.clock.now() : 0);
  }

  #reject(rejection: Rejection): Rejection {
    this.emit('reject', rejection.reason);
    return rejection;
  }

  /**
   * Runs `fn` through the breaker. Refused calls reject with {@link BreakerOpenError} without
   * calling `fn`; with `timeoutMs`, a call still running then rejects with
   * {@link BreakerTimeoutError} and its signal is aborted. `fn` gets a signal to pass on, which
   * aborts on timeout or when the caller's `signal` does (then `execute()` rejects at once, and
   * the call is not counted); it is `undefined` when there is neither.
   */
  execute<T>(
    fn: (signal: AbortSignal | undefined) => T | PromiseLike<T>,
    options?: ExecuteOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(new InvalidArgumentError('CircuitBreaker.execute: fn must be a function'));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const permit = this.tryAcquire();
    if (permit.rejected) {
      return Promise.reject(
        new BreakerOpenError(
          permit.reason,
          `CircuitBreaker ${JSON.stringify(this.name)} refused the call: ${permit.reason}`,
        ),
      );
    }
    if (this.#timeoutMs > 0 || signal !== undefined) {
      return new Promise<T>((resolve, reject) => {
        new GuardedCall<T>(this.#wheel, this.#timeoutMs, this.name, permit, fn, signal, resolve, reject);
      });
    }
    let result: T | PromiseLike<T>;
    try {
      result = fn(signal);
    } catch (error) {
      settleError(permit, error, signal);
      // fn's own error, passed on as thrown (not always an Error: that is fn's choice).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      permit.success();
      return Promise.resolve(result);
    }
    return Promise.resolve(result).then(
      (value) => {
        permit.success();
        return value;
      },
      (error: unknown) => {
        settleError(permit, error, signal);
        throw error;
      },
    );
  }

  /** Holds the breaker open (refusing every call, no trial calls) until {@link reset}. */
  forceOpen(): void {
    this.#checkOpenElapsed();
    this.#wheel.cancel(this.#timer);
    this.#forced = FORCED_OPEN;
    this.#enter(OPEN);
    this.emit('open', { reason: 'forced', durationMs: Infinity });
  }

  /** Holds the breaker closed (admitting every call, never tripping) until {@link reset}. */
  forceClose(): void {
    this.#checkOpenElapsed();
    const was = this.#state;
    this.#wheel.cancel(this.#timer);
    this.#forced = FORCED_CLOSED;
    this.#close(was);
  }

  /** Back to a normal closed breaker with empty counters, ending any forced state. */
  reset(): void {
    this.#checkOpenElapsed();
    const was = this.#state;
    this.#wheel.cancel(this.#timer);
    this.#forced = NOT_FORCED;
    this.#close(was);
  }

  /** The breaker's state as plain data (JSON-safe), for {@link restore} here or in another process. */
  snapshot(): CircuitBreakerSnapshot {
    const state = this.state; // settles an elapsed open period first
    const now = this.#wheel.clock.now();
    const w = this.#window;
    return {
      version: 1,
      state,
      forced: this.forced,
      openRemainingMs:
        this.#state === OPEN && this.#forced === NOT_FORCED ? Math.max(0, this.#openUntil - now) : 0,
      openings: this.#openings,
      consecutiveFailures: this.#consecutiveFailures,
      halfOpenSuccesses: this.#halfOpenSuccesses,
      window: w instanceof CountWindow ? w.outcomes() : w instanceof TimeWindow ? w.snapshot(now) : [],
    };
  }

  /**
   * Loads a {@link snapshot}. Permits taken before no longer count; no event is emitted. Throws
   * {@link InvalidArgumentError} for data that is not a snapshot this breaker's options can hold.
   */
  restore(snapshot: CircuitBreakerSnapshot): void {
    const bad = (what: string): never => {
      throw new InvalidArgumentError(`CircuitBreaker.restore: ${what}`);
    };
    if (typeof snapshot !== 'object' || (snapshot as { version?: unknown }).version !== 1)
      bad('not a version 1 snapshot');
    const state = STATE_NAMES.indexOf(snapshot.state);
    if (state < 0) bad(`unknown state ${show(snapshot.state)}`);
    const forcedValue: unknown = snapshot.forced;
    const forced =
      forcedValue === null
        ? NOT_FORCED
        : forcedValue === 'open'
          ? FORCED_OPEN
          : forcedValue === 'closed'
            ? FORCED_CLOSED
            : -1;
    if (forced < 0) bad(`unknown forced value ${String(snapshot.forced)}`);
    if ((forced === FORCED_OPEN && state !== OPEN) || (forced === FORCED_CLOSED && state !== CLOSED))
      bad('forced does not match state');
    const count = (value: unknown, what: string): number =>
      Number.isSafeInteger(value) && (value as number) >= 0
        ? (value as number)
        : bad(`${what} must be a non-negative integer`);
    const remaining = snapshot.openRemainingMs;
    if (!(typeof remaining === 'number' && remaining >= 0 && Number.isFinite(remaining)))
      bad('openRemainingMs must be a non-negative number');
    const openings = count(snapshot.openings, 'openings');
    const consecutive = count(snapshot.consecutiveFailures, 'consecutiveFailures');
    const successes = count(snapshot.halfOpenSuccesses, 'halfOpenSuccesses');
    if (!Array.isArray(snapshot.window)) bad('window must be an array');
    const w = this.#window;
    const now = this.#wheel.clock.now();
    if (w instanceof CountWindow) {
      const outcomes = snapshot.window as readonly unknown[];
      if (outcomes.length > w.size || !outcomes.every((c) => c === 0 || c === 1 || c === 2 || c === 3)) {
        bad(`window must hold at most ${w.size} outcome codes in 0..3`);
      }
      w.reset();
      for (const code of outcomes as readonly number[]) w.add(code, now);
    } else if (w instanceof TimeWindow) {
      const buckets = snapshot.window as readonly unknown[];
      const valid = buckets.every(
        (b) =>
          Array.isArray(b) && b.length === 3 && b.every((n) => Number.isSafeInteger(n) && (n as number) >= 0),
      );
      if (!valid) bad('window must hold [calls, failures, slow] buckets');
      w.restore(buckets as readonly [number, number, number][], now);
    }
    this.#wheel.cancel(this.#timer);
    this.#epoch++;
    this.#state = state;
    this.#forced = forced;
    this.#openings = openings;
    this.#consecutiveFailures = consecutive;
    // Settled successes keep their trial slots; trials in flight are lost with the old process.
    this.#halfOpenSuccesses =
      state === HALF_OPEN ? Math.min(successes, this.#halfOpenSuccessesNeeded - 1) : 0;
    this.#halfOpenAdmitted = this.#halfOpenSuccesses;
    this.#openUntil = now + remaining;
    if (state === OPEN && forced === NOT_FORCED) this.#wheel.schedule(this.#timer, remaining);
  }

  /**
   * @internal A success reported by a {@link Permit}: the closed, untimed case written out (the
   * hot path), the rest handed to `_record`. Same effects as `_record(permit, SUCCESS)`.
   */
  _success(permit: Permit): void {
    if (this.#timed || this.#state !== CLOSED) {
      this._record(permit, SUCCESS, undefined);
      return;
    }
    this.emit('success', undefined);
    // A listener may have changed the state: then, as in `_record`, the outcome is not counted.
    if (permit._epoch !== this.#epoch || this.#forced === FORCED_CLOSED) return;
    this.#consecutiveFailures = 0;
    const w = this.#window;
    if (w === null) return;
    w.add(0, 0);
    if (w.calls < this.#minimumCalls) return;
    // A success lowers neither rate, but the window may just have reached minimumCalls.
    if (this.#failureRate > 0 && w.failures * 100 >= this.#failureRate * w.calls) this.#trip('failure-rate');
    else if (this.#slowRate > 0 && w.slow * 100 >= this.#slowRate * w.calls) this.#trip('slow-call-rate');
  }

  /** @internal Called by a {@link Permit} with its outcome. */
  _record(permit: Permit, outcome: number, error: unknown): void {
    if (this.#state === OPEN) this.#checkOpenElapsed();
    const timed = this.#timed;
    // One clock read per outcome, only when timing is on (a read costs more than the rest).
    const now = timed ? this.#wheel.clock.now() : 0;
    const durationMs = timed ? now - permit._startedAt : undefined;
    if (outcome === FAILURE) {
      // A timeout is always a failure: the classifier judges the dependency's errors.
      const kind = error instanceof BreakerTimeoutError ? 'failure' : this.#classify(error);
      outcome = kind === 'failure' ? FAILURE : kind === 'ignore' ? IGNORE : SUCCESS;
      if (outcome === FAILURE) this.emit('failure', error, durationMs);
    }
    if (outcome === SUCCESS) this.emit('success', durationMs);
    if (permit._epoch !== this.#epoch) return;
    if (this.#state === CLOSED) {
      if (outcome === IGNORE || this.#forced === FORCED_CLOSED) return;
      let code = 0;
      if (outcome === FAILURE) {
        code = FAILED;
        this.#consecutiveFailures++;
      } else {
        this.#consecutiveFailures = 0;
      }
      if (timed && this.#slowRate > 0 && (durationMs as number) > this.#slowMs) code |= SLOW;
      const w = this.#window;
      if (w !== null) w.add(code, now);
      if (this.#consecutiveThreshold > 0 && this.#consecutiveFailures >= this.#consecutiveThreshold) {
        this.#trip('consecutive-failures');
      } else if (w !== null && w.calls >= this.#minimumCalls) {
        if (this.#failureRate > 0 && w.failures * 100 >= this.#failureRate * w.calls)
          this.#trip('failure-rate');
        else if (this.#slowRate > 0 && w.slow * 100 >= this.#slowRate * w.calls) this.#trip('slow-call-rate');
      }
      return;
    }
    if (this.#state === HALF_OPEN) {
      if (outcome === IGNORE) {
        this.#halfOpenAdmitted--;
        return;
      }
      const slow = timed && this.#slowRate > 0 && (durationMs as number) > this.#slowMs;
      if (outcome === FAILURE || slow) this.#trip('half-open-failure');
      else if (++this.#halfOpenSuccesses >= this.#halfOpenSuccessesNeeded) this.#close(HALF_OPEN);
    }
    // OPEN: the permit was taken in this epoch only if restored mid-call; nothing to count.
  }

  #trip(reason: OpenReason): void {
    this.#openings++;
    const growth = this.#openMultiplier ** (this.#openings - 1);
    const durationMs = Math.min(this.#openMs * growth, this.#maxOpenMs);
    this.#enter(OPEN);
    this.#openUntil = this.#wheel.clock.now() + durationMs;
    this.#wheel.schedule(this.#timer, durationMs);
    this.emit('open', { reason, durationMs });
  }

  #close(was: number): void {
    this.#openings = 0;
    this.#consecutiveFailures = 0;
    this.#window?.reset();
    this.#enter(CLOSED);
    if (was !== CLOSED) this.emit('close');
  }

  /** Whether the open period is over; turns the breaker half-open if so. */
  #checkOpenElapsed(): boolean {
    if (this.#state !== OPEN || this.#forced !== NOT_FORCED) return false;
    if (this.#wheel.clock.now() < this.#openUntil) return false;
    this.#wheel.cancel(this.#timer);
    this.#enter(HALF_OPEN);
    this.emit('halfOpen');
    return true;
  }

  #enter(state: number): void {
    if (stateChange.hasSubscribers && state !== this.#state)
      stateChange.publish({
        breaker: this,
        name: this.name,
        from: STATE_NAMES[this.#state],
        to: STATE_NAMES[state],
      });
    this.#state = state;
    this.#epoch++;
    this.#halfOpenAdmitted = 0;
    this.#halfOpenSuccesses = 0;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A failed call counts unless the caller's own signal aborted it. */
function settleError(permit: Permit, error: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted) permit.release();
  else permit.failure(error);
}

/**
 * One `execute()` call with a deadline on the breaker's wheel and/or a caller's signal. The entry
 * is the call's timer, and it is the abort listener on the caller's signal (`handleEvent`), so no
 * closure is made for either.
 */
class GuardedCall<T> extends TimerEntry {
  readonly #permit: Permit;
  readonly #wheel: TimerWheel;
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal | undefined;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  #done = false;

  constructor(
    wheel: TimerWheel,
    timeoutMs: number,
    name: string,
    permit: Permit,
    fn: (signal: AbortSignal | undefined) => T | PromiseLike<T>,
    signal: AbortSignal | undefined,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ) {
    super();
    this.#wheel = wheel;
    this.#timeoutMs = timeoutMs;
    this.#name = name;
    this.#permit = permit;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener('abort', this);
    if (timeoutMs > 0) wheel.schedule(this, timeoutMs);
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.#controller.signal);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then(
        (value) => {
          this.#succeed(value);
        },
        (error: unknown) => {
          this.#fail(error);
        },
      );
    } else {
      this.#succeed(result);
    }
  }

  /**
   * The caller's signal aborted: pass it on and give the caller control back now, even if `fn`
   * ignores its signal. The call is not counted: the caller gave up, not the dependency.
   */
  handleEvent(): void {
    if (this.#done) return;
    const reason: unknown = this.#signal?.reason;
    this.#finish();
    this.#controller.abort(reason);
    this.#permit.release();
    this.#reject(reason);
  }

  /** The deadline passed. */
  override fire(): void {
    if (this.#done) return;
    const error = new BreakerTimeoutError(
      `CircuitBreaker ${JSON.stringify(this.#name)}: call timed out after ${this.#timeoutMs} ms`,
    );
    this.#finish();
    this.#controller.abort(error);
    this.#permit.failure(error);
    this.#reject(error);
  }

  #succeed(value: T): void {
    if (this.#done) return;
    this.#finish();
    this.#permit.success();
    this.#resolve(value);
  }

  #fail(error: unknown): void {
    if (this.#done) return;
    this.#finish();
    settleError(this.#permit, error, this.#signal);
    this.#reject(error);
  }

  #finish(): void {
    this.#done = true;
    this.#wheel.cancel(this);
    this.#signal?.removeEventListener('abort', this);
  }
}
