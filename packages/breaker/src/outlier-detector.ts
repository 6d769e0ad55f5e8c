import { EventEmitter } from 'eventemitter3';
import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import { sharedTimerWheel, TimerEntry } from './timer-wheel.js';
import type { TimerWheel } from './timer-wheel.js';
import { show } from './errors.js';

/** Why a host was ejected (Envoy's `OutlierEjectionType`, kebab-case). */
export type EjectReason =
  | 'consecutive-5xx'
  | 'consecutive-gateway-failure'
  | 'consecutive-local-origin-failure'
  | 'success-rate'
  | 'failure-percentage'
  | 'success-rate-local-origin'
  | 'failure-percentage-local-origin';

/** A local-origin event (Envoy's `Result`): what happened before or instead of a response. */
export type LocalOriginResult = 'connect-failed' | 'timeout' | 'connect-success' | 'connect-success-final';

/**
 * Where ejections go: a load balancer's host health, say. `@meshlet/lb` hosts fit without this
 * package importing lb.
 */
export interface EjectionTarget<H> {
  eject(host: H, reason: EjectReason): void;
  uneject(host: H): void;
}

/**
 * Options of {@link OutlierDetector}: Envoy's `outlier_detection` in camelCase, durations in ms,
 * with Envoy's defaults. Enforcement fields are the % chance that a detected outlier is ejected.
 */
export interface OutlierDetectorOptions<H> {
  /** Time between ejection sweeps. Default 10,000. */
  readonly intervalMs?: number;
  /** Ejection time = base × times ejected (capped). Default 30,000. */
  readonly baseEjectionTimeMs?: number;
  /** Cap of the ejection time (at least `baseEjectionTimeMs`). Default 300,000. */
  readonly maxEjectionTimeMs?: number;
  /** Max % of hosts ejected at once, counting the host about to be ejected. Default 10. */
  readonly maxEjectionPercent?: number;
  /** Up to this many ms, drawn per ejection, added to the ejection time so hosts do not all return at once. Default 0. */
  readonly maxEjectionTimeJitterMs?: number;
  /** Allow one ejection whatever `maxEjectionPercent` says (a cluster of fewer than 10 hosts at 10 %). Default false. */
  readonly alwaysEjectOneHost?: boolean;
  /** Default 5 (0 disables). */
  readonly consecutive5xx?: number;
  /** 502, 503, 504 in a row (local connect failures and timeouts included unless split). Default 5 (0 disables). */
  readonly consecutiveGatewayFailure?: number;
  /** Local-origin failures in a row; only with `splitExternalLocalOriginErrors`. Default 5 (0 disables). */
  readonly consecutiveLocalOriginFailure?: number;
  /** Default 100. */
  readonly enforcingConsecutive5xx?: number;
  /** Default 0. */
  readonly enforcingConsecutiveGatewayFailure?: number;
  /** Default 100. */
  readonly enforcingConsecutiveLocalOriginFailure?: number;
  /** Default 100. */
  readonly enforcingSuccessRate?: number;
  /** Default 100. */
  readonly enforcingLocalOriginSuccessRate?: number;
  /** Hosts with enough volume needed for the success-rate sweep. Default 5. */
  readonly successRateMinimumHosts?: number;
  /** Requests in an interval for a host to count in the success-rate sweep. Default 100. */
  readonly successRateRequestVolume?: number;
  /** Ejection below mean − stdev × factor / 1000. Default 1900 (1.9). */
  readonly successRateStdevFactor?: number;
  /** Failure % at or above which a host is ejected. Default 85. */
  readonly failurePercentageThreshold?: number;
  /** Default 0. */
  readonly enforcingFailurePercentage?: number;
  /** Default 0. */
  readonly enforcingFailurePercentageLocalOrigin?: number;
  /** Hosts in the cluster needed for the failure-percentage sweep. Default 5. */
  readonly failurePercentageMinimumHosts?: number;
  /** Requests in an interval for a host to count in the failure-percentage sweep. Default 50. */
  readonly failurePercentageRequestVolume?: number;
  /** Count local-origin errors apart from responses. Default false (they map to 503/504). */
  readonly splitExternalLocalOriginErrors?: boolean;
  /** Receives ejections. Events `eject` / `uneject` are emitted as well. */
  readonly target?: EjectionTarget<H>;
  /** The interval timer's wheel, and through it the clock. Default the shared wheel. */
  readonly wheel?: TimerWheel;
  /** Uniform in [0, 1), for enforcement percentages. Default `Math.random`. */
  readonly random?: () => number;
}

