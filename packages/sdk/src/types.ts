import type { AdminServerOptions, HttpFilter, ProxyEvents, ProxyOptions } from '@meshlet/proxy';
import type { AdsClientOptions, XdsSnapshot } from '@meshlet/xds';

/** Where the mesh's xDS config comes from: an ADS server and the node identity to present. */
export interface MeshXdsOptions {
  /** `host:port` of the ADS server. */
  readonly server: string;
  /** The node identity (`id`, and `cluster`, `metadata`... as Envoy's `node`). */
  readonly node: NonNullable<AdsClientOptions['node']>;
  /** How long `createMesh` waits for the first complete snapshot. Default 15 000 ms. */
  readonly initialTimeoutMs?: number;
  /** More options of the ADS client (credentials, backoff, timers...). */
  readonly client?: Omit<AdsClientOptions, 'server' | 'node' | 'bootstrap'>;
}

/** Options of {@link createMesh}: one config source (`config`, `bootstrap` or `xds`), plus proxy options. */
export interface MeshOptions extends Omit<
  ProxyOptions,
  'config' | 'filters' | 'protocols' | 'drainTimeoutMs'
> {
  /**
   * The config: an `XdsSnapshot` (the `@meshlet/xds` model), or an Envoy bootstrap as an object
   * (`static_resources`, `dynamic_resources` with ADS, `admin`, `node`).
   */
  readonly config?: XdsSnapshot | object;
  /** Path of an Envoy bootstrap file (YAML or JSON), read with `loadBootstrap` from `@meshlet/xds`. */
  readonly bootstrap?: string;
  /** An ADS server and node identity: the config comes from xDS and follows its updates. */
  readonly xds?: MeshXdsOptions;
  /** Filter plugins the config may name (more with `mesh.use()`). */
  readonly filters?: readonly HttpFilter[];
  /** RPC protocols (`defineProtocol` from `@meshlet/codec`) the config may name. */
  readonly protocols?: NonNullable<ProxyOptions['protocols']>;
  /**
   * What `mesh.fetch` and `mesh.dispatcher` route through: a listener name (its connection
   * manager's route table and HTTP filters) or a route configuration name (router only). Default:
   * the only route configuration of the config, else the first listener with an HTTP connection
   * manager, else one virtual host per cluster (`http://<cluster>/`).
   */
  readonly egress?: string;
  /** How long `close()` lets requests in flight finish, and listeners removed by an update drain. Default 5000 ms. */
  readonly drainTimeoutMs?: number;
  /**
   * The admin server `listen()` starts: `{ port, address }`, or `false` for none. Default: the
   * bootstrap's `admin.address` if it has one, else none.
   */
  readonly admin?:
    | {
        readonly port?: number;
        readonly address?: string;
        /** Level of the admin's logger (`/logging` changes it). Default `info`. */
        readonly logLevel?: AdminServerOptions['logLevel'];
      }
    | false;
}

/** Events of a {@link Mesh}: the proxy's (`updated`, `error`, `listening`...) and `xds` status changes. */
export interface MeshEvents extends ProxyEvents {
  /** The ADS client's connection status (`connecting`, `connected`, `disconnected`...). */
  xds: [status: string];
}
