import type { ConnectionInfo } from '../types.js';
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

  constructor(info: ConnectionInfoImpl, owner: ConnectionOwner) {
    this.info = info;
    this.owner = owner;
  }

  /** The connection manager for the next request on this connection, `null` if none applies any more. */
  currentManager(): HttpConnectionManager | null {
    return this.owner.managerFor(this);
  }
}
