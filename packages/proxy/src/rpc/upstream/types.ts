import type { Clock, TimerWheel } from '@meshlet/breaker';

/**
 * Options of {@link createRpcUpstreams}. Every setting applies per (cluster, host, protocol): the
 * connections to one host speaking one protocol are a pool.
 */
export interface RpcUpstreamsOptions {
  /**
   * The timer wheel behind request timeouts, connect timeouts, heartbeats and idle closes (coarse
   * deadlines, one underlying timer). Default: a wheel of its own with 10 ms ticks on `clock`.
   */
  readonly timers?: TimerWheel;
  /** Time source for read idleness (heartbeats). Default: the wheel's clock. */
  readonly clock?: Clock;
  /**
   * Told what went wrong where no handler can be: a malformed frame from an upstream (the
   * connection is closed, its requests fail with `reset`), a response handler that threw.
   */
  readonly onError?: (error: unknown, where: string) => void;
  /**
   * Connections a pool opens at most. A new one is opened only when every open one is at
   * `maxRequestsPerConnection` (or write-blocked); past that a request fails with `overflow`
   * (nothing queues without bound). Default 4; ping-pong protocols (`multiplexed: false`)
   * carry one request per connection, so for them this is the pool's in-flight bound.
   */
  readonly connectionsPerHost?: number;
  /**
   * Requests in flight on one multiplexed connection at most (requests waiting for a connection
   * being opened count too: they queue on it, so the wait is bounded). Default 1024.
   */
  readonly maxRequestsPerConnection?: number;
  /** Milliseconds to establish a connection; 0 = none. Default: the cluster's `connectTimeoutMs`. */
  readonly connectTimeoutMs?: number;
  /**
   * A connection from which nothing was read for this long gets a heartbeat (the protocol's
   * `heartbeat()`; a protocol without one gets none), as MOSN's keepalive. 0 = none. Default 15000.
   */
  readonly heartbeatIntervalMs?: number;
  /** Milliseconds a heartbeat waits for its reply before it counts as missed. Default 3000. */
  readonly heartbeatTimeoutMs?: number;
  /**
   * Consecutive heartbeats missed before the connection is declared dead (destroyed, its requests
   * fail with `reset`); after a miss the next heartbeat goes out at once. Default 2.
   */
  readonly heartbeatMisses?: number;
  /**
   * A connection with nothing in flight for this long is closed. This is also how connections to
   * a host removed from its cluster go away: no request picks it any more. 0 = never. Default 60000.
   */
  readonly idleTimeoutMs?: number;
  /** Largest response frame accepted, bytes. Default: the protocol's `maxFrameSize`. */
  readonly maxFrameSize?: number;
}
