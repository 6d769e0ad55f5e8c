// A mesh in a Node service: one @meshlet/proxy, its in-process egress (`fetch`, an undici
// Dispatcher), its listeners and admin server, fed by a config, a bootstrap file or xDS.
// Wiring only: routing, balancing, retries and the rest happen in @meshlet/proxy.
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import {
  fetch as undiciFetch,
  errors,
  type Dispatcher,
  type RequestInfo,
  type RequestInit,
  type Response,
} from 'undici';
import { ConfigError } from '@meshlet/errors';
import {
  createAdminServer,
  createProxy,
  failDispatch,
  snapshotOfBootstrap,
  type AdminServer,
  type Egress,
  type HttpFilter,
  type HttpProxy,
  type ProxyEvents,
} from '@meshlet/proxy';
import {
  adsServerAddress,
  createAdsClient,
  loadBootstrap,
  parseBootstrap,
  type AdsClient,
  type Bootstrap,
  type XdsSnapshot,
} from '@meshlet/xds';
import { CLUSTER_ROUTES, withClusterRoutes } from './cluster-routes.js';
import { MeshDispatcher } from './dispatcher.js';
import type { MeshEvents, MeshOptions } from './types.js';

const DEFAULT_DRAIN_TIMEOUT_MS = 5000;
const DEFAULT_XDS_TIMEOUT_MS = 15_000;
const PROXY_EVENTS: readonly (keyof ProxyEvents)[] = [
  'listening',
  'updated',
  'error',
  'listener-drained',
  'drained',
];

const EMPTY: XdsSnapshot = {
  listeners: new Map(),
  routeConfigurations: new Map(),
  clusters: new Map(),
  endpoints: new Map(),
};

/**
 * A mesh: mesh-aware outbound calls (`fetch`, `dispatcher`) and in-process listeners
 * (`listen`), from one config. Create it with {@link createMesh}.
 *
 * The proxy behind it is built on first use (`fetch`, `dispatcher`, `listen`, `proxy`): filters
 * given to `use()` before then are known to the config; `use()` after throws.
 */
export class Mesh extends EventEmitter<MeshEvents> {
  /** An undici `Dispatcher` through the mesh: pass it to `fetch`/`request`, or to `setGlobalDispatcher`. */
  readonly dispatcher: MeshDispatcher;
  readonly #options: MeshOptions;
  readonly #filters: HttpFilter[];
  readonly #bootstrap: Bootstrap | undefined;
  /** The static part of the config (the bootstrap's static resources, or the config given). */
  readonly #static: XdsSnapshot;
  #snapshot: XdsSnapshot;
  #proxy: HttpProxy | null = null;
  #ads: AdsClient | null = null;
  #admin: AdminServer | null = null;
  readonly #egresses = new Map<string, Egress>();
  #egressVersion = -1;
  #egressName: string | null = null;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  #state: 'ready' | 'listening' | 'closing' | 'closed' = 'ready';

  /** @internal Use {@link createMesh}. */
  constructor(options: MeshOptions, bootstrap: Bootstrap | undefined, staticConfig: XdsSnapshot) {
    super();
    this.#options = options;
    this.#filters = [...(options.filters ?? [])];
    this.#bootstrap = bootstrap;
    this.#static = staticConfig;
    this.#snapshot = withClusterRoutes(staticConfig);
    this.dispatcher = new MeshDispatcher(this);
  }

  /** The proxy (built now if it was not yet): its `stats`, `clusters`, `currentConfig`, `update()`. */
  get proxy(): HttpProxy {
    if (this.#proxy !== null) return this.#proxy;
    const o = this.#options;
    const overload = o.overloadManager ?? this.#bootstrap?.overloadManager;
    const proxy = createProxy({
      ...o,
      // The bootstrap's overload_manager, unless the options give one.
      ...(overload !== undefined ? { overloadManager: overload } : {}),
      config: this.#snapshot,
      filters: this.#filters,
      drainTimeoutMs: o.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    });
    for (const name of PROXY_EVENTS) {
      proxy.on(name, (...args: unknown[]) => {
        (this.emit as (event: string, ...a: unknown[]) => boolean)(name, ...args);
      });
    }
    this.#proxy = proxy;
    return proxy;
  }

  /**
   * Registers a filter plugin (`defineHttpFilter`) the config may name. Only before the mesh
   * is first used (a `fetch`, `listen()`...): a ConfigError after, since a running proxy's
   * filters are fixed (pass them to `createMesh` instead).
   */
  use(filter: HttpFilter): this {
    if (this.#proxy !== null || this.#state !== 'ready') {
      throw new ConfigError(
        `mesh.use("${filter.name}"): the mesh is in use already; register filters before the first fetch or listen(), or pass them to createMesh`,
      );
    }
    if (!this.#filters.includes(filter)) this.#filters.push(filter);
    return this;
  }

  /**
   * WHATWG `fetch` through the mesh: the URL's host names a virtual host of the egress route
   * configuration (`http://orders/api/orders/7`); no matching virtual host answers 404, as Envoy.
   */
  fetch(input: RequestInfo, init?: RequestInit): Promise<Response> {
    return undiciFetch(input, { ...init, dispatcher: this.dispatcher });
  }

  /** Runs one request through the mesh's egress (undici's `Dispatcher.dispatch` protocol). */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return rejectDispatch(handler, new errors.ClientClosedError());
    }
    const egress = this.#egress();
    if (egress === null) {
      return rejectDispatch(
        handler,
        new ConfigError(
          'mesh: no egress: the config has several route configurations (set `egress` to one) or no listener, route or cluster at all',
        ),
      );
    }
    this.#inFlight++;
    return egress.dispatch(options, new TrackedHandler(handler, this));
  }

