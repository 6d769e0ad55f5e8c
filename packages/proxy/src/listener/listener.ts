// A bound listener: a net (or tls) server that accepts connections, picks the filter chain (SNI
// and ALPN for TLS; on cleartext the application protocol its listener filters sniff from the
// first bytes: HTTP/1.1, h2c, an RPC protocol), and hands each socket to its chain: a network
// filter's handler (`tcp_proxy`, `rpc_proxy`), or a node:http server (HTTP/1.1) or a node:http2
// server (HTTP/2: ALPN `h2` over TLS, prior knowledge on cleartext — for `AUTO` the 24-byte
// client preface is peeked). Those servers never listen themselves: one pair per set of limits,
// fed with `emit('connection', socket)`.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { sniff } from '@meshlet/codec';
import {
  ConnectionInfoImpl,
  DownstreamConnection,
  NetworkConnectionImpl,
  type ConnectionOwner,
  type NetworkConnectionOwner,
} from './connection.js';
import type {
  CompiledFilterChain,
  CompiledListener,
  ProtocolInspection,
  ServerLimits,
} from './filter-chains.js';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import type { OverloadState } from '../overload/overload-state.js';
import { plainAddress } from '../http/headers.js';
import { FastHttp1Server } from './http1-fast.js';
import { StreamInfoImpl } from '../http/stream-info.js';
import { NOOP_STREAM_OBSERVER } from '../observe/noop.js';
import type { ConnectionHandler, StreamObserver } from '../types.js';

/** The HTTP/2 connection preface a prior-knowledge client sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Listener options that are not in the xDS model. */
export interface ListenerOptions {
  /** Connections beyond this are refused (closed at accept); default unlimited. */
  readonly maxConnections?: number;
  /** Reports errors that reach no request (a failing socket handler). */
  readonly onError: (error: unknown, where: string) => void;
  /**
   * Serve HTTP/1.1 with the llhttp fast path (`http1-fast.ts`) instead of node:http's server.
   * Default on; off when the environment variable `MESHLET_HTTP1_FAST_PATH` is `0`.
   */
  readonly http1FastPath?: boolean;
  /** The overload manager's state: connections it rejects are closed at accept. */
  readonly overload?: OverloadState;
  /** A float in [0, 1), for the share of connections `reject_incoming_connections` closes. */
  readonly random?: () => number;
}

interface ServerPair {
  h1: http.Server | null;
  h2: Http2Server | null;
  fast: FastHttp1Server | null;
}

/** How often node checks header and request deadlines: a quarter of the shorter one, 10 ms to 30 s. */
function checkingInterval(limits: ServerLimits): number {
  const deadlines = [limits.headersTimeoutMs, limits.requestTimeoutMs].filter((ms) => ms > 0);
  if (deadlines.length === 0) return 30_000;
  return Math.max(10, Math.min(30_000, Math.floor(Math.min(...deadlines) / 4)));
}

function ignore(): void {
  // An error on a socket or stream is handled by its 'close'.
}

function onH2StreamTimeout(this: ServerHttp2Stream): void {
  if (!this.destroyed) this.close(http2.constants.NGHTTP2_CANCEL);
}

/** Tells a chain's observer that a connection opened, and when it closes, what it carried. */
function observeConnection(socket: Socket, info: ConnectionInfoImpl, observer: StreamObserver): void {
  if (observer === NOOP_STREAM_OBSERVER) return;
  const stream = new StreamInfoImpl(performance.now(), Date.now(), info.remoteAddress);
  observer.connectionOpened(info);
  socket.once('close', () => {
    stream.bytesReceived = socket.bytesRead;
    stream.bytesSent = socket.bytesWritten;
    stream.endTime = performance.now();
    observer.connectionClosed(info, stream);
  });
}

/** What the protocol inspection of a cleartext connection found out. */
type Sniffed = 'http1' | 'h2c' | null;

/** One listener: its bound server, the connections it holds, and its current filter chains. */
export class ProxyListener implements ConnectionOwner, NetworkConnectionOwner {
  current: CompiledListener;
  /** Increases with every `apply`: connections re-resolve their connection manager. */
  version = 0;
  draining = false;
  private readonly front: net.Server;
  private readonly tlsFront: tls.Server | null;
  private readonly options: ListenerOptions;
  private readonly sockets = new Set<Duplex>();
  private readonly servers = new Map<string, ServerPair>();
  private readonly sessions = new Set<Http2Session>();
  private readonly socketConnections = new WeakMap<object, DownstreamConnection>();
  private readonly sessionConnections = new WeakMap<Http2Session, DownstreamConnection>();
  private readonly networkConnections = new Set<NetworkConnectionImpl>();
  private pendingSession: DownstreamConnection | null = null;
  private drained: Promise<void> | null = null;
  private readonly fastPath: boolean;

