import { connect, type Socket } from 'node:net';
import { TimerEntry, type Clock, type TimerWheel } from '@meshlet/breaker';
import { ByteQueue, WriteBatch } from '@meshlet/buffer';
import type { Codec, Protocol, RpcFrame } from '@meshlet/codec';
import { flushScheduler } from '../flush-scheduler.js';
import type { RpcFailure, RpcRequestHandle, RpcResponseHandler, RpcSendOptions } from '../types.js';
import { DeferredFailure, DONE_HANDLE, PendingRequest } from './pending-request.js';
import { RequestIds } from './request-ids.js';
import type { HostPool } from './host-pool.js';

/** The resolved options every connection of an `RpcUpstreams` shares. */
export interface ConnectionSettings {
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly onError: (error: unknown, where: string) => void;
  readonly connectionsPerHost: number;
  readonly maxRequestsPerConnection: number;
  /** undefined: the cluster's. */
  readonly connectTimeoutMs: number | undefined;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly heartbeatMisses: number;
  readonly idleTimeoutMs: number;
  readonly maxFrameSize: number | undefined;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/**
 * One upstream connection of a {@link HostPool}: requests are written with fresh ids and kept in
 * a map by id until their response, timeout, cancellation or the connection's death.
 *
 * ```
 *  send ──> ids.next ──> codec.withRequestId ──> WriteBatch (one writev per turn) ──> socket
 *             │
 *             └─> pending: Map<upstream id, PendingRequest> ──(response id)──> handler, id restored
 *  wheel: each PendingRequest's timeout; connect timeout; heartbeat check + its reply timeout; idle close
 * ```
 */
export class UpstreamConnection {
  readonly pool: HostPool;
  readonly socket: Socket;
  readonly #protocol: Protocol;
  readonly #codec: Codec;
  readonly #multiplexed: boolean;
  readonly #queue: ByteQueue;
  readonly #batch: WriteBatch;
  readonly #pending: Map<number, PendingRequest>;
  readonly #ids: RequestIds;
  readonly #settings: ConnectionSettings;
  readonly #wheel: TimerWheel;
  readonly #limit: number;
  #state: number;
  #writeBlocked: boolean;
  #lastReadAt: number;
  /** Id of the heartbeat awaiting its reply, -1 when none. */
  #heartbeatId: number;
  #heartbeatSentAt: number;
  #misses: number;
  #error: Error | null;
  readonly #connectTimer: TimerEntry;
  readonly #heartbeatTimer: TimerEntry;
  readonly #heartbeatTimeout: TimerEntry;
  readonly #idleTimer: TimerEntry;
  readonly #onDrained: () => void;
  readonly #onDrainFailed: () => void;