/** Events of an {@link OutlierDetector}. */
export interface OutlierDetectorEvents<H> {
  eject: (host: H, reason: EjectReason) => void;
  uneject: (host: H) => void;
  /** An outlier was found but not ejected: enforcement said no, or the max ejection % was reached. */
  detected: (host: H, reason: EjectReason, ejected: boolean) => void;
}

/** Counters of an {@link OutlierDetector}, as Envoy's `outlier_detection.*` stats. */
export interface OutlierDetectorStats {
  readonly hosts: number;
  /** Hosts ejected now (`ejections_active`). */
  readonly ejectionsActive: number;
  /** Ejections done (`ejections_enforced_total`). */
  readonly ejectionsEnforcedTotal: number;
  /** Ejections refused by the max ejection % (`ejections_overflow`). */
  readonly ejectionsOverflow: number;
  /** Outliers found, per reason (`ejections_detected_*`). */
  readonly detected: Readonly<Record<EjectReason, number>>;
  /** Ejections done, per reason (`ejections_enforced_*`). */
  readonly enforced: Readonly<Record<EjectReason, number>>;
  /** Sweeps run. */
  readonly intervals: number;
}

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'intervalMs',
  'baseEjectionTimeMs',
  'maxEjectionTimeMs',
  'maxEjectionPercent',
  'maxEjectionTimeJitterMs',
  'alwaysEjectOneHost',
  'consecutive5xx',
  'consecutiveGatewayFailure',
  'consecutiveLocalOriginFailure',
  'enforcingConsecutive5xx',
  'enforcingConsecutiveGatewayFailure',
  'enforcingConsecutiveLocalOriginFailure',
  'enforcingSuccessRate',
  'enforcingLocalOriginSuccessRate',
  'successRateMinimumHosts',
  'successRateRequestVolume',
  'successRateStdevFactor',
  'failurePercentageThreshold',
  'enforcingFailurePercentage',
  'enforcingFailurePercentageLocalOrigin',
  'failurePercentageMinimumHosts',
  'failurePercentageRequestVolume',
  'splitExternalLocalOriginErrors',
  'target',
  'wheel',
  'random',
]);

const REASONS: readonly EjectReason[] = [
  'consecutive-5xx',
  'consecutive-gateway-failure',
  'consecutive-local-origin-failure',
  'success-rate',
  'failure-percentage',
  'success-rate-local-origin',
  'failure-percentage-local-origin',
];

function zeroes(): Record<EjectReason, number> {
  const out = {} as Record<EjectReason, number>;
  for (const r of REASONS) out[r] = 0;
  return out;
}

/**
 * Outcomes of one host, and its ejection state. Report each request's outcome on it; it holds
 * no reference to anything but its detector, and reporting allocates nothing.
 */
export class HostMonitor<H> {
  /** The host as given to `addHost`. */
  readonly host: H;
  readonly #detector: OutlierDetector<H>;
  /** @internal Active interval bucket: external-origin successes and totals. */
  _extSuccess = 0;
  /** @internal */
  _extTotal = 0;
  /** @internal Active bucket, local origin (split mode only). */
  _localSuccess = 0;
  /** @internal */
  _localTotal = 0;
  /** @internal The bucket of the last interval, swapped in by the sweep. */
  _lastExtSuccess = 0;
  /** @internal */
  _lastExtTotal = 0;
  /** @internal */
  _lastLocalSuccess = 0;
  /** @internal */
  _lastLocalTotal = 0;
  /** @internal */
  _consecutive5xx = 0;
  /** @internal */
  _consecutiveGateway = 0;
  /** @internal */
  _consecutiveLocal = 0;
  /** @internal Ejection time multiplier. */
  _multiplier = 0;
  /** @internal Clock time of the current ejection, or -1 when not ejected. */
  _ejectedAt = -1;
  /** @internal Extra ejection time drawn for the current ejection (max ejection time jitter). */
  _jitter = 0;
  /** @internal Set when the host is removed. */
  _removed = false;