  constructor(compiled: CompiledListener, options: ListenerOptions) {
    this.current = compiled;
    this.options = options;
    this.fastPath = options.http1FastPath ?? process.env.MESHLET_HTTP1_FAST_PATH !== '0';
    const buffers =
      compiled.bufferLimitBytes === undefined ? {} : { highWaterMark: compiled.bufferLimitBytes };
    if (compiled.tls) {
      const chain = compiled.defaultTlsChain;
      const server = tls.createServer({
        ...buffers,
        ...(chain?.tls?.options ?? {}),
        SNICallback: (serverName, callback) => {
          const selected = this.current.certificateChain(serverName);
          if (selected?.tls) callback(null, selected.tls.context);
          else callback(new Error(`no filter chain for server name ${serverName}`));
        },
        ALPNCallback: ({ servername, protocols }) => {
          const selected = this.current.selectOffered(servername, protocols);
          return selected?.chooseAlpn(protocols);
        },
        requestCert: compiled.requestClientCertificate,
        rejectUnauthorized: compiled.requestClientCertificate,
      });
      server.on('secureConnection', (socket: TLSSocket) => {
        this.onSecureConnection(socket);
      });
      server.on('tlsClientError', (_error, socket) => {
        socket.destroy();
      });
      this.front = server;
      this.tlsFront = server;
    } else {
      this.front = net.createServer(buffers);
      this.tlsFront = null;
    }
    this.front.on('connection', (socket: Socket) => {
      this.onConnection(socket);
    });
    this.front.on('error', (error) => {
      this.options.onError(error, `listener "${compiled.name}"`);
    });
    if (options.maxConnections !== undefined) this.front.maxConnections = options.maxConnections;
  }

  /** Switches to a new config version of this listener (same address). */
  apply(compiled: CompiledListener): void {
    this.current = compiled;
    this.version++;
    const chain = compiled.defaultTlsChain;
    if (chain?.tls) this.tlsFront?.setSecureContext(chain.tls.options);
  }

  /** Whether `listen()` was called. */
  bound = false;

