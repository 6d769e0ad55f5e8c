// The contract between the RPC proxy's two halves:
// - downstream (`src/rpc/`): frames from a client connection become streams through the filter
//   chain and the RPC router, which picks a cluster and host, and retries;
// - upstream (`src/rpc/upstream/`): multiplexed connections per host that carry those requests,
//   rewrite request ids and map responses back, time requests out, send heartbeats and fail every
//   pending request when a connection dies.
import type { Protocol, RpcFrame } from '@meshlet/codec';
import type { Host } from '@meshlet/lb';
import type { UpstreamCluster } from '../types.js';

/** Why an upstream RPC got no response. */
export type RpcFailure =
  /** No connection to the host could be made (refused, connect timeout). */
  | 'connect-failed'
  /** The connection died with the request in flight (closed, reset, heartbeats unanswered). */
  | 'reset'
  /** No response within the request's timeout. */
  | 'timeout'
  /** The host's connections are at their in-flight bound and no more may be opened. */
  | 'overflow';

/** Receives the outcome of one upstream RPC: exactly one call, never synchronously from `send`. */
export interface RpcResponseHandler {
  /** The upstream's response, its request id already set back to the downstream one. */
  onResponse(response: RpcFrame): void;
  /** No response will come. */
  onFailure(failure: RpcFailure, message: string): void;
}

/** A request in flight upstream. */
export interface RpcRequestHandle {
  /** The downstream went away: forget the request (a late response is dropped), no callback. */
  cancel(): void;
}

/** Options of one upstream RPC. */
export interface RpcSendOptions {
  /** Milliseconds before `onFailure('timeout')`; 0 = none. */
  readonly timeoutMs: number;
  /** A oneway request: no response is expected; the handler gets nothing once it is written. */
  readonly oneway: boolean;
  /**
   * The frame's headers changed since it was decoded (a filter set one): encode it whole
   * (`codec.encode`) rather than patching the id into the received bytes. Default false.
   */
  readonly reencode?: boolean;
}

/**
 * Upstream connections for RPC, shared by every RPC proxy of a proxy and kept across config
 * versions (a host removed from its cluster gets its connections closed once idle).
 */
export interface RpcUpstreams {
  /**
   * Sends a request (or oneway request) frame to `host` of `cluster` over a multiplexed
   * connection of `protocol` (a ping-pong protocol gets a connection per request in flight),
   * writing the frame's bytes with a fresh request id (the frame's own id is restored before the
   * handler sees the response). Records the cluster's `stats` (connections; requests are the
   * caller's) and never throws: failures go to the handler.
   */
  send(
    cluster: UpstreamCluster,
    host: Host,
    protocol: Protocol,
    frame: RpcFrame,
    options: RpcSendOptions,
    handler: RpcResponseHandler,
  ): RpcRequestHandle;
  /** Closes every connection; pending requests fail with `reset`. */
  close(): Promise<void>;
}
