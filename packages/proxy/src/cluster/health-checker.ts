// Active health checking, as Envoy does it: one checker per host, a check every interval (a
// slower one while the cluster has had no traffic, others around health transitions), a
// timeout per check, thresholds before a host changes state. Timers are entries on the cluster
// manager's TimerWheel, so tests drive them with an injected clock.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { TimerEntry } from '@meshlet/breaker';
import type { TimerWheel } from '@meshlet/breaker';
import type { Host } from '@meshlet/lb';
import { Client } from 'undici';
import type { Dispatcher } from 'undici';
import { originOf, type PoolSettings } from '../upstream/host-pools.js';
import { tlsConnectOptions } from '../upstream/tls.js';
import type { CompiledHealthCheck } from './compile.js';

/** How one check ended. `failure` (network error, timeout) counts toward the unhealthy threshold; `active-failure` (an unexpected HTTP status) makes the host unhealthy at once, as in Envoy. */
export type HealthCheckOutcome = 'success' | 'failure' | 'timeout' | 'active-failure';

/** A health check result, as the cluster's `healthCheck` event reports it. */
export interface HealthCheckEvent {
  readonly outcome: HealthCheckOutcome;
  /** The host's active-health-check verdict after this check. */
  readonly healthy: boolean;
  /** Whether this check changed the verdict (healthy, or degraded). */
  readonly changed: boolean;
  /** The host answered healthy with `x-envoy-degraded` (Envoy's DEGRADED_ACTIVE_HC). */
  readonly degraded: boolean;
  /** The HTTP status, if a response came. */
  readonly status: number | undefined;
}

/** What a checker needs from its cluster. */
export interface HealthCheckOwner {
  readonly name: string;
  /** Envoy's `upstream_cx_total` used: picks the normal interval over the no-traffic one. */
  hasTraffic(): boolean;
  onHealthCheck(host: Host, event: HealthCheckEvent): void;
}

/** What a check did to the verdict: nothing, counted toward a change, or changed it. */
const Transition = { Unchanged: 0, Pending: 1, Changed: 2 } as const;
type Transition = (typeof Transition)[keyof typeof Transition];

class CheckTimeout extends TimerEntry {
  readonly #check: HostCheck;
  constructor(check: HostCheck) {
    super();
    this.#check = check;
  }
  override fire(): void {
    this.#check.timedOut();
  }
}

/** The checker of one host: its timers, counters and connection. */
export class HostCheck extends TimerEntry {
  readonly host: Host;
  port: number;
  /** The active-health-check verdict (Envoy's FAILED_ACTIVE_HC flag, negated). */
  healthy: boolean;
  /** No check has completed yet (Envoy's PENDING_ACTIVE_HC): the first success is enough. */
  pending: boolean;
  /** The last passing check said `x-envoy-degraded`. */
  degraded = false;
  successes = 0;
  failures = 0;
  readonly #checker: HealthChecker;
  readonly #timeout: CheckTimeout;
  /** Incremented per check; a result of an older check is dropped. */
  #generation = 0;
  #running = false;
  #client: Dispatcher | null = null;
  #abort: AbortController | null = null;
  #socket: Socket | null = null;
  #removed = false;

  constructor(checker: HealthChecker, host: Host, port: number, healthy: boolean, pending: boolean) {
    super();
    this.#checker = checker;
    this.host = host;
    this.port = port;
    this.healthy = healthy;
    this.pending = pending;
    this.#timeout = new CheckTimeout(this);
  }

  /** Whether the host is no longer checked. */
  get removed(): boolean {
    return this.#removed;
  }

  /** The interval timer: start a check. */
  override fire(): void {
    this.start();
  }