  /** @internal Created by {@link OutlierDetector.addHost}. */
  constructor(detector: OutlierDetector<H>, host: H) {
    this.#detector = detector;
    this.host = host;
  }

  /** Whether the host is ejected now. */
  get ejected(): boolean {
    return this._ejectedAt >= 0;
  }

  /** Times ejected in a row (the ejection time multiplier; it decays by one per clean interval). */
  get ejections(): number {
    return this._multiplier;
  }

  /** Records a response status (external origin): 5xx counts as an error, anything else as a success. */
  reportHttpStatus(status: number): void {
    if (this._removed) return;
    this._extTotal++;
    if (status >= 500 && status <= 599) {
      const d = this.#detector;
      if (status === 502 || status === 503 || status === 504) {
        if (++this._consecutiveGateway >= d._consecutiveGatewayFailure && d._consecutiveGatewayFailure > 0) {
          this._consecutiveGateway = 0;
          d._onConsecutive(this, 'consecutive-gateway-failure');
        }
      } else {
        this._consecutiveGateway = 0;
      }
      if (++this._consecutive5xx >= d._consecutive5xx && d._consecutive5xx > 0) {
        this._consecutive5xx = 0;
        d._onConsecutive(this, 'consecutive-5xx');
      }
    } else {
      this._extSuccess++;
      this._consecutive5xx = 0;
      this._consecutiveGateway = 0;
    }
  }

  /**
   * Records a local-origin event. Unless errors are split, a connect failure counts as a 503,
   * a timeout as a 504, a final connect success as a 200, and a connect success not at all (the
   * response will be reported). Split, they feed the local-origin counters only.
   */
  reportLocalOrigin(result: LocalOriginResult): void {
    if (this._removed) return;
    // Checked as a string: callers outside TypeScript may pass anything.
    const r: string = result;
    const d = this.#detector;
    if (!d._split) {
      if (r === 'connect-failed') this.reportHttpStatus(503);
      else if (r === 'timeout') this.reportHttpStatus(504);
      else if (r === 'connect-success-final') this.reportHttpStatus(200);
      else if (r !== 'connect-success') throw badResult(r);
      return;
    }
    if (r === 'connect-failed' || r === 'timeout') {
      this._localTotal++;
      if (
        ++this._consecutiveLocal >= d._consecutiveLocalOriginFailure &&
        d._consecutiveLocalOriginFailure > 0
      ) {
        this._consecutiveLocal = 0;
        d._onConsecutive(this, 'consecutive-local-origin-failure');
      }
    } else if (r === 'connect-success' || r === 'connect-success-final') {
      this._localTotal++;
      this._localSuccess++;
      this._consecutiveLocal = 0;
    } else {
      throw badResult(r);
    }
  }
}

function badResult(result: string): InvalidArgumentError {
  return new InvalidArgumentError(`HostMonitor.reportLocalOrigin: unknown result ${show(result)}`);
}

/** One host's rate in a sweep. */
interface Sample<H> {
  readonly monitor: HostMonitor<H>;
  readonly successPercent: number;
}

/**
 * Envoy's outlier detection: ejects hosts on consecutive 5xx, consecutive gateway failures,
 * consecutive local-origin failures (when split), and on each interval by success rate (mean −
 * stdev × factor) and failure percentage, following gRFC A50's per-interval steps. An ejected
 * host stays out for base × times-ejected, capped by the max ejection time; the multiplier
 * decays by one per interval the host stays in. Ejections go to `target` and to events.
 *
 * @example
 * ```ts
 * const detector = new OutlierDetector<Host>({
 *   consecutive5xx: 5,
 *   target: { eject: (h) => (h.healthy = false), uneject: (h) => (h.healthy = true) },
 * });
 * const monitor = detector.addHost(host); // keep it next to the host
 * monitor.reportHttpStatus(res.statusCode); // per response; O(1), no allocation
 * ```
 */