  constructor(pool: HostPool, settings: ConnectionSettings) {
    this.pool = pool;
    this.#settings = settings;
    this.#wheel = settings.wheel;
    const protocol = pool.protocol;
    this.#protocol = protocol;
    this.#codec =
      settings.maxFrameSize === undefined
        ? protocol.createCodec()
        : protocol.createCodec({ maxFrameSize: settings.maxFrameSize });
    this.#multiplexed = protocol.multiplexed;
    this.#limit = protocol.multiplexed ? settings.maxRequestsPerConnection : 1;
    this.#queue = new ByteQueue();
    this.#pending = new Map();
    this.#ids = new RequestIds();
    this.#state = CONNECTING;
    this.#writeBlocked = false;
    this.#lastReadAt = settings.clock.now();
    this.#heartbeatId = -1;
    this.#heartbeatSentAt = 0;
    this.#misses = 0;
    this.#error = null;
    // One closure per connection and timer, none per request.
    this.#connectTimer = new TimerEntry(() => {
      this.#onConnectTimeout();
    });
    this.#heartbeatTimer = new TimerEntry(() => {
      this.#onHeartbeatTimer();
    });
    this.#heartbeatTimeout = new TimerEntry(() => {
      this.#onHeartbeatTimeout();
    });
    this.#idleTimer = new TimerEntry(() => {
      this.#onIdle();
    });
    this.#onDrained = () => {
      this.#writeBlocked = false;
    };
    this.#onDrainFailed = () => {
      // The stream closed while blocked: its 'close' event fails what is pending.
    };

    const host = pool.host;
    const socket = connect({ host: host.address, port: host.port, noDelay: true });
    this.socket = socket;
    // Flushed by the shared scheduler once per event-loop turn (flush-scheduler.ts).
    this.#batch = new WriteBatch(socket, { autoFlush: false });
    socket.on('connect', () => {
      this.#onConnect();
    });
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
    });
    socket.on('error', (error: Error) => {
      this.#error = error;
    });
    socket.on('close', () => {
      this.#onClose();
    });
    const connectTimeoutMs = settings.connectTimeoutMs ?? pool.cluster.config.connectTimeoutMs;
    if (connectTimeoutMs > 0) this.#wheel.schedule(this.#connectTimer, connectTimeoutMs);
  }

  /** Whether it takes another request: not closed, not write-blocked, below its in-flight bound. */
  get available(): boolean {
    if (this.#state === CLOSED || this.#writeBlocked) return false;
    // A ping-pong connection probing with a heartbeat is busy until the reply.
    const inFlight = this.#pending.size + (this.#multiplexed || this.#heartbeatId === -1 ? 0 : 1);
    return inFlight < this.#limit;
  }

  /** Requests pending on it (oneway requests waiting for the connection to open included). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  get closed(): boolean {
    return this.#state === CLOSED;
  }

  /** Writes `frame` with a fresh id; the caller checked `available`. */
  send(frame: RpcFrame, options: RpcSendOptions, handler: RpcResponseHandler): RpcRequestHandle {
    const downstreamId = frame.requestId;
    const id = this.#ids.next(this.#pending, this.#heartbeatId);
    let parts: Buffer[];
    try {
      if (options.reencode === true) {
        frame.requestId = id;
        parts = this.#codec.encode(frame);
      } else parts = this.#codec.withRequestId(frame, id);
    } catch (err) {
      frame.requestId = downstreamId;
      this.#settings.onError(err, 'rpc upstream encode');
      return new DeferredFailure(
        handler,
        'reset',
        `the request could not be encoded: ${(err as Error).message}`,
        this.#settings.onError,
      );
    }
    // The caller keeps its frame as it was (an error reply built from it needs the downstream
    // id); only the bytes on their way upstream carry the upstream id.
    frame.requestId = downstreamId;
    const oneway = options.oneway;
    if (oneway && this.#state === OPEN) {
      this.#write(parts);
      return DONE_HANDLE;
    }
    const request = new PendingRequest(this, handler, downstreamId, id, oneway, options.timeoutMs);
    if (this.#pending.size === 0) this.#wheel.cancel(this.#idleTimer);
    this.#pending.set(id, request);
    this.#write(parts);
    if (!oneway && options.timeoutMs > 0) this.#wheel.schedule(request, options.timeoutMs);
    return request;
  }

  /** A request's timeout fired: it fails with `timeout`; a late response will be dropped. */
  timedOut(request: PendingRequest): void {
    if (!this.#retire(request)) return;
    // On a ping-pong connection the late response would be taken for the next request's: the
    // connection goes first, so a retry sent from the handler gets a fresh one.
    if (!this.#multiplexed) this.destroy('reset', 'request timed out on a ping-pong connection');
    this.#deliverFailure(request, 'timeout', `no response within ${request.timeoutMs} ms`);
  }

  /** The caller no longer wants the outcome. */
  forget(request: PendingRequest): void {
    if (!this.#retire(request)) return;
    if (!this.#multiplexed && !request.oneway) {
      this.destroy('reset', 'request cancelled on a ping-pong connection');
    }
  }

  /** Closes the connection; every pending request fails with `failure` at once. */
  destroy(failure: RpcFailure, message: string): void {
    if (this.#state === CLOSED) return;
    const wasOpen = this.#state === OPEN;
    this.#state = CLOSED;
    const wheel = this.#wheel;
    wheel.cancel(this.#connectTimer);
    wheel.cancel(this.#heartbeatTimer);
    wheel.cancel(this.#heartbeatTimeout);
    wheel.cancel(this.#idleTimer);
    this.socket.destroy();
    this.pool.removed(this);
    const stats = this.pool.cluster.stats;
    if (wasOpen) stats.connectionClosed(this.pool.host);
    else stats.connectionFailed(this.pool.host);
    const pending = this.#pending;
    if (pending.size === 0) return;
    const requests = Array.from(pending.values());
    pending.clear();
    for (const request of requests) {
      wheel.cancel(request);
      request.connection = null;
      this.#deliverFailure(request, failure, message);
    }
  }

  /** Resolves once the socket has closed. */
  whenClosed(): Promise<void> {
    const socket = this.socket;
    if (socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
  }

  #retire(request: PendingRequest): boolean {
    if (request.connection !== this) return false;
    request.connection = null;
    this.#wheel.cancel(request);
    this.#pending.delete(request.upstreamId);
    if (this.#pending.size === 0) this.#becameIdle();
    return true;
  }

  #deliverFailure(request: PendingRequest, failure: RpcFailure, message: string): void {
    try {
      request.handler.onFailure(failure, message);
    } catch (err) {
      this.#settings.onError(err, 'rpc upstream failure handler');
    }
  }

  #write(parts: Buffer[]): void {
    const batch = this.#batch;
    const queuedBefore = batch.pendingCount;
    let ok = true;
    for (const part of parts) ok = batch.write(part) && ok;
    flushScheduler.schedule(batch, queuedBefore);
    if (!ok && !this.#writeBlocked && this.#state !== CLOSED) {
      // Over the socket's high-water mark: no new requests here until it drains (the pool opens
      // another connection or answers `overflow`); what is already assigned is still written.
      this.#writeBlocked = true;
      batch.drained().then(this.#onDrained, this.#onDrainFailed);
    }
  }

  #onConnect(): void {
    if (this.#state !== CONNECTING) return;
    this.#state = OPEN;
    const wheel = this.#wheel;
    wheel.cancel(this.#connectTimer);
    this.pool.cluster.stats.connectionOpened(this.pool.host);
    this.#lastReadAt = this.#settings.clock.now();
    // Oneway requests written while connecting are done now: nothing more will be said of them.
    for (const request of this.#pending.values()) {
      if (request.oneway) {
        this.#pending.delete(request.upstreamId);
        request.connection = null;
      }
    }
    const interval = this.#settings.heartbeatIntervalMs;
    if (interval > 0 && this.#protocol.heartbeat !== undefined) {
      wheel.schedule(this.#heartbeatTimer, interval);
    }
    if (this.#pending.size === 0) this.#becameIdle();
  }

  #onConnectTimeout(): void {
    if (this.#state !== CONNECTING) return;
    const key = this.pool.host.key;
    const ms = this.#settings.connectTimeoutMs ?? this.pool.cluster.config.connectTimeoutMs;
    this.destroy('connect-failed', `connecting to ${key} timed out after ${ms} ms`);
  }

  #onClose(): void {
    if (this.#state === CLOSED) return;
    const key = this.pool.host.key;
    const error = this.#error;
    if (this.#state === CONNECTING) {
      this.destroy('connect-failed', `cannot connect to ${key}${error === null ? '' : `: ${error.message}`}`);
    } else {
      this.destroy(
        'reset',
        error === null
          ? `upstream ${key} closed the connection`
          : `connection to ${key} failed: ${error.message}`,
      );
    }
  }

  #onData(chunk: Buffer): void {
    this.#lastReadAt = this.#settings.clock.now();
    const queue = this.#queue;
    queue.push(chunk);
    const codec = this.#codec;
    while (this.#state !== CLOSED) {
      let frame: RpcFrame | null;
      try {
        frame = codec.decode(queue);
      } catch (err) {
        // A stream that cannot be framed cannot be resynchronized: the connection is lost.
        this.#settings.onError(err, 'rpc upstream decode');
        this.destroy('reset', `malformed frame from ${this.pool.host.key}: ${(err as Error).message}`);
        return;
      }
      if (frame === null) return;
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: RpcFrame): void {
    const kind = frame.kind;
    if (kind === 'heartbeat') {
      // The upstream probes us: answer as its clients do.
      this.#write(this.#codec.encode(this.#protocol.heartbeatReply(frame)));
      return;
    }
    if (kind === 'request' || kind === 'oneway') return; // not ours to serve on this connection
    const heartbeatId = this.#heartbeatId;
    if (heartbeatId !== -1 && (!this.#multiplexed || frame.requestId === heartbeatId)) {
      this.#heartbeatAnswered();
      return;
    }
    if (kind === 'heartbeat-reply') return; // a late one
    let request: PendingRequest | undefined;
    if (this.#multiplexed) {
      request = this.#pending.get(frame.requestId);
    } else {
      // A ping-pong response answers the one request in flight, whatever id it carries.
      for (const only of this.#pending.values()) request = only;
    }
    if (request === undefined || request.oneway) return; // timed out or cancelled: dropped
    this.#retire(request);
    const id = request.downstreamId;
    frame.requestId = id;
    // Keep the received bytes consistent with the id, so they can be forwarded unchanged.
    const raw = frame.raw;
    const definition = this.#protocol.definition;
    if (raw !== null && definition.patchRequestId !== undefined) definition.patchRequestId(raw, id);
    try {
      request.handler.onResponse(frame);
    } catch (err) {
      this.#settings.onError(err, 'rpc upstream response handler');
    }
  }

  #becameIdle(): void {
    if (this.pool.retiring) {
      this.destroy('reset', 'host retired');
      return;
    }
    const idle = this.#settings.idleTimeoutMs;
    if (idle > 0 && this.#state !== CLOSED) this.#wheel.schedule(this.#idleTimer, idle);
  }

  #onIdle(): void {
    if (this.#state === CLOSED || this.#pending.size > 0) return;
    this.destroy('reset', 'idle');
  }

  #onHeartbeatTimer(): void {
    if (this.#state !== OPEN || this.#heartbeatId !== -1) return;
    const make = this.#protocol.heartbeat;
    if (make === undefined) return;
    const settings = this.#settings;
    const interval = settings.heartbeatIntervalMs;
    const now = settings.clock.now();
    const quietFor = now - this.#lastReadAt;
    if (this.#misses === 0 && quietFor < interval) {
      // Something was read lately: the connection is alive; look again when it may not be.
      this.#wheel.schedule(this.#heartbeatTimer, interval - quietFor);
      return;
    }
    if (!this.#multiplexed && this.#pending.size > 0) {
      // A ping-pong connection carrying a request has no room for a heartbeat: the request's
      // own timeout watches it.
      this.#wheel.schedule(this.#heartbeatTimer, interval);
      return;
    }
    const id = this.#ids.next(this.#pending, -1);
    this.#heartbeatId = id;
    this.#heartbeatSentAt = now;
    this.#write(this.#codec.encode(make(id)));
    this.#wheel.schedule(this.#heartbeatTimeout, settings.heartbeatTimeoutMs);
  }

  #onHeartbeatTimeout(): void {
    if (this.#state !== OPEN || this.#heartbeatId === -1) return;
    this.#heartbeatId = -1;
    const interval = this.#settings.heartbeatIntervalMs;
    if (!this.#multiplexed) {
      // Its reply could still come and be taken for the next request's response.
      this.destroy('reset', `heartbeat to ${this.pool.host.key} unanswered`);
      return;
    }
    if (this.#lastReadAt > this.#heartbeatSentAt) {
      // No reply, but the upstream is talking (responses): alive, though it ignores heartbeats.
      this.#misses = 0;
      this.#wheel.schedule(this.#heartbeatTimer, interval);
      return;
    }
    this.#misses++;
    if (this.#misses >= this.#settings.heartbeatMisses) {
      this.destroy('reset', `${this.#misses} heartbeats to ${this.pool.host.key} unanswered`);
      return;
    }
    this.#wheel.schedule(this.#heartbeatTimer, 0);
  }

  #heartbeatAnswered(): void {
    this.#heartbeatId = -1;
    this.#misses = 0;
    this.#wheel.cancel(this.#heartbeatTimeout);
    this.#wheel.schedule(this.#heartbeatTimer, this.#settings.heartbeatIntervalMs);
  }
}
