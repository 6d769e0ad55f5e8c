// The `rpc_proxy` network filter of one filter chain and config version (RpcProxyHandler), and
// the downstream connections it takes over (RpcConnection): frames decoded from the socket,
// heartbeats answered here, request frames run as streams, responses written back in the order
// they come, with backpressure, and drain.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ByteQueue, WriteBatch } from '@meshlet/buffer';
import type { Codec, Protocol, RpcFrame } from '@meshlet/codec';
import type { FilterChainPlan } from '../filters/chain.js';
import type { ConnectionManagerEnv } from '../http/connection-manager.js';
import { flushScheduler } from './flush-scheduler.js';
import type {
  ClusterManager,
  ConnectionHandler,
  ConnectionInfo,
  NetworkConnection,
  StreamObserver,
} from '../types.js';
import type { RpcRouteTable } from './routes.js';
import type { StatusMap } from './status.js';
import { RpcStream } from './stream.js';
import type { RpcSendOptions, RpcUpstreams } from './types.js';

/**
 * Requests in flight on one downstream connection at most: past it the proxy stops reading that
 * connection until some complete (a client cannot queue unbounded work).
 */
export const MAX_DOWNSTREAM_IN_FLIGHT = 1024;

/** The compiled parts of an RPC proxy. */
export interface RpcProxyParts {
  /** `listener "l" filter_chain "c" rpc_proxy "name"`, for errors. */
  readonly where: string;
  readonly protocol: Protocol;
  readonly maxFrameSize: number;
  readonly plan: FilterChainPlan;
  readonly routes: RpcRouteTable;
  readonly statuses: StatusMap;
  readonly clusters: ClusterManager;
  readonly upstreams: RpcUpstreams;
  readonly env: ConnectionManagerEnv;
  readonly observer: StreamObserver;
  /** Upstream timeout when neither the route nor the frame gives one (ms, 0 = none). */
  readonly requestTimeoutMs: number;
  /** A frame begun must arrive whole within it, else the connection closes (ms, 0 = none). */
  readonly frameTimeoutMs: number;
}

/** The options of an upstream request, by timeout: at most a few distinct values per handler. */
class OptionsCache {
  private readonly cache = new Map<number, RpcSendOptions>();
  private readonly oneway: boolean;

  constructor(oneway: boolean) {
    this.oneway = oneway;
  }

  get(timeoutMs: number): RpcSendOptions {
    let options = this.cache.get(timeoutMs);
    if (options === undefined) {
      options = { timeoutMs, oneway: this.oneway };
      // Frame timeouts come from clients: keep the cache bounded.
      if (this.cache.size < 64) this.cache.set(timeoutMs, options);
    }
    return options;
  }
}

/** An `rpc_proxy` for one config version. */
export class RpcProxyHandler implements ConnectionHandler {
  readonly kind = 'rpc' as const;
  readonly where: string;
  readonly protocol: Protocol;
  readonly maxFrameSize: number;
  readonly plan: FilterChainPlan;
  readonly routes: RpcRouteTable;
  readonly statuses: StatusMap;
  readonly clusters: ClusterManager;
  readonly upstreams: RpcUpstreams;
  readonly env: ConnectionManagerEnv;
  /** Stats, access logs and tracing of this chain's requests (the listener reports connections). */
  readonly observer: StreamObserver;
  readonly requestTimeoutMs: number;
  readonly frameTimeoutMs: number;
  /** Streams begun and not yet complete, over every connection of this version. */
  activeStreams = 0;
  private readonly requests = new OptionsCache(false);
  private readonly oneways = new OptionsCache(true);

  constructor(parts: RpcProxyParts) {
    this.where = parts.where;
    this.protocol = parts.protocol;
    this.maxFrameSize = parts.maxFrameSize;
    this.plan = parts.plan;
    this.routes = parts.routes;
    this.statuses = parts.statuses;
    this.clusters = parts.clusters;
    this.upstreams = parts.upstreams;
    this.env = parts.env;
    this.observer = parts.observer;
    this.requestTimeoutMs = parts.requestTimeoutMs;
    this.frameTimeoutMs = parts.frameTimeoutMs;
  }

