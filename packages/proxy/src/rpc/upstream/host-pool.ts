import type { Protocol } from '@meshlet/codec';
import type { Host } from '@meshlet/lb';
import type { UpstreamCluster } from '../../types.js';
import { UpstreamConnection, type ConnectionSettings } from './upstream-connection.js';

/** Told when a pool has lost its last connection, so it can be forgotten. */
export interface PoolOwner {
  poolEmptied(pool: HostPool): void;
}

/**
 * The connections to one host of one cluster speaking one protocol. A request goes to the first
 * connection below its in-flight bound (so load stays on few connections); another connection is
 * opened only when all are full, up to `connectionsPerHost`.
 */
export class HostPool {
  /** The cluster as last used: stats and the connect timeout follow config updates. */
  cluster: UpstreamCluster;
  /** The host as last picked (the balancer keeps one object per `address:port`). */
  host: Host;
  readonly protocol: Protocol;
  readonly connections: UpstreamConnection[];
  /** Set by `retire()`: connections close as soon as they carry nothing. */
  retiring: boolean;
  readonly #settings: ConnectionSettings;
  readonly #owner: PoolOwner;

  constructor(
    cluster: UpstreamCluster,
    host: Host,
    protocol: Protocol,
    settings: ConnectionSettings,
    owner: PoolOwner,
  ) {
    this.cluster = cluster;
    this.host = host;
    this.protocol = protocol;
    this.connections = [];
    this.retiring = false;
    this.#settings = settings;
    this.#owner = owner;
  }

  /** A connection that takes one more request, opened if need be, or null at the bound. */
  acquire(): UpstreamConnection | null {
    this.retiring = false; // picked again: the host is back in its cluster
    const connections = this.connections;
    for (const connection of connections) if (connection.available) return connection;
    if (connections.length >= this.#settings.connectionsPerHost) return null;
    const connection = new UpstreamConnection(this, this.#settings);
    connections.push(connection);
    return connection;
  }

  /** Closes the idle connections now and the others once they carry nothing. */
  retire(): void {
    this.retiring = true;
    for (const connection of this.connections.slice()) {
      if (connection.pendingCount === 0) connection.destroy('reset', 'host retired');
    }
  }

  /** Called by a connection once it is closed. */
  removed(connection: UpstreamConnection): void {
    const connections = this.connections;
    const at = connections.indexOf(connection);
    if (at !== -1) connections.splice(at, 1);
    if (connections.length === 0) this.#owner.poolEmptied(this);
  }
}