  /** @internal A request dispatched by `dispatch` is over. */
  requestDone(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle !== null) this.#idle();
  }

  /**
   * Starts the config's listeners (sidecar or gateway in this process) and the admin server
   * when configured (`admin` option, or the bootstrap's `admin.address`).
   */
  async listen(): Promise<void> {
    if (this.#state !== 'ready') throw new ConfigError(`mesh.listen(): the mesh is ${this.#state}`);
    this.#state = 'listening';
    const proxy = this.proxy;
    await proxy.start();
    const admin = this.#options.admin;
    if (admin === false) return;
    if (admin === undefined && this.#bootstrap?.admin?.address === undefined) return;
    this.#admin = createAdminServer({
      proxy,
      ...(this.#bootstrap !== undefined ? { bootstrap: this.#bootstrap } : {}),
      ...(admin?.port !== undefined ? { port: admin.port } : {}),
      ...(admin?.address !== undefined ? { address: admin.address } : {}),
      ...(admin?.logLevel !== undefined ? { logLevel: admin.logLevel } : {}),
    });
    await this.#admin.start();
  }

  /** The bound address of a listener after `listen()`. */
  address(name: string): AddressInfo | undefined {
    return this.#proxy?.address(name);
  }

  /** The admin server's address after `listen()`, if one runs. */
  get adminAddress(): AddressInfo | undefined {
    const address = this.#admin?.address();
    return typeof address === 'object' ? address : undefined;
  }

  /** Applies a new config (an `XdsSnapshot` or an Envoy bootstrap object), as an xDS update would. */
  async update(config: XdsSnapshot | object): Promise<void> {
    const { snapshot } = configOf(config);
    await this.#apply(snapshot);
  }

  /** @internal A new config version: static resources, then the dynamic ones (xDS). */
  async applyDynamic(dynamic: XdsSnapshot): Promise<void> {
    await this.#apply(merge(this.#static, dynamic));
  }

  async #apply(snapshot: XdsSnapshot): Promise<void> {
    const next = withClusterRoutes(snapshot);
    if (this.#proxy === null) {
      this.#snapshot = next;
      return;
    }
    await this.#proxy.update(next);
  }

  /** @internal Connects to the ADS server; resolves with the first snapshot applied. */
  async connectXds(client: AdsClient, timeoutMs: number): Promise<void> {
    this.#ads = client;
    client.on('status', (status) => this.emit('xds', status));
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ConfigError(`createMesh: no xDS snapshot within ${timeoutMs} ms`));
      }, timeoutMs);
      client.on('snapshot', (snapshot) => {
        this.applyDynamic(snapshot).then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (error: unknown) => {
            this.emit('error', error, 'xds update');
          },
        );
      });
    });
    client.start();
    try {
      await first;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Stops taking requests, lets those in flight (egress and listeners) finish for at most the
   * drain timeout, then closes listeners, upstream pools, the admin server and the xDS stream.
   */
  async close(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    this.#ads?.close();
    const timeoutMs = this.#options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const proxy = this.#proxy;
    if (proxy !== null) {
      const egressDone =
        this.#inFlight === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, timeoutMs);
              timer.unref();
              this.#idle = () => {
                clearTimeout(timer);
                resolve();
              };
            });
      await Promise.all([proxy.lifecycle === 'running' ? proxy.drain(timeoutMs) : undefined, egressDone]);
      await this.#admin?.close();
      await proxy.close();
    }
    this.#state = 'closed';
  }

  /** The egress for this request: by name, resolved once per config version. */
  #egress(): Egress | null {
    const proxy = this.proxy;
    if (this.#egressVersion !== proxy.version) {
      this.#egressVersion = proxy.version;
      this.#egressName = this.#options.egress ?? defaultEgress(proxy.currentConfig);
    }
    const name = this.#egressName;
    if (name === null) return null;
    let egress = this.#egresses.get(name);
    if (egress === undefined) {
      egress = proxy.egress(name);
      this.#egresses.set(name, egress);
    }
    return egress;
  }
}

