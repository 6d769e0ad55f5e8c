import { TimerWheel } from '@meshlet/breaker';
import type { Protocol, RpcFrame } from '@meshlet/codec';
import { ConfigError } from '@meshlet/errors';
import type { Host } from '@meshlet/lb';
import type { UpstreamCluster } from '../../types.js';
import type { RpcRequestHandle, RpcResponseHandler, RpcSendOptions, RpcUpstreams } from '../types.js';
import { HostPool, type PoolOwner } from './host-pool.js';
import { DeferredFailure } from './pending-request.js';
import type { RpcUpstreamsOptions } from './types.js';
import type { ConnectionSettings } from './upstream-connection.js';

function ignoreError(): void {
  // No onError given: the failure already reached the request's handler.
}

type NumericOption = {
  [K in keyof RpcUpstreamsOptions]-?: RpcUpstreamsOptions[K] extends number | undefined ? K : never;
}[keyof RpcUpstreamsOptions];

function setting(options: RpcUpstreamsOptions, name: NumericOption, fallback: number, min: number): number {
  const value: unknown = options[name] ?? fallback;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= min)) {
    throw new ConfigError(
      `createRpcUpstreams: ${name} must be an integer >= ${min}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

function resolve(options: RpcUpstreamsOptions): ConnectionSettings {
  const clock = options.clock ?? options.timers?.clock ?? { now: () => performance.now() };
  const wheel = options.timers ?? new TimerWheel({ tickMs: 10, clock });
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new ConfigError('createRpcUpstreams: onError must be a function');
  }
  return {
    wheel,
    clock,
    onError: options.onError ?? ignoreError,
    connectionsPerHost: setting(options, 'connectionsPerHost', 4, 1),
    maxRequestsPerConnection: setting(options, 'maxRequestsPerConnection', 1024, 1),
    connectTimeoutMs:
      options.connectTimeoutMs === undefined ? undefined : setting(options, 'connectTimeoutMs', 0, 0),
    heartbeatIntervalMs: setting(options, 'heartbeatIntervalMs', 15_000, 0),
    heartbeatTimeoutMs: setting(options, 'heartbeatTimeoutMs', 3_000, 1),
    heartbeatMisses: setting(options, 'heartbeatMisses', 2, 1),
    idleTimeoutMs: setting(options, 'idleTimeoutMs', 60_000, 0),
    maxFrameSize: options.maxFrameSize === undefined ? undefined : setting(options, 'maxFrameSize', 0, 1),
  };
}

/**
 * {@link RpcUpstreams} over pools of multiplexed connections, one pool per cluster, host and
 * protocol. See {@link createRpcUpstreams}.
 */
export class RpcConnectionPools implements RpcUpstreams, PoolOwner {
  readonly #settings: ConnectionSettings;
  /** cluster name → host key (`address:port`) → the host's pools, one per protocol. */
  readonly #pools: Map<string, Map<string, HostPool[]>>;
  #closed: boolean;

  constructor(options: RpcUpstreamsOptions = {}) {
    this.#settings = resolve(options);
    this.#pools = new Map();
    this.#closed = false;
  }

  /** Open or opening upstream connections, all pools together. */
  get connectionCount(): number {
    let count = 0;
    for (const hosts of this.#pools.values()) {
      for (const pools of hosts.values()) for (const pool of pools) count += pool.connections.length;
    }
    return count;
  }

  /** Requests awaiting a response (or a oneway request awaiting its connection), all pools together. */
  get pendingCount(): number {
    let count = 0;
    for (const hosts of this.#pools.values()) {
      for (const pools of hosts.values()) {
        for (const pool of pools) for (const connection of pool.connections) count += connection.pendingCount;
      }
    }
    return count;
  }

  send(
    cluster: UpstreamCluster,
    host: Host,
    protocol: Protocol,
    frame: RpcFrame,
    options: RpcSendOptions,
    handler: RpcResponseHandler,
  ): RpcRequestHandle {
    if (this.#closed) {
      return new DeferredFailure(handler, 'reset', 'the RPC upstreams are closed', this.#settings.onError);
    }
    const pool = this.#poolFor(cluster, host, protocol);
    const connection = pool.acquire();
    if (connection === null) {
      const { connectionsPerHost, maxRequestsPerConnection } = this.#settings;
      const perConnection = protocol.multiplexed ? maxRequestsPerConnection : 1;
      return new DeferredFailure(
        handler,
        'overflow',
        `${host.key}: all ${connectionsPerHost} connections are at ${perConnection} requests in flight or write-blocked`,
        this.#settings.onError,
      );
    }
    return connection.send(frame, options, handler);
  }

  /**
   * Closes the connections to `host` of the cluster named `cluster` that carry nothing, now;
   * the busy ones close as soon as their last request ends (a host left its cluster).
   */
  retire(cluster: string, host: string): void {
    const pools = this.#pools.get(cluster)?.get(host);
    if (pools === undefined) return;
    for (const pool of pools.slice()) pool.retire();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const hosts of Array.from(this.#pools.values())) {
      for (const pools of Array.from(hosts.values())) {
        for (const pool of pools.slice()) {
          for (const connection of pool.connections.slice()) {
            closing.push(connection.whenClosed());
            connection.destroy('reset', 'the RPC upstreams are closing');
          }
        }
      }
    }
    this.#pools.clear();
    await Promise.all(closing);
  }

  /** @internal */
  poolEmptied(pool: HostPool): void {
    const hosts = this.#pools.get(pool.cluster.name);
    const pools = hosts?.get(pool.host.key);
    if (hosts === undefined || pools === undefined) return;
    const at = pools.indexOf(pool);
    if (at === -1) return;
    pools.splice(at, 1);
    if (pools.length === 0) hosts.delete(pool.host.key);
    if (hosts.size === 0) this.#pools.delete(pool.cluster.name);
  }

  #poolFor(cluster: UpstreamCluster, host: Host, protocol: Protocol): HostPool {
    let hosts = this.#pools.get(cluster.name);
    if (hosts === undefined) {
      hosts = new Map();
      this.#pools.set(cluster.name, hosts);
    }
    let pools = hosts.get(host.key);
    if (pools === undefined) {
      pools = [];
      hosts.set(host.key, pools);
    }
    for (const pool of pools) {
      if (pool.protocol === protocol) {
        pool.cluster = cluster;
        pool.host = host;
        return pool;
      }
    }
    const pool = new HostPool(cluster, host, protocol, this.#settings, this);
    pools.push(pool);
    return pool;
  }
}

/**
 * Creates the upstream half of the RPC proxy: multiplexed connections per cluster, host and
 * protocol, request ids rewritten and mapped back, per-request timeouts, oneway requests, a bound
 * on requests in flight per connection, heartbeats on idle connections, and every pending request
 * failed at once when its connection dies.
 *
 * @example
 * ```ts
 * const upstreams = createRpcUpstreams({ timers: wheel, heartbeatIntervalMs: 15_000 });
 * upstreams.send(cluster, host, bolt, frame, { timeoutMs: 3000, oneway: false }, {
 *   onResponse(response) { downstream.write(response.raw ?? Buffer.concat(codec.encode(response))); },
 *   onFailure(failure, message) { reply(bolt.errorReply(frame, failure === 'timeout' ? 'timeout' : 'unavailable', message)); },
 * });
 * await upstreams.close();
 * ```
 * @throws ConfigError when an option is out of range.
 */
export function createRpcUpstreams(options?: RpcUpstreamsOptions): RpcConnectionPools {
  return new RpcConnectionPools(options);
}
