import { TimerEntry } from '@meshlet/breaker';
import type { RpcFailure, RpcRequestHandle, RpcResponseHandler } from '../types.js';
import type { UpstreamConnection } from './upstream-connection.js';

/**
 * One request in flight on an upstream connection: the handle `send` returns and, as a
 * {@link TimerEntry}, its own timeout on the wheel (no closure, no `setTimeout` per request).
 */
export class PendingRequest extends TimerEntry implements RpcRequestHandle {
  /** The connection carrying it; null once it is answered, failed, timed out or cancelled. */
  connection: UpstreamConnection | null;
  readonly handler: RpcResponseHandler;
  /** The request id the downstream frame had, given back on the response. */
  readonly downstreamId: number;
  /** The id written upstream, unique on the connection while the request is pending. */
  readonly upstreamId: number;
  /** A oneway request waiting for its connection to open (it leaves once the socket connects). */
  readonly oneway: boolean;
  readonly timeoutMs: number;

  constructor(
    connection: UpstreamConnection,
    handler: RpcResponseHandler,
    downstreamId: number,
    upstreamId: number,
    oneway: boolean,
    timeoutMs: number,
  ) {
    super();
    this.connection = connection;
    this.handler = handler;
    this.downstreamId = downstreamId;
    this.upstreamId = upstreamId;
    this.oneway = oneway;
    this.timeoutMs = timeoutMs;
  }

  /** The timeout passed (called by the wheel). */
  override fire(): void {
    this.connection?.timedOut(this);
  }

  /** Forgets the request: no callback; a late response is dropped. */
  cancel(): void {
    this.connection?.forget(this);
  }
}

/** The handle of a request that is not pending (a oneway request written, a failure on its way). */
export const DONE_HANDLE: RpcRequestHandle = Object.freeze({
  cancel(): void {
    // Nothing pending: nothing to forget.
  },
});

/**
 * A failure known at `send` time (overflow, upstreams closed, a frame that cannot be encoded):
 * delivered on the next tick, since a handler is never called from `send`, unless cancelled.
 */
export class DeferredFailure implements RpcRequestHandle {
  #handler: RpcResponseHandler | null;
  readonly #failure: RpcFailure;
  readonly #message: string;
  readonly #onError: (error: unknown, where: string) => void;

  constructor(
    handler: RpcResponseHandler,
    failure: RpcFailure,
    message: string,
    onError: (error: unknown, where: string) => void,
  ) {
    this.#handler = handler;
    this.#failure = failure;
    this.#message = message;
    this.#onError = onError;
    process.nextTick(deliver, this);
  }

  cancel(): void {
    this.#handler = null;
  }

  /** @internal */
  deliver(): void {
    const handler = this.#handler;
    this.#handler = null;
    try {
      handler?.onFailure(this.#failure, this.#message);
    } catch (err) {
      this.#onError(err, 'rpc upstream failure handler');
    }
  }
}

function deliver(failure: DeferredFailure): void {
  failure.deliver();
}