/** A dispatch handler that tells the mesh when its request is over (for `close()` to drain). */
class TrackedHandler implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  readonly #mesh: Mesh;
  #done = false;

  constructor(inner: Dispatcher.DispatchHandler, mesh: Mesh) {
    this.#inner = inner;
    this.#mesh = mesh;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#inner.onRequestStart?.(controller, context);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    statusText?: string,
  ): void {
    this.#inner.onResponseStart?.(controller, status, headers, statusText);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.#finish();
    this.#inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#finish();
    this.#inner.onResponseError?.(controller, error);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#mesh.requestDone();
  }
}

/** Refuses a dispatch (the mesh is closed, or has no egress): the handler hears why. */
function rejectDispatch(handler: Dispatcher.DispatchHandler, error: Error): boolean {
  failDispatch(handler, error);
  return true;
}

/**
 * The default egress: the config's only route configuration, else its first listener with an
 * HTTP connection manager, else the per-cluster routes; `null` when none applies.
 */
export function defaultEgress(config: XdsSnapshot): string | null {
  const own = [...config.routeConfigurations.keys()].filter((name) => name !== CLUSTER_ROUTES);
  if (own.length === 1) return own[0] as string;
  if (own.length > 1) return null;
  for (const [name, listener] of config.listeners) {
    const chains =
      listener.defaultFilterChain === undefined
        ? listener.filterChains
        : [...listener.filterChains, listener.defaultFilterChain];
    if (chains.some((c) => c.filters.some((f) => f.kind === 'http_connection_manager'))) return name;
  }
  return config.routeConfigurations.has(CLUSTER_ROUTES) ? CLUSTER_ROUTES : null;
}

function isSnapshot(config: object): config is XdsSnapshot {
  return (config as Partial<XdsSnapshot>).listeners instanceof Map;
}

/** A config given as a snapshot or as an Envoy bootstrap object. */
function configOf(config: XdsSnapshot | object): { snapshot: XdsSnapshot; bootstrap: Bootstrap | undefined } {
  if (isSnapshot(config)) return { snapshot: config, bootstrap: undefined };
  const { bootstrap } = parseBootstrap(config, 'config');
  return { snapshot: snapshotOfBootstrap(bootstrap), bootstrap };
}

/** Static resources first: a dynamic resource never replaces a static one of the same name (as Envoy). */
function merge(base: XdsSnapshot, dynamic: XdsSnapshot): XdsSnapshot {
  const union = <V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): Map<string, V> => {
    const out = new Map(b);
    for (const [k, v] of a) out.set(k, v);
    return out;
  };
  return {
    listeners: union(base.listeners, dynamic.listeners),
    routeConfigurations: union(base.routeConfigurations, dynamic.routeConfigurations),
    clusters: union(base.clusters, dynamic.clusters),
    endpoints: union(base.endpoints, dynamic.endpoints),
  };
}

/**
 * Creates a mesh from a config (`XdsSnapshot` or Envoy bootstrap object), a bootstrap file, or
 * an xDS server and node identity. With xDS (given, or the bootstrap's ADS) it resolves once
 * the first snapshot is in. Config errors reject with a `ConfigError` (or `BootstrapError`).
 *
 * @example
 * ```ts
 * import { createMesh } from '@meshlet/sdk';
 * const mesh = await createMesh({ bootstrap: 'mesh.yaml' });
 * const res = await mesh.fetch('http://orders/api/orders/7'); // virtual host "orders"
 * console.log(res.status, await res.json());
 * await mesh.close();
 * ```
 */
export async function createMesh(options: MeshOptions): Promise<Mesh> {
  const sources = [options.config, options.bootstrap, options.xds].filter((s) => s !== undefined).length;
  if (sources !== 1) {
    throw new ConfigError('createMesh: give exactly one of `config`, `bootstrap` (a file path) or `xds`');
  }
  let bootstrap: Bootstrap | undefined;
  let snapshot: XdsSnapshot = EMPTY;
  if (options.bootstrap !== undefined) {
    bootstrap = loadBootstrap(options.bootstrap).bootstrap;
    snapshot = snapshotOfBootstrap(bootstrap);
  } else if (options.config !== undefined) {
    ({ snapshot, bootstrap } = configOf(options.config));
  }
  const mesh = new Mesh(options, bootstrap, snapshot);
  if (options.xds !== undefined) {
    const { server, node, client, initialTimeoutMs } = options.xds;
    await mesh.connectXds(
      createAdsClient({ ...client, server, node }),
      initialTimeoutMs ?? DEFAULT_XDS_TIMEOUT_MS,
    );
  } else if (bootstrap !== undefined && adsServerAddress(bootstrap) !== undefined) {
    await mesh.connectXds(createAdsClient({ bootstrap }), DEFAULT_XDS_TIMEOUT_MS);
  }
  return mesh;
}
