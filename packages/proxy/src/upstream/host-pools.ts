// The kept-alive undici dispatchers of one upstream host: one per protocol, made on first use,
// closed (after their requests finish) when the host leaves its cluster or the cluster goes.
import { isIPv6 } from 'node:net';
import type { ResourceCounter } from '@meshlet/breaker';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { UpstreamProtocol } from '../types.js';
import { type UpstreamTlsOptions, tlsConnectOptions } from './tls.js';

/** How a cluster's pools are built, compiled once per cluster config. */
export interface PoolSettings {
  /** TLS to the hosts, or undefined for cleartext (then HTTP/2 is h2c with prior knowledge). */
  readonly tls: UpstreamTlsOptions | undefined;
  /** Envoy's `auto_sni`: the request's host is the SNI (undici's own behaviour). */
  readonly autoSni: boolean;
  /** `connect_timeout`; 0 disables. */
  readonly connectTimeoutMs: number;
  /** Idle time before a kept-alive connection is closed (`common_http_protocol_options.idle_timeout`). */
  readonly keepAliveTimeoutMs: number;
  /** Connections per host pool: the cluster's `max_connections` (see README: per host, not per cluster). */
  readonly maxConnections: number;
  /** `max_requests_per_connection`; undefined: unlimited. */
  readonly maxRequestsPerConnection: number | undefined;
  /** HTTP/2 streams per connection (`http2_protocol_options.max_concurrent_streams`, default 100). */
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number | undefined;
  readonly initialConnectionWindowSize: number | undefined;
}

/** Where a host's pools report their connections (the cluster's upstream stats). */
export interface PoolConnectionEvents {
  /** A connection is open. */
  connected(): void;
  /** An open connection closed. */
  disconnected(): void;
  /** A connection could not be made. */
  connectFailed(): void;
}

/** The origin undici connects to for a host: `http://10.0.0.1:80`, `https://[::1]:443`. */
export function originOf(address: string, port: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/** Builds the dispatcher of one host for one protocol. */
export function createHostDispatcher(
  address: string,
  port: number,
  protocol: UpstreamProtocol,
  settings: PoolSettings,
  connections: ResourceCounter | null,
  events: PoolConnectionEvents | null = null,
): Dispatcher {
  const tls = settings.tls;
  const h2 = protocol === 'http2';
  const options: Pool.Options = {
    connections: settings.maxConnections,
    // HTTP/1.1: one request per connection at a time (no pipelining: a slow response would hold
    // back the ones behind it). HTTP/2: as many streams as the connection allows.
    pipelining: h2 ? settings.maxConcurrentStreams : 1,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(settings.keepAliveTimeoutMs, 1),
    connectTimeout: settings.connectTimeoutMs,
    // Request deadlines belong to the route (timeout, per-try timeout), not to the pool.
    headersTimeout: 0,
    bodyTimeout: 0,
    allowH2: h2,
    ...(h2 && tls === undefined ? { useH2c: true } : {}),
    ...(settings.maxRequestsPerConnection !== undefined
      ? { maxRequestsPerClient: settings.maxRequestsPerConnection }
      : {}),
  };
  if (h2) {
    options.h2Options = {
      maxConcurrentStreams: settings.maxConcurrentStreams,
      ...(settings.initialConnectionWindowSize !== undefined
        ? { connectionWindowSize: settings.initialConnectionWindowSize }
        : {}),
      ...(settings.initialStreamWindowSize !== undefined
        ? { settings: { initialWindowSize: settings.initialStreamWindowSize } }
        : {}),
    };
  }
  if (tls !== undefined) {
    options.connect = tlsConnectOptions(tls, h2);
  }
  const pool = new Pool(originOf(address, port, tls !== undefined), options);
  if (connections !== null) countConnections(pool, connections);
  if (events !== null) reportConnections(pool, events);
  // A fixed SNI (auto_sni off) must win over the name undici takes from each request's host.
  const sni = tls?.servername;
  if (sni === undefined || settings.autoSni) return pool;
  // undici takes `servername` per request (its types omit it).
  return pool.compose((dispatch) => (opts, handler) => {
    const o = opts as Dispatcher.DispatchOptions & { servername?: string };
    return dispatch(
      o.servername === sni ? o : ({ ...o, servername: sni } as Dispatcher.DispatchOptions),
      handler,
    );
  });
}

/**
 * Keeps the cluster's `connections` counter equal to the connections open to its hosts, so
 * `remaining_cx` and `cx_open` mean what Envoy's do. A connection opened over the limit is
 * counted as an overflow and not held.
 */
function countConnections(pool: Pool, counter: ResourceCounter): void {
  let held = 0;
  pool.on('connect', () => {
    if (counter.tryAcquire()) held++;
  });
  pool.on('disconnect', () => {
    if (held > 0) {
      held--;
      counter.release();
    }
  });
}

/** Tells `events` about the pool's connections, as undici reports them. */
function reportConnections(pool: Pool, events: PoolConnectionEvents): void {
  pool.on('connect', () => {
    events.connected();
  });
  pool.on('disconnect', () => {
    events.disconnected();
  });
  pool.on('connectionError', () => {
    events.connectFailed();
  });
}

/** The dispatchers of one host, made on first use. */
export class HostPools {
  readonly address: string;
  readonly port: number;
  #http1: Dispatcher | null = null;
  #http2: Dispatcher | null = null;
  readonly #settings: PoolSettings;
  readonly #connections: ResourceCounter | null;
  readonly #events: PoolConnectionEvents | null;
  #closed = false;

  constructor(
    address: string,
    port: number,
    settings: PoolSettings,
    connections: ResourceCounter | null,
    events: PoolConnectionEvents | null = null,
  ) {
    this.address = address;
    this.port = port;
    this.#settings = settings;
    this.#connections = connections;
    this.#events = events;
  }

  /** Whether a dispatcher was ever made (the cluster has had traffic). */
  get used(): boolean {
    return this.#http1 !== null || this.#http2 !== null;
  }

  /** The dispatcher for `protocol`, made now if it is the first request of that protocol. */
  get(protocol: UpstreamProtocol): Dispatcher {
    if (protocol === 'http2') {
      return (this.#http2 ??= createHostDispatcher(
        this.address,
        this.port,
        'http2',
        this.#settings,
        this.#connections,
        this.#events,
      ));
    }
    return (this.#http1 ??= createHostDispatcher(
      this.address,
      this.port,
      'http1',
      this.#settings,
      this.#connections,
      this.#events,
    ));
  }

  /** The dispatcher of `protocol` if it was made, else null (for tests and stats). */
  peek(protocol: UpstreamProtocol): Dispatcher | null {
    return protocol === 'http2' ? this.#http2 : this.#http1;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the dispatchers: requests in flight and queued finish first (undici's `close()`). */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    if (this.#http1 !== null) closing.push(this.#http1.close());
    if (this.#http2 !== null) closing.push(this.#http2.close());
    await Promise.all(closing);
  }

  /** Destroys the dispatchers now, failing what is in flight. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    if (this.#http1 !== null) closing.push(this.#http1.destroy());
    if (this.#http2 !== null) closing.push(this.#http2.destroy());
    await Promise.all(closing);
  }
}