export class OutlierDetector<H = unknown> extends EventEmitter<OutlierDetectorEvents<H>> {
  /** @internal */
  readonly _consecutive5xx: number;
  /** @internal */
  readonly _consecutiveGatewayFailure: number;
  /** @internal */
  readonly _consecutiveLocalOriginFailure: number;
  /** @internal */
  readonly _split: boolean;
  readonly #intervalMs: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #alwaysEjectOne: boolean;
  readonly #jitterMs: number;
  readonly #maxEjectionPercent: number;
  readonly #enforcing: Readonly<Record<EjectReason, number>>;
  readonly #srMinimumHosts: number;
  readonly #srRequestVolume: number;
  readonly #srStdevFactor: number;
  readonly #fpThreshold: number;
  readonly #fpMinimumHosts: number;
  readonly #fpRequestVolume: number;
  readonly #target: EjectionTarget<H> | undefined;
  readonly #wheel: TimerWheel;
  readonly #random: () => number;
  readonly #timer: TimerEntry;
  readonly #monitors = new Map<H, HostMonitor<H>>();
  #ejected = 0;
  #enforcedTotal = 0;
  #overflow = 0;
  #intervals = 0;
  readonly #detected = zeroes();
  readonly #enforced = zeroes();
  #closed = false;
  #nextSweep: number;