  handle(socket: Duplex, connection: NetworkConnection): void {
    new RpcConnection(this, socket, connection).start();
  }

  requestOptions(timeoutMs: number): RpcSendOptions {
    return this.requests.get(timeoutMs);
  }

  onewayOptions(timeoutMs: number): RpcSendOptions {
    return this.oneways.get(timeoutMs);
  }

  /** A request frame of `conn` becomes a stream of this version. */
  begin(conn: RpcConnection, frame: RpcFrame): RpcStream {
    const stream = new RpcStream(this, conn, frame);
    this.activeStreams++;
    try {
      this.observer.streamStarted(stream);
    } catch (error) {
      this.env.onError(error, `${this.where}: observer`);
    }
    return stream;
  }

  streamEnded(stream: RpcStream): void {
    this.activeStreams--;
    try {
      this.observer.streamEnded(stream);
    } catch (error) {
      this.env.onError(error, `${this.where}: observer`);
    }
  }
}

/** One downstream connection of an RPC proxy. */
export class RpcConnection {
  readonly info: ConnectionInfo;
  readonly codec: Codec;
  private readonly first: RpcProxyHandler;
  private readonly socket: Duplex;
  private readonly network: NetworkConnection;
  private readonly queue = new ByteQueue();
  /** The responses of one event-loop turn go out in one vectored write (flushScheduler). */
  private readonly batch: WriteBatch;
  private head: RpcStream | null = null;
  private inFlight = 0;
  private closed = false;
  private draining = false;
  /** Reading is paused because writes back up. */
  private blocked = false;
  /** Reading is paused because MAX_DOWNSTREAM_IN_FLIGHT requests are in flight. */
  private full = false;
  /** Armed while part of a frame waits for the rest (`frame_timeout_ms`). */
  private frameTimer: NodeJS.Timeout | null = null;

  constructor(handler: RpcProxyHandler, socket: Duplex, network: NetworkConnection) {
    this.first = handler;
    this.socket = socket;
    this.network = network;
    this.info = network.info;
    this.codec = handler.protocol.createCodec({ maxFrameSize: handler.maxFrameSize });
    this.batch = new WriteBatch(socket, { autoFlush: false });
  }

  start(): void {
    const socket = this.socket;
    // Without TCP_NODELAY, Nagle holds a small reply back until the client has acknowledged the
    // previous one, which a delayed ACK postpones by up to 40 ms: the upstream side already sets
    // it, as Envoy does on every connection. (A TLSSocket is a net.Socket too.)
    if (socket instanceof Socket) socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.once('close', this.onClose);
    socket.on('error', this.onSocketError);
    this.network.onDrain(this.onListenerDrain);
    if (this.network.draining) this.onListenerDrain();
  }

  /** Writes a frame's buffers; returns the bytes written. Pauses reading while the socket backs up. */
  write(buffers: readonly Buffer[]): number {
    if (this.closed) return 0;
    const batch = this.batch;
    const queuedBefore = batch.pendingCount;
    let bytes = 0;
    let ok = true;
    for (const b of buffers) {
      bytes += b.length;
      ok = batch.write(b);
    }
    flushScheduler.schedule(batch, queuedBefore);
    if (!ok && !this.blocked) {
      this.blocked = true;
      this.socket.pause();
      batch.drained().then(this.onWritable, this.onSocketError);
    }
    return bytes;
  }

