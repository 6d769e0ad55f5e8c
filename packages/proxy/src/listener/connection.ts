import type { ConnectionHandler, ConnectionInfo, NetworkConnection, StreamInfo } from '../types.js';
import type { HttpConnectionManager } from '../http/connection-manager.js';

let nextConnectionId = 1;

/** A downstream connection's facts, as filters see them. */
export class ConnectionInfoImpl implements ConnectionInfo {
  readonly id: number;
  readonly listenerName: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: boolean;
  readonly serverName: string | undefined;
  readonly alpnProtocol: string | undefined;

  constructor(
    listenerName: string,
    remoteAddress: string,
    remotePort: number,
    localAddress: string,
    localPort: number,
    tls: boolean,
    serverName: string | undefined,
    alpnProtocol: string | undefined,
  ) {
    this.id = nextConnectionId++;
    this.listenerName = listenerName;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.tls = tls;
    this.serverName = serverName;
    this.alpnProtocol = alpnProtocol;
  }
}

/** Where a connection's requests go: the connection manager of its filter chain, current version. */
export interface ConnectionOwner {
  /** True once the listener drains: HTTP/1 responses close the connection. */
  readonly draining: boolean;
  /** The connection manager for a connection's filter chain in the current config version. */
  managerFor(connection: DownstreamConnection): HttpConnectionManager | null;
}

/** One downstream connection: its info and its connection manager, re-resolved after an update. */
export class DownstreamConnection {
  readonly info: ConnectionInfoImpl;
  readonly owner: ConnectionOwner;
  /** The config version `manager` belongs to. */
  version = -1;
  manager: HttpConnectionManager | null = null;
  /** HTTP/1 requests begun on this connection. */
  requests = 0;
  /** The application protocol its chain was chosen by (sniffed, or the ALPN), if any. */
  protocol: string | undefined = undefined;

  constructor(info: ConnectionInfoImpl, owner: ConnectionOwner) {
    this.info = info;
    this.owner = owner;
  }

  /** The connection manager for the next request on this connection, `null` if none applies any more. */
  currentManager(): HttpConnectionManager | null {
    return this.owner.managerFor(this);
  }
}

/** Where a network connection's handler comes from: its listener. */
export interface NetworkConnectionOwner {
  readonly draining: boolean;
  /** The handler for a connection's filter chain in the current config version. */
  handlerFor(connection: NetworkConnectionImpl): ConnectionHandler | null;
}

/**
 * A downstream connection handed to a network filter (`tcp_proxy`, `rpc_proxy`). The listener
 * owns the socket's lifetime: it counts it, tells the chain's observer when it opens and closes
 * (with `streamInfo`, which the handler fills), runs the `onDrain` callbacks and destroys the
 * socket when a drain times out.
 */
export class NetworkConnectionImpl implements NetworkConnection {
  readonly info: ConnectionInfoImpl;
  readonly streamInfo: StreamInfo;
  /** The application protocol the chain was chosen by (sniffed or ALPN), re-used to re-resolve it. */
  readonly protocol: string | undefined;
  /** The config version `handler` belongs to. */
  version: number;
  handler: ConnectionHandler | null;
  private readonly owner: NetworkConnectionOwner;
  private drainCallbacks: (() => void)[] | null = null;

  constructor(
    info: ConnectionInfoImpl,
    streamInfo: StreamInfo,
    protocol: string | undefined,
    owner: NetworkConnectionOwner,
    version: number,
    handler: ConnectionHandler,
  ) {
    this.info = info;
    this.streamInfo = streamInfo;
    this.protocol = protocol;
    this.owner = owner;
    this.version = version;
    this.handler = handler;
  }

  get draining(): boolean {
    return this.owner.draining;
  }

  current(): ConnectionHandler | null {
    return this.owner.handlerFor(this);
  }

  onDrain(callback: () => void): void {
    if (this.owner.draining) {
      queueMicrotask(callback);
      return;
    }
    (this.drainCallbacks ??= []).push(callback);
  }

  /** The listener drains: runs the callbacks once. */
  drain(onError: (error: unknown) => void): void {
    const callbacks = this.drainCallbacks;
    this.drainCallbacks = null;
    if (callbacks === null) return;
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        onError(error);
      }
    }
  }
}