  constructor(options: OutlierDetectorOptions<H> = {}) {
    super();
    if (typeof options !== 'object' || (options as unknown) === null) {
      throw new ConfigError('outlier_detection must be an object');
    }
    const o = options as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!OPTION_NAMES.has(key)) throw new ConfigError(`outlier_detection: unknown option ${key}`);
    }
    const read = (field: string, fallback: number, min: number, max: number): number => {
      const value = o[field] ?? fallback;
      if (!(typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max)) {
        throw new ConfigError(
          `outlier_detection.${field} must be an integer in [${min}, ${max}], got ${show(value)}`,
        );
      }
      return value;
    };
    const U32 = 0xffff_ffff;
    const DAY = 86_400_000 * 365;
    this.#intervalMs = read('intervalMs', 10_000, 1, DAY);
    this.#baseMs = read('baseEjectionTimeMs', 30_000, 0, DAY);
    // Envoy: the default max is 300 s or the base, whichever is larger; a smaller max is an error.
    this.#maxMs = read('maxEjectionTimeMs', Math.max(300_000, this.#baseMs), 0, DAY);
    if (this.#maxMs < this.#baseMs) {
      throw new ConfigError(
        `outlier_detection.maxEjectionTimeMs (${this.#maxMs}) cannot be smaller than baseEjectionTimeMs (${this.#baseMs})`,
      );
    }
    this.#maxEjectionPercent = read('maxEjectionPercent', 10, 0, 100);
    this.#jitterMs = read('maxEjectionTimeJitterMs', 0, 0, DAY);
    this._consecutive5xx = read('consecutive5xx', 5, 0, U32);
    this._consecutiveGatewayFailure = read('consecutiveGatewayFailure', 5, 0, U32);
    this._consecutiveLocalOriginFailure = read('consecutiveLocalOriginFailure', 5, 0, U32);
    this.#enforcing = {
      'consecutive-5xx': read('enforcingConsecutive5xx', 100, 0, 100),
      'consecutive-gateway-failure': read('enforcingConsecutiveGatewayFailure', 0, 0, 100),
      'consecutive-local-origin-failure': read('enforcingConsecutiveLocalOriginFailure', 100, 0, 100),
      'success-rate': read('enforcingSuccessRate', 100, 0, 100),
      'failure-percentage': read('enforcingFailurePercentage', 0, 0, 100),
      'success-rate-local-origin': read('enforcingLocalOriginSuccessRate', 100, 0, 100),
      'failure-percentage-local-origin': read('enforcingFailurePercentageLocalOrigin', 0, 0, 100),
    };
    this.#srMinimumHosts = read('successRateMinimumHosts', 5, 0, U32);
    this.#srRequestVolume = read('successRateRequestVolume', 100, 0, U32);
    this.#srStdevFactor = read('successRateStdevFactor', 1900, 0, U32) / 1000;
    this.#fpThreshold = read('failurePercentageThreshold', 85, 0, 100);
    this.#fpMinimumHosts = read('failurePercentageMinimumHosts', 5, 0, U32);
    this.#fpRequestVolume = read('failurePercentageRequestVolume', 50, 0, U32);
    const always = o.alwaysEjectOneHost ?? false;
    if (typeof always !== 'boolean')
      throw new ConfigError('outlier_detection.alwaysEjectOneHost must be a boolean');
    this.#alwaysEjectOne = always;
    const split = o.splitExternalLocalOriginErrors ?? false;
    if (typeof split !== 'boolean')
      throw new ConfigError('outlier_detection.splitExternalLocalOriginErrors must be a boolean');
    this._split = split;
    const target = options.target;
    if (
      target !== undefined &&
      (typeof target.eject !== 'function' || typeof target.uneject !== 'function')
    ) {
      throw new ConfigError(
        'outlier_detection.target must have eject(host, reason) and uneject(host) methods',
      );
    }
    this.#target = target;
    const random = options.random ?? Math.random;
    if (typeof random !== 'function') throw new ConfigError('outlier_detection.random must be a function');
    this.#random = random;
    this.#wheel = options.wheel ?? sharedTimerWheel();
    // Each sweep is planned from the previous plan, not from when the timer fired, so the
    // wheel's lateness (up to a tick) does not accumulate over the intervals.
    this.#nextSweep = this.#wheel.clock.now() + this.#intervalMs;
    this.#timer = new TimerEntry(() => {
      this.runInterval();
      if (this.#closed) return;
      const now = this.#wheel.clock.now();
      this.#nextSweep = Math.max(this.#nextSweep + this.#intervalMs, now);
      this.#wheel.schedule(this.#timer, this.#nextSweep - now);
    });
    this.#wheel.schedule(this.#timer, this.#intervalMs);
  }

  /** Starts monitoring `host` and returns its monitor (the same one if already added). */
  addHost(host: H): HostMonitor<H> {
    let monitor = this.#monitors.get(host);
    if (!monitor) {
      monitor = new HostMonitor(this, host);
      this.#monitors.set(host, monitor);
    }
    return monitor;
  }

  /** Stops monitoring `host` (no `uneject` call: it is gone). Returns whether it was monitored. */
  removeHost(host: H): boolean {
    const monitor = this.#monitors.get(host);
    if (!monitor) return false;
    if (monitor.ejected) this.#ejected--;
    monitor._removed = true;
    this.#monitors.delete(host);
    return true;
  }

  /** The monitor of `host`, if monitored. */
  monitor(host: H): HostMonitor<H> | undefined {
    return this.#monitors.get(host);
  }

  /** Whether `host` is ejected now. */
  isEjected(host: H): boolean {
    return this.#monitors.get(host)?.ejected ?? false;
  }

  /** Hosts monitored. */
  get size(): number {
    return this.#monitors.size;
  }

  /** Counters, as Envoy's outlier detection stats. */
  stats(): OutlierDetectorStats {
    return {
      hosts: this.#monitors.size,
      ejectionsActive: this.#ejected,
      ejectionsEnforcedTotal: this.#enforcedTotal,
      ejectionsOverflow: this.#overflow,
      detected: { ...this.#detected },
      enforced: { ...this.#enforced },
      intervals: this.#intervals,
    };
  }

  /** Stops the interval timer. Hosts keep their state. */
  close(): void {
    this.#closed = true;
    this.#wheel.cancel(this.#timer);
  }

  /**
   * One sweep, as gRFC A50 orders it: swap every host's counters, run the success-rate and the
   * failure-percentage algorithms (external origin, then local origin when split), then decay
   * the multipliers of hosts in service and un-eject hosts whose time is up. The timer calls it
   * every `intervalMs`; call it yourself to drive a detector by hand.
   */
  runInterval(): void {
    const now = this.#wheel.clock.now();
    this.#intervals++;
    for (const m of this.#monitors.values()) {
      m._lastExtSuccess = m._extSuccess;
      m._lastExtTotal = m._extTotal;
      m._lastLocalSuccess = m._localSuccess;
      m._lastLocalTotal = m._localTotal;
      m._extSuccess = 0;
      m._extTotal = 0;
      m._localSuccess = 0;
      m._localTotal = 0;
    }
    this.#successRate(now, false);
    this.#failurePercentage(now, false);
    if (this._split) {
      this.#successRate(now, true);
      this.#failurePercentage(now, true);
    }
    for (const m of this.#monitors.values()) {
      if (m._ejectedAt < 0) {
        if (m._multiplier > 0) m._multiplier--;
      } else if (now >= m._ejectedAt + Math.min(this.#baseMs * m._multiplier, this.#maxMs) + m._jitter) {
        this.#uneject(m);
      }
    }
  }

  /**
   * Returns `host` to service now, as Envoy does when an active health check passes
   * (`successful_active_health_check_uneject_host`). Returns whether it was ejected.
   */
  unejectHost(host: H): boolean {
    const m = this.#monitors.get(host);
    if (!m?.ejected) return false;
    this.#uneject(m);
    return true;
  }

  #uneject(m: HostMonitor<H>): void {
    m._ejectedAt = -1;
    // Envoy resets the runs, so a host back in service is not ejected again by a few errors.
    m._consecutive5xx = 0;
    m._consecutiveGateway = 0;
    m._consecutiveLocal = 0;
    this.#ejected--;
    this.#target?.uneject(m.host);
    this.emit('uneject', m.host);
  }

  #samples(local: boolean, volume: number): Sample<H>[] {
    const out: Sample<H>[] = [];
    for (const m of this.#monitors.values()) {
      const total = local ? m._lastLocalTotal : m._lastExtTotal;
      if (total === 0 || total < volume) continue;
      const success = local ? m._lastLocalSuccess : m._lastExtSuccess;
      out.push({ monitor: m, successPercent: (100 * success) / total });
    }
    return out;
  }

  #successRate(now: number, local: boolean): void {
    const samples = this.#samples(local, this.#srRequestVolume);
    if (samples.length === 0 || samples.length < this.#srMinimumHosts) return;
    let sum = 0;
    for (const s of samples) sum += s.successPercent;
    const mean = sum / samples.length;
    let squares = 0;
    for (const s of samples) squares += (s.successPercent - mean) ** 2;
    const stdev = Math.sqrt(squares / samples.length);
    const threshold = mean - stdev * this.#srStdevFactor;
    const reason: EjectReason = local ? 'success-rate-local-origin' : 'success-rate';
    for (const s of samples) {
      if (s.successPercent < threshold) this.#detect(s.monitor, reason, now);
    }
  }

  #failurePercentage(now: number, local: boolean): void {
    if (this.#monitors.size < this.#fpMinimumHosts) return;
    const reason: EjectReason = local ? 'failure-percentage-local-origin' : 'failure-percentage';
    for (const s of this.#samples(local, this.#fpRequestVolume)) {
      if (100 - s.successPercent >= this.#fpThreshold) this.#detect(s.monitor, reason, now);
    }
  }

  /** @internal A consecutive-error threshold was reached on `monitor`. */
  _onConsecutive(monitor: HostMonitor<H>, reason: EjectReason): void {
    this.#detect(monitor, reason, this.#wheel.clock.now());
  }

  #detect(monitor: HostMonitor<H>, reason: EjectReason, now: number): void {
    if (monitor.ejected) return;
    this.#detected[reason]++;
    // As Envoy's ejectHost: room under the max first (counting this host), then the enforcement
    // draw. A refusal for room is an overflow whatever the draw would have said.
    const room =
      (100 * (this.#ejected + 1)) / this.#monitors.size <= this.#maxEjectionPercent ||
      (this.#alwaysEjectOne && this.#ejected === 0);
    let ejected = false;
    if (!room) {
      this.#overflow++;
    } else {
      const enforcing = this.#enforcing[reason];
      if (enforcing >= 100 || (enforcing > 0 && Math.floor(this.#random() * 100) < enforcing)) {
        monitor._ejectedAt = now;
        // Envoy draws the jitter in [0, max] per ejection.
        monitor._jitter = this.#jitterMs > 0 ? Math.floor(this.#random() * (this.#jitterMs + 1)) : 0;
        // The multiplier grows while base × multiplier < max + base (Envoy), so it stays bounded
        // and a host that keeps failing is out for the max time.
        const base = this.#baseMs;
        if (base === 0 ? monitor._multiplier === 0 : monitor._multiplier * base < this.#maxMs + base) {
          monitor._multiplier++;
        }
        this.#ejected++;
        this.#enforcedTotal++;
        this.#enforced[reason]++;
        ejected = true;
      }
    }
    this.emit('detected', monitor.host, reason, ejected);
    if (ejected) {
      this.#target?.eject(monitor.host, reason);
      this.emit('eject', monitor.host, reason);
    }
  }
}