  /** Binds the address. */
  listen(): Promise<void> {
    this.bound = true;
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(error);
      };
      this.front.once('error', onError);
      this.front.listen({ host: this.current.host, port: this.current.port }, () => {
        this.front.off('error', onError);
        resolve();
      });
    });
  }

  /** The bound address. */
  address(): AddressInfo {
    return this.front.address() as AddressInfo;
  }

  /** Open downstream connections. */
  get connections(): number {
    return this.sockets.size;
  }

  managerFor(connection: DownstreamConnection): HttpConnectionManager | null {
    if (connection.version !== this.version) {
      connection.manager =
        this.current.select(connection.info.serverName, connection.protocol)?.manager ?? null;
      connection.version = this.version;
    }
    return connection.manager;
  }

  handlerFor(connection: NetworkConnectionImpl): ConnectionHandler | null {
    if (connection.version !== this.version) {
      connection.handler =
        this.current.select(connection.info.serverName, connection.protocol)?.handler ?? null;
      connection.version = this.version;
    }
    return connection.handler;
  }

  /**
   * Stops accepting, asks every connection to close (`Connection: close` on HTTP/1 responses,
   * GOAWAY on HTTP/2), waits for streams in flight, and after `timeoutMs` closes what is left.
   */
  drain(timeoutMs: number): Promise<void> {
    this.drained ??= this.drainNow(timeoutMs);
    return this.drained;
  }

  private async drainNow(timeoutMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => {
      if (this.front.listening)
        this.front.close(() => {
          resolve();
        });
      else resolve();
    });
    // Idle HTTP/1 keep-alive connections are not closed here: a client may be sending its next
    // request on one at this very instant, and that request would fail ("other side closed").
    // They close at their next response (`Connection: close`), at their keep-alive timeout
    // (which clients know from the `Keep-Alive` header), or at the end of the drain.
    for (const session of this.sessions) if (!session.closed) session.close();
    const onError = (error: unknown): void => {
      this.options.onError(error, `listener "${this.current.name}" drain`);
    };
    for (const connection of this.networkConnections) connection.drain(onError);
    if (this.sockets.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const socket of this.sockets) socket.destroy();
        }, timeoutMs);
        const check = (): void => {
          if (this.sockets.size > 0) return;
          clearTimeout(timer);
          resolve();
        };
        this.onSocketGone = check;
        check();
      });
    }
    await closed;
    for (const pair of this.servers.values()) {
      pair.h1?.close(ignore);
      pair.h2?.close(ignore);
      pair.fast?.close();
    }
  }

  private onSocketGone: (() => void) | null = null;

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('error', ignore);
    const overload = this.options.overload;
    socket.once('close', () => {
      this.sockets.delete(socket);
      overload?.release();
      this.onSocketGone?.();
    });
  }

  private infoOf(socket: Socket | TLSSocket, isTls: boolean): ConnectionInfoImpl {
    const tlsSocket = isTls ? (socket as TLSSocket) : null;
    const serverName =
      tlsSocket !== null && typeof tlsSocket.servername === 'string' ? tlsSocket.servername : undefined;
    const alpn =
      tlsSocket !== null && typeof tlsSocket.alpnProtocol === 'string' ? tlsSocket.alpnProtocol : undefined;
    return new ConnectionInfoImpl(
      this.current.name,
      plainAddress(socket.remoteAddress ?? ''),
      socket.remotePort ?? 0,
      plainAddress(socket.localAddress ?? ''),
      socket.localPort ?? 0,
      isTls,
      serverName,
      alpn,
    );
  }

  private connectionOf(
    socket: Socket | TLSSocket,
    chain: CompiledFilterChain,
    manager: HttpConnectionManager,
    isTls: boolean,
    protocol: string | undefined,
  ): DownstreamConnection {
    const info = this.infoOf(socket, isTls);
    const connection = new DownstreamConnection(info, this);
    connection.version = this.version;
    connection.manager = manager;
    connection.protocol = protocol;
    observeConnection(socket, info, chain.observer);
    return connection;
  }

  /**
   * Hands a socket to its chain: the network handler, or HTTP (`sniffed` says which HTTP when
   * the listener filters already know, else the chain's codec decides).
   */
  private dispatch(
    socket: Socket | TLSSocket,
    chain: CompiledFilterChain,
    isTls: boolean,
    protocol: string | undefined,
    sniffed: Sniffed,
  ): void {
    if (chain.handler !== null) {
      this.toNetwork(socket, chain, chain.handler, isTls, protocol);
      return;
    }
    const manager = chain.manager;
    if (manager === null) {
      socket.destroy();
      return;
    }
    const connection = this.connectionOf(socket, chain, manager, isTls, protocol);
    if (isTls) {
      if ((socket as TLSSocket).alpnProtocol === 'h2') this.toHttp2(socket, chain, connection);
      else if (chain.codec === 'HTTP2') socket.destroy();
      else this.toHttp1(socket, chain, connection);
    } else if (sniffed === 'h2c' || chain.codec === 'HTTP2') this.toHttp2(socket, chain, connection);
    else if (sniffed === 'http1' || chain.codec === 'HTTP1') {
      this.toHttp1(socket, chain, connection);
      // node:http needs a socket paused by the inspection flowing again.
      if (socket.isPaused()) socket.resume();
    } else {
      this.sniff(socket, chain, connection);
      // Inspected but not recognised as HTTP: the preface check reads the paused socket again.
      if (socket.isPaused()) socket.resume();
    }
  }

  /**
   * A network chain: the listener keeps counting the socket and tells the chain's observer when
   * it opens and closes (with the StreamInfo the handler fills); the handler does the rest.
   */
  private toNetwork(
    socket: Socket | TLSSocket,
    chain: CompiledFilterChain,
    handler: ConnectionHandler,
    isTls: boolean,
    protocol: string | undefined,
  ): void {
    const info = this.infoOf(socket, isTls);
    const stream = new StreamInfoImpl(performance.now(), Date.now(), info.remoteAddress);
    const connection = new NetworkConnectionImpl(info, stream, protocol, this, this.version, handler);
    this.networkConnections.add(connection);
    const observer = chain.observer;
    observer.connectionOpened(info);
    socket.once('close', () => {
      this.networkConnections.delete(connection);
      stream.bytesReceived = socket.bytesRead;
      stream.bytesSent = socket.bytesWritten;
      stream.endTime = performance.now();
      observer.connectionClosed(info, stream);
    });
    // Bytes read while sniffing were unshifted into a paused socket: let them flow again.
    if (socket.isPaused()) socket.resume();
    try {
      handler.handle(socket, connection);
    } catch (error) {
      socket.destroy();
      this.options.onError(error, `listener "${this.current.name}" filter_chain "${chain.name}"`);
    }
  }

  private onConnection(socket: Socket): void {
    const overload = this.options.overload;
    // global_downstream_max_connections and reject_incoming_connections: closed before any byte.
    if (overload !== undefined && !overload.admit(this.options.random ?? Math.random)) {
      socket.on('error', ignore);
      socket.destroy();
      return;
    }
    this.track(socket);
    if (this.draining) {
      socket.destroy();
      return;
    }
    if (this.current.tls) return; // continues in onSecureConnection
    const inspection = this.current.inspection;
    if (inspection !== null) {
      this.inspect(socket, inspection);
      return;
    }
    const chain = this.current.select(undefined);
    if (chain === null) socket.destroy();
    else this.dispatch(socket, chain, false, undefined, null);
  }

  private onSecureConnection(socket: TLSSocket): void {
    socket.on('error', ignore);
    const serverName = typeof socket.servername === 'string' ? socket.servername : undefined;
    const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined;
    const chain = this.current.select(serverName, alpn);
    if (chain === null || this.draining) {
      socket.destroy();
      return;
    }
    this.dispatch(socket, chain, true, alpn, null);
  }

  /**
   * The listener filters of a cleartext connection: read until `sniff` recognises the protocol
   * (or cannot), put the bytes back, and pick the chain by it. A client that sends too little
   * within the timeout is closed, or goes to a chain without application protocols.
   */
  private inspect(socket: Socket, inspection: ProtocolInspection): void {
    let seen: Buffer | null = null;
    let timer: NodeJS.Timeout | null = null;
    let decided = false;
    const finish = (protocol: string | undefined, sniffed: Sniffed): void => {
      decided = true;
      if (timer !== null) clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (seen !== null) socket.unshift(seen);
      const chain = this.draining ? null : this.current.select(undefined, protocol);
      if (chain === null) socket.destroy();
      else this.dispatch(socket, chain, false, protocol, sniffed);
    };
    const onData = (chunk: Buffer): void => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const found = sniff(seen, inspection.protocols);
      if (found.outcome === 'need-more') return;
      if (found.outcome === 'http1') finish('http/1.1', 'http1');
      else if (found.outcome === 'h2c') finish('h2c', 'h2c');
      else if (found.outcome === 'protocol') finish(found.protocol.name, null);
      else finish(undefined, null);
    };
    // The client went away before saying what it speaks.
    const onEnd = (): void => {
      if (!decided) socket.destroy();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', () => {
      if (timer !== null) clearTimeout(timer);
    });
    if (inspection.timeoutMs > 0) {
      timer = setTimeout(() => {
        timer = null;
        if (decided) return;
        if (inspection.continueOnTimeout) finish(undefined, null);
        else socket.destroy();
      }, inspection.timeoutMs);
      timer.unref();
    }
  }

  /**
   * Cleartext `AUTO`: HTTP/2 if the connection starts with the client preface, else HTTP/1. A
   * client that has not said which within the headers timeout (silent, or a preface cut short)
   * is closed, as node:http closes one that has not sent a whole head by then.
   */
  private sniff(socket: Socket, chain: CompiledFilterChain, connection: DownstreamConnection): void {
    let seen: Buffer | null = null;
    const timeoutMs = chain.limits.headersTimeoutMs;
    let timer: NodeJS.Timeout | null = null;
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        socket.destroy();
      }, timeoutMs);
      timer.unref();
      socket.once('close', () => {
        if (timer !== null) clearTimeout(timer);
      });
    }
    const onData = (chunk: Buffer): void => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const prefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (prefix && n < PREFACE.length) return; // could still be the preface
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      // node:http2 reads the unshifted bytes itself; node:http needs the stream flowing again.
      if (prefix) this.toHttp2(socket, chain, connection);
      else {
        this.toHttp1(socket, chain, connection);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }

  private serversFor(chain: CompiledFilterChain): ServerPair {
    let pair = this.servers.get(chain.limitsKey);
    if (pair === undefined) {
      pair = { h1: null, h2: null, fast: null };
      this.servers.set(chain.limitsKey, pair);
    }
    return pair;
  }

  private toHttp1(socket: Duplex, chain: CompiledFilterChain, connection: DownstreamConnection): void {
    const pair = this.serversFor(chain);
    if (this.fastPath) {
      pair.fast ??= new FastHttp1Server(chain.limits, checkingInterval(chain.limits), this.options.onError);
      pair.fast.attach(socket, connection);
      return;
    }
    pair.h1 ??= this.createHttp1Server(chain.limits);
    this.socketConnections.set(socket, connection);
    pair.h1.emit('connection', socket);
  }

  private toHttp2(socket: Duplex, chain: CompiledFilterChain, connection: DownstreamConnection): void {
    const pair = this.serversFor(chain);
    pair.h2 ??= this.createHttp2Server(chain.limits);
    this.pendingSession = connection;
    try {
      pair.h2.emit('connection', socket);
    } finally {
      this.pendingSession = null;
    }
  }

  private createHttp1Server(limits: ServerLimits): http.Server {
    const server = http.createServer({
      maxHeaderSize: limits.maxHeaderSize,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout:
        limits.requestTimeoutMs > 0
          ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs)
          : limits.headersTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: checkingInterval(limits),
      requireHostHeader: true,
    });
    // node closes the connection after this many requests (the last response says so).
    server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
    // One more than allowed, so a request over the limit is seen (and answered 431) rather than
    // silently truncated by node.
    server.maxHeadersCount = limits.maxHeadersCount + 1;
    server.timeout = limits.streamIdleTimeoutMs;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onHttp1Request(req, res);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.onHttp1Upgrade(req, socket, head);
    });
    // node starts its header/request timeout checks on 'listening'; this server never listens
    // itself (the front server does), so start them now.
    server.emit('listening');
    return server;
  }

  private createHttp2Server(limits: ServerLimits): Http2Server {
    const settings: http2.Settings = { maxHeaderListSize: limits.maxHeaderSize };
    if (limits.maxConcurrentStreams !== undefined)
      settings.maxConcurrentStreams = limits.maxConcurrentStreams;
    if (limits.initialStreamWindowSize !== undefined)
      settings.initialWindowSize = limits.initialStreamWindowSize;
    const server = http2.createServer({
      settings,
      // Pseudo-headers count too; the connection manager answers 431 above maxHeadersCount.
      maxHeaderListPairs: limits.maxHeadersCount + 16,
    });
    server.on('session', (session: Http2Session) => {
      const connection = this.pendingSession;
      if (connection === null) {
        session.destroy();
        return;
      }
      this.sessionConnections.set(session, connection);
      this.sessions.add(session);
      session.on('error', ignore);
      session.once('close', () => {
        this.sessions.delete(session);
      });
      if (limits.initialConnectionWindowSize !== undefined) {
        session.setLocalWindowSize(limits.initialConnectionWindowSize);
      }
      if (limits.idleTimeoutMs > 0) {
        session.setTimeout(limits.idleTimeoutMs, () => {
          if (!session.closed) session.close();
        });
      }
      if (this.draining) session.close();
    });
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on('error', ignore);
      const connection = this.sessionConnections.get(stream.session as Http2Session);
      const manager = connection === undefined ? null : this.managerFor(connection);
      if (connection === undefined || manager === null) {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      if (limits.streamIdleTimeoutMs > 0) {
        stream.setTimeout(limits.streamIdleTimeoutMs);
        stream.on('timeout', onH2StreamTimeout);
      }
      manager.handleH2(stream, headers, connection.info);
    });
    server.on('sessionError', ignore);
    return server;
  }

  private onHttp1Request(req: IncomingMessage, res: ServerResponse): void {
    const connection = this.socketConnections.get(req.socket);
    const manager = connection === undefined ? null : this.managerFor(connection);
    if (connection === undefined || manager === null) {
      res.shouldKeepAlive = false;
      res.writeHead(503, ['content-length', '0', 'connection', 'close']);
      res.end();
      return;
    }
    manager.handleH1(req, res, connection);
  }

  private onHttp1Upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore);
    const connection = this.socketConnections.get(socket);
    const manager = connection === undefined ? null : this.managerFor(connection);
    if (connection === undefined || manager === null) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    manager.handleUpgrade(req, socket, head, connection);
  }
}