  /** A stream of this connection is complete. */
  streamDone(stream: RpcStream): void {
    const prev = stream.prev;
    const next = stream.next;
    if (prev === null) {
      if (this.head === stream) this.head = next;
    } else prev.next = next;
    if (next !== null) next.prev = prev;
    stream.prev = stream.next = null;
    this.inFlight--;
    if (this.draining) {
      if (this.inFlight === 0) this.finish();
      return;
    }
    if (this.full && this.inFlight < MAX_DOWNSTREAM_IN_FLIGHT) {
      this.full = false;
      // Not from here: this may run inside the decode loop (a oneway request completes at once).
      setImmediate(this.readMore);
    }
  }

  private readonly readMore = (): void => {
    if (this.closed || this.draining || this.blocked || this.full) return;
    this.socket.resume();
    this.decode();
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    this.queue.push(chunk);
    this.decode();
  };

  private decode(): void {
    const queue = this.queue;
    while (!this.closed && !this.draining && !this.blocked && !this.full) {
      let frame: RpcFrame | null;
      try {
        frame = this.codec.decode(queue);
      } catch (error) {
        this.protocolError(error);
        return;
      }
      if (frame === null) {
        // Part of a frame is buffered: it must be whole within the deadline. Armed once per
        // frame, so a client dripping bytes cannot push it back.
        if (queue.length > 0) this.armFrameTimer();
        return;
      }
      this.clearFrameTimer();
      this.dispatch(frame);
    }
  }

  private armFrameTimer(): void {
    const ms = this.first.frameTimeoutMs;
    if (ms === 0 || this.frameTimer !== null) return;
    this.frameTimer = setTimeout(this.onFrameTimeout, ms);
    this.frameTimer.unref();
  }

  private clearFrameTimer(): void {
    if (this.frameTimer === null) return;
    clearTimeout(this.frameTimer);
    this.frameTimer = null;
  }

  private readonly onFrameTimeout = (): void => {
    this.frameTimer = null;
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  };

  private dispatch(frame: RpcFrame): void {
    const protocol = this.first.protocol;
    if (protocol.isHeartbeat(frame)) {
      const reply = protocol.heartbeatReply(frame);
      this.write(this.codec.encode(reply));
      return;
    }
    // A client sends requests; anything else (a stray response) has nothing to pair with.
    if (frame.kind !== 'request' && frame.kind !== 'oneway') return;
    const current = this.network.current();
    if (!(current instanceof RpcProxyHandler) || current.protocol !== protocol) {
      // The chain is gone or speaks another protocol now: refuse, the client reconnects.
      if (frame.kind === 'request')
        this.write(this.codec.encode(protocol.errorReply(frame, 'unavailable', 'rpc proxy removed')));
      return;
    }
    const stream = current.begin(this, frame);
    stream.next = this.head;
    if (this.head !== null) this.head.prev = stream;
    this.head = stream;
    if (++this.inFlight >= MAX_DOWNSTREAM_IN_FLIGHT) {
      this.full = true;
      this.socket.pause();
    }
    stream.start();
  }

  private protocolError(error: unknown): void {
    const where = `${this.first.where}: connection from ${this.info.remoteAddress}:${this.info.remotePort}`;
    this.first.env.onError(error, where);
    this.closed = true;
    this.socket.destroy();
  }

  private readonly onWritable = (): void => {
    if (!this.blocked) return;
    this.blocked = false;
    // Frames already queued while blocked are decoded too.
    this.readMore();
  };

  private readonly onListenerDrain = (): void => {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.socket.pause();
    if (this.inFlight === 0) this.finish();
  };

  /** Drained: every request answered; close our side. */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.batch.end();
  }

  private readonly onSocketError = (): void => {
    // 'close' follows: pending streams are aborted there.
  };

  private readonly onClose = (): void => {
    this.closed = true;
    this.clearFrameTimer();
    this.queue.clear();
    let stream = this.head;
    this.head = null;
    while (stream !== null) {
      const next = stream.next;
      stream.prev = stream.next = null;
      stream.abort();
      stream = next;
    }
    this.inFlight = 0;
    this.socket.off('data', this.onData);
  };
}