  start(): void {
    if (this.#removed || this.#running) return;
    this.#running = true;
    const generation = ++this.#generation;
    const checker = this.#checker;
    checker.wheel.schedule(this.#timeout, checker.config.timeoutMs);
    if (checker.config.http !== undefined) this.#http(generation);
    else if (checker.config.grpc !== undefined) this.#grpc(generation);
    else this.#tcp(generation);
  }

  #http(generation: number): void {
    const checker = this.#checker;
    const http = checker.config.http;
    if (http === undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#client ??= checker.createClient(this.host.address, this.port);
    this.#client
      .request({
        method: 'GET',
        path: http.path,
        headers: http.headers,
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      })
      .then(
        async (res) => {
          await res.body.dump().catch(() => undefined);
          const ok = expected(http.expected, res.statusCode);
          const degraded = res.headers['x-envoy-degraded'] !== undefined;
          this.#finish(generation, ok ? 'success' : 'active-failure', res.statusCode, degraded);
        },
        () => {
          this.#finish(generation, 'failure', undefined);
        },
      );
  }

  #grpc(generation: number): void {
    const checker = this.#checker;
    const grpc = checker.config.grpc;
    if (grpc === undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#client ??= checker.createClient(this.host.address, this.port);
    this.#client
      .request({
        method: 'POST',
        path: GRPC_HEALTH_PATH,
        headers: grpc.headers,
        body: grpc.body,
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      })
      .then(
        async (res) => {
          const body = Buffer.from(await res.body.arrayBuffer());
          // grpc-status comes in trailers, or in the headers of a trailers-only response.
          const status = res.trailers['grpc-status'] ?? res.headers['grpc-status'];
          const serving = res.statusCode === 200 && status === '0' && servingStatus(body) === SERVING;
          this.#finish(generation, serving ? 'success' : 'active-failure', res.statusCode);
        },
        () => {
          this.#finish(generation, 'failure', undefined);
        },
      );
  }

  #tcp(generation: number): void {
    const tcp = this.#checker.config.tcp;
    if (tcp === undefined) return;
    const socket = netConnect({ host: this.host.address, port: this.port });
    this.#socket = socket;
    let received: Buffer = Buffer.alloc(0);
    const done = (outcome: HealthCheckOutcome): void => {
      socket.destroy();
      this.#finish(generation, outcome, undefined);
    };
    socket.once('connect', () => {
      if (tcp.send !== null) socket.write(tcp.send);
      if (tcp.receive.length === 0) done('success');
    });
    socket.on('data', (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (containsInOrder(received, tcp.receive)) done('success');
    });
    socket.once('error', () => {
      done('failure');
    });
    socket.once('close', () => {
      done('failure');
    });
  }

  /** The check's timeout fired: drop the connection, count a failure. */
  timedOut(): void {
    const generation = this.#generation;
    this.#closeConnection();
    this.#finish(generation, 'timeout', undefined);
  }

  #closeConnection(): void {
    this.#abort?.abort();
    this.#abort = null;
    this.#socket?.destroy();
    this.#socket = null;
  }

  #finish(
    generation: number,
    outcome: HealthCheckOutcome,
    status: number | undefined,
    degraded = false,
  ): void {
    if (generation !== this.#generation || !this.#running || this.#removed) return;
    this.#running = false;
    this.#abort = null;
    this.#socket = null;
    const checker = this.#checker;
    const config = checker.config;
    checker.wheel.cancel(this.#timeout);
    let transition: Transition = Transition.Unchanged;
    if (outcome === 'success') {
      this.failures = 0;
      this.successes++;
      if (!this.healthy) {
        if (this.pending || this.successes >= config.healthyThreshold) {
          this.healthy = true;
          transition = Transition.Changed;
        } else {
          transition = Transition.Pending;
        }
      }
    } else {
      this.successes = 0;
      this.failures++;
      if (this.healthy) {
        if (outcome === 'active-failure' || this.failures >= config.unhealthyThreshold) {
          this.healthy = false;
          transition = Transition.Changed;
        } else {
          transition = Transition.Pending;
        }
      }
    }
    this.pending = false;
    let degradedChanged = false;
    if (outcome === 'success' && degraded !== this.degraded) {
      this.degraded = degraded;
      degradedChanged = this.healthy;
    }
    checker.owner.onHealthCheck(this.host, {
      outcome,
      healthy: this.healthy,
      changed: transition === Transition.Changed || degradedChanged,
      degraded: this.degraded,
      status,
    });
    if (this.removed) return; // the owner may have removed the host
    checker.wheel.schedule(this, checker.nextInterval(this.healthy, transition));
  }

  /** Stops checking this host and closes its connection. */
  remove(): Promise<void> {
    this.#removed = true;
    this.#generation++;
    const checker = this.#checker;
    checker.wheel.cancel(this);
    checker.wheel.cancel(this.#timeout);
    this.#closeConnection();
    const client = this.#client;
    this.#client = null;
    return client === null ? Promise.resolve() : client.destroy().catch(() => undefined);
  }
}

const GRPC_HEALTH_PATH = '/grpc.health.v1.Health/Check';
/** `HealthCheckResponse.ServingStatus.SERVING`. */
const SERVING = 1;

/**
 * The `status` (field 1, a varint) of a framed `HealthCheckResponse`; 0 (UNKNOWN) when the
 * message is absent, compressed or malformed, so that such a reply fails the check.
 */
export function servingStatus(frame: Buffer): number {
  if (frame.length < 5 || frame[0] !== 0) return 0;
  const end = 5 + frame.readUInt32BE(1);
  if (end > frame.length) return 0;
  let status = 0;
  let i = 5;
  while (i < end) {
    const tag = frame[i++] as number;
    const wire = tag & 7;
    let value = 0;
    if (wire === 0) {
      for (let shift = 0; i < end && shift < 35; shift += 7) {
        const b = frame[i++] as number;
        value |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      if (tag >>> 3 === 1) status = value;
    } else if (wire === 2) {
      let length = 0;
      for (let shift = 0; i < end && shift < 35; shift += 7) {
        const b = frame[i++] as number;
        length |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      i += length;
    } else {
      return 0; // no other wire type in a HealthCheckResponse
    }
  }
  return status;
}

function expected(ranges: readonly number[], status: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (status >= (ranges[i] as number) && status < (ranges[i + 1] as number)) return true;
  }
  return false;
}

/** Whether `data` holds every block of `blocks`, in order (Envoy's TCP health check receive). */
export function containsInOrder(data: Buffer, blocks: readonly Buffer[]): boolean {
  let from = 0;
  for (const block of blocks) {
    const at = data.indexOf(block, from);
    if (at < 0) return false;
    from = at + block.length;
  }
  return true;
}

/** The active health checker of one cluster. */
export class HealthChecker {
  readonly config: CompiledHealthCheck;
  readonly owner: HealthCheckOwner;
  readonly wheel: TimerWheel;
  readonly #random: () => number;
  readonly #pool: PoolSettings;
  readonly #hosts = new Map<Host, HostCheck>();
  #closed = false;

  constructor(
    owner: HealthCheckOwner,
    config: CompiledHealthCheck,
    pool: PoolSettings,
    wheel: TimerWheel,
    random: () => number,
  ) {
    this.owner = owner;
    this.config = config;
    this.#pool = pool;
    this.wheel = wheel;
    this.#random = random;
  }

  /**
   * Starts checking a host, first check now. `carried` is the verdict of the cluster this one
   * replaces, if it checked this host; otherwise the host starts unhealthy until its first check
   * passes, as Envoy's new hosts do (FAILED_ACTIVE_HC | PENDING_ACTIVE_HC).
   */
  add(host: Host, port: number, carried: boolean | undefined): HostCheck {
    const check = new HostCheck(this, host, port, carried ?? false, carried === undefined);
    this.#hosts.set(host, check);
    if (!this.#closed) this.wheel.schedule(check, 0);
    return check;
  }

  /** The checker of `host`. */
  get(host: Host): HostCheck | undefined {
    return this.#hosts.get(host);
  }

  /** Stops checking `host`. */
  remove(host: Host): Promise<void> {
    const check = this.#hosts.get(host);
    if (check === undefined) return Promise.resolve();
    this.#hosts.delete(host);
    return check.remove();
  }

  /**
   * Milliseconds to the next check of a host, as Envoy picks them: the no-traffic interval until
   * the cluster has had traffic; else the edge interval right after a transition, the unhealthy
   * interval while unhealthy, the interval otherwise; plus up to `interval_jitter`.
   */
  nextInterval(healthy: boolean, transition: Transition): number {
    const c = this.config;
    let base: number;
    if (!this.owner.hasTraffic()) base = c.noTrafficIntervalMs;
    else if (transition === Transition.Changed)
      base = healthy ? c.healthyEdgeIntervalMs : c.unhealthyEdgeIntervalMs;
    else base = healthy ? c.intervalMs : c.unhealthyIntervalMs;
    return c.jitterMs > 0 ? base + Math.floor(this.#random() * c.jitterMs) : base;
  }

  /** A dedicated client for one host's HTTP checks (see README: why not the host's pool). */
  createClient(address: string, port: number): Dispatcher {
    const pool = this.#pool;
    const tls = pool.tls;
    const h2 = this.config.http?.http2 === true || this.config.grpc !== undefined;
    return new Client(originOf(address, port, tls !== undefined), {
      pipelining: 1,
      connectTimeout: this.config.timeoutMs,
      keepAliveTimeout: Math.max(this.config.intervalMs * 2, 1_000),
      headersTimeout: 0,
      bodyTimeout: 0,
      allowH2: h2,
      ...(h2 && tls === undefined ? { useH2c: true } : {}),
      ...(tls !== undefined ? { connect: tlsConnectOptions(tls, h2) } : {}),
    });
  }

  /** Stops every check. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const check of this.#hosts.values()) closing.push(check.remove());
    this.#hosts.clear();
    await Promise.all(closing);
  }
}
