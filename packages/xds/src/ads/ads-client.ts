// A state-of-the-world ADS client (xDS v3 over one gRPC stream), after Envoy's and gRPC's:
//
//   stream ──► CDS (wildcard) ─► EDS (names from EDS clusters) ─► LDS (wildcard) ─► RDS (names
//              from listeners' rds) — on the first stream LDS waits for the clusters to warm.
//
// Each resource of a response is translated on its own. A response with an invalid resource is
// NACKed (error_detail lists every problem, version_info stays the last fully applied one); its
// valid resources still apply and each invalid one keeps its last good version (gRFC A46, as
// Envoy does for CDS and LDS). Accepted resources are
// joined into a snapshot in which every cluster has its endpoints and every listener its route
// tables: a resource still waiting for what it needs stays out (or stays at its previous
// version). The stream retries with jittered exponential backoff, reset by the first response.
//
// Per-type state is kept apart from the stream (TypeState) so that a delta transport can drive
// the same states: it would send resource_names_subscribe/unsubscribe from the same `names`
// and apply added/removed resources instead of whole sets.
import type * as grpc from '@grpc/grpc-js';
import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'eventemitter3';
import { adsServerAddress } from '../bootstrap.js';
import { ConfigError } from '@meshlet/errors';
import { formatIssue } from '../issues.js';
import { translateResource, type TranslateOptions } from '../translate/index.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  Bootstrap,
  Cluster,
  ClusterLoadAssignment,
  Issue,
  Listener,
  Node,
  RouteConfiguration,
  XdsSnapshot,
} from '../types.js';
import {
  ADS_METHOD,
  type DiscoveryResponse,
  decodeResponse,
  encodeRequest,
  type DiscoveryRequest,
} from './messages.js';

/** Timers the client uses; injectable so tests control time. */
export interface AdsTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Reconnect backoff (gRPC's connection backoff by default). */
export interface AdsBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** Spread of each delay, as a fraction: 0.2 = ±20 %. */
  readonly jitter: number;
}

/** Options of {@link createAdsClient}. */
export interface AdsClientOptions {
  /** `host:port` of the management server; or give `bootstrap`. */
  readonly server?: string;
  /** The node identity sent on the first request of each stream; or give `bootstrap`. */
  readonly node?: Partial<Node> & { readonly id: string };
  /** A bootstrap naming the ADS server (static cluster or target URI) and the node. */
  readonly bootstrap?: Bootstrap;
  /** Default: insecure (plaintext). */
  readonly credentials?: grpc.ChannelCredentials;
  /** Subscribe to listeners (LDS) — default true. */
  readonly listeners?: boolean;
  /** Subscribe to clusters (CDS) — default true. */
  readonly clusters?: boolean;
  /** How long a requested resource may stay unanswered before it is deemed not to exist. Default 15 s. */
  readonly doesNotExistTimeoutMs?: number;
  readonly backoff?: Partial<AdsBackoff>;
  readonly timers?: AdsTimers;
  /** Randomness for the backoff jitter, in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Largest DiscoveryResponse accepted, bytes. Default 64 MiB. */
  readonly maxReceiveMessageLength?: number;
  readonly translate?: TranslateOptions;
}

/** Connection status of the client. */
export type AdsStatus = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Events of an {@link AdsClient}. */
export interface AdsClientEvents {
  /** A new complete, consistent snapshot (the first once the initial resources have warmed). */
  snapshot: [snapshot: XdsSnapshot];
  status: [status: AdsStatus];
  /** A response was applied and ACKed. */
  ack: [info: { readonly typeUrl: string; readonly version: string; readonly nonce: string }];
  /**
   * A response was NACKed: each resource named in `errors` keeps its last good version (one whose
   * name could not be read keeps every resource of its type from being deleted); the valid
   * resources of the response were applied.
   */
  nack: [
    info: {
      readonly typeUrl: string;
      readonly version: string;
      readonly nonce: string;
      readonly errors: readonly Issue[];
    },
  ];
  /** Warnings from an applied response (skipped optional filters...). */
  warning: [issues: readonly Issue[]];
  /** A requested resource did not come within the does-not-exist timeout. */
  resourceDoesNotExist: [info: { readonly typeUrl: string; readonly name: string }];
  /** The stream failed; the client reconnects after `retryInMs`. */
  streamError: [info: { readonly error: Error; readonly retryInMs: number }];
}

const ORDER = [
  TYPE_URLS.cluster,
  TYPE_URLS.clusterLoadAssignment,
  TYPE_URLS.listener,
  TYPE_URLS.routeConfiguration,
] as const;
const WILDCARD = '*';
const INVALID_ARGUMENT = 3;

/** `diagnostics_channel`s `meshlet:xds:ads-ack` and `meshlet:xds:ads-nack` (docs/diagnostics.md). */
const adsAck = channel('meshlet:xds:ads-ack');
const adsNack = channel('meshlet:xds:ads-nack');

/** What the client holds for one resource type. */
class TypeState {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  /** Names subscribed (named types). */
  names = new Set<string>();
  /** Last accepted version and last nonce seen. */
  version = '';
  nonce = '';
  /** Accepted resources by name. */
  resources = new Map<string, unknown>();
  /** The bytes each accepted resource came as: an identical resource keeps its model object. */
  raw = new Map<string, Uint8Array>();
  /** Names (or '*') that did not come in time. */
  doesNotExist = new Set<string>();
  /** A response (or a does-not-exist) settled the initial wildcard request. */
  settled = false;
  /** Subscribed on the current stream. */
  requested = false;
  timers = new Map<string, unknown>();
  constructor(typeUrl: string, wildcard: boolean) {
    this.typeUrl = typeUrl;
    this.wildcard = wildcard;
  }
}

type GrpcModule = typeof grpc;
let grpcLoading: Promise<GrpcModule> | undefined;

/** @grpc/grpc-js, imported on first use: translation alone never pays for it. */
export function loadGrpc(): Promise<GrpcModule> {
  grpcLoading ??= import('@grpc/grpc-js');
  return grpcLoading;
}

const realTimers: AdsTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => {
    clearTimeout(h as NodeJS.Timeout);
  },
};

/**
 * A state-of-the-world ADS client. Create it with {@link createAdsClient}, listen to `snapshot`,
 * call `start()`. It keeps serving (emitting) the last good configuration through NACKs and
 * reconnects.
 */
export class AdsClient extends EventEmitter<AdsClientEvents> {
  /** The last snapshot emitted, if any. */
  snapshot: XdsSnapshot | undefined = undefined;
  /** Current connection status. */
  status: AdsStatus = 'idle';
  private readonly server: string;
  private readonly node: Node;
  private credentials: grpc.ChannelCredentials | undefined;
  private grpc: GrpcModule | undefined;
  private readonly dneMs: number;
  private readonly backoff: AdsBackoff;
  private readonly timers: AdsTimers;
  private readonly random: () => number;
  private readonly maxReceive: number;
  private readonly translateOptions: TranslateOptions;
  private readonly states = new Map<string, TypeState>();
  private client: grpc.Client | undefined;
  private call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  private nodeSent = false;
  private attempts = 0;
  private retryTimer: unknown;
  private closed = false;

  constructor(options: AdsClientOptions) {
    super();
    const server = options.server ?? (options.bootstrap ? adsServerAddress(options.bootstrap) : undefined);
    if (!server)
      throw new ConfigError('createAdsClient: give `server` (host:port) or a `bootstrap` with an ads_config');
    const node = options.node ?? options.bootstrap?.node;
    if (!node?.id) throw new ConfigError('createAdsClient: give `node` with an id (or a bootstrap with one)');
    this.server = server;
    this.node = { cluster: '', metadata: {}, userAgentName: 'meshlet', ...node };
    this.credentials = options.credentials;
    this.dneMs = options.doesNotExistTimeoutMs ?? 15_000;
    this.backoff = { initialMs: 1000, maxMs: 120_000, multiplier: 1.6, jitter: 0.2, ...options.backoff };
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.maxReceive = options.maxReceiveMessageLength ?? 64 * 1024 * 1024;
    this.translateOptions = options.translate ?? {};
    if (options.clusters !== false) {
      this.states.set(TYPE_URLS.cluster, new TypeState(TYPE_URLS.cluster, true));
      this.states.set(TYPE_URLS.clusterLoadAssignment, new TypeState(TYPE_URLS.clusterLoadAssignment, false));
    }
    if (options.listeners !== false) {
      this.states.set(TYPE_URLS.listener, new TypeState(TYPE_URLS.listener, true));
      this.states.set(TYPE_URLS.routeConfiguration, new TypeState(TYPE_URLS.routeConfiguration, false));
    }
  }

  /** Opens the stream (once @grpc/grpc-js is loaded: it is imported on first use, not at start-up). */
  start(): this {
    if (this.closed) throw new ConfigError('this ADS client is closed');
    if (this.client || this.retryTimer !== undefined || this.status === 'connecting') return this;
    this.setStatus('connecting');
    loadGrpc().then(
      (mod) => {
        this.grpc = mod;
        this.credentials ??= mod.credentials.createInsecure();
        if (!this.closed) this.connect();
      },
      (err: unknown) => {
        this.emit('streamError', {
          error: err instanceof Error ? err : new Error(String(err)),
          retryInMs: -1,
        });
      },
    );
    return this;
  }

  /** Closes the stream and stops reconnecting; the last snapshot stays readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopTimers();
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.client?.close();
    this.client = undefined;
    this.setStatus('closed');
  }

  private setStatus(s: AdsStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.emit('status', s);
  }

  private connect(): void {
    this.retryTimer = undefined;
    // A channel of its own per stream attempt (and no shared subchannel): this client's backoff
    // alone paces the retries, not a channel's reconnect backoff stacked on top of it.
    const grpcMod = this.grpc as GrpcModule;
    this.client ??= new grpcMod.Client(this.server, this.credentials as grpc.ChannelCredentials, {
      'grpc.max_receive_message_length': this.maxReceive,
      'grpc.use_local_subchannel_pool': 1,
    });
    this.setStatus('connecting');
    this.nodeSent = false;
    const call = this.client.makeBidiStreamRequest<DiscoveryRequest, DiscoveryResponse>(
      ADS_METHOD,
      encodeRequest,
      decodeResponse,
    );
    this.call = call;
    call.on('data', (res: DiscoveryResponse) => {
      if (this.call === call) this.onResponse(res);
    });
    const ended = (err?: Error): void => {
      if (this.call !== call) return;
      this.call = undefined;
      this.onStreamEnd(err ?? new Error('the ADS stream ended'));
    };
    call.on('error', ended);
    call.on('end', () => {
      ended();
    });
    // Nonces belong to a stream; versions carry over (the server may skip what the client has).
    for (const s of this.states.values()) {
      s.requested = false;
      s.nonce = '';
    }
    // On the first stream, listeners wait for the clusters to warm (CDS → EDS → LDS → RDS).
    for (const url of ORDER) {
      const s = this.states.get(url);
      if (!s) continue;
      if (url === TYPE_URLS.listener && !this.clustersWarm()) break;
      if (!s.wildcard && s.names.size === 0) continue;
      this.request(s);
    }
  }

  private onStreamEnd(err: Error): void {
    this.stopTimers();
    this.client?.close();
    this.client = undefined;
    if (this.closed) return;
    this.setStatus('disconnected');
    const base = Math.min(
      this.backoff.initialMs * this.backoff.multiplier ** this.attempts,
      this.backoff.maxMs,
    );
    const delay = Math.max(0, Math.round(base * (1 + this.backoff.jitter * (this.random() * 2 - 1))));
    this.attempts++;
    this.emit('streamError', { error: err, retryInMs: delay });
    this.retryTimer = this.timers.setTimeout(() => {
      if (!this.closed) this.connect();
    }, delay);
  }

  private stopTimers(): void {
    for (const s of this.states.values()) {
      for (const h of s.timers.values()) this.timers.clearTimeout(h);
      s.timers.clear();
    }
  }

  /** Sends the subscription of a type (an ACK when it follows a response) and arms does-not-exist timers. */
  private request(s: TypeState, errorDetail?: { code: number; message: string }): void {
    const call = this.call;
    if (!call) return;
    const req: { -readonly [K in keyof DiscoveryRequest]: DiscoveryRequest[K] } = {
      versionInfo: s.version,
      resourceNames: s.wildcard ? [] : [...s.names].sort(),
      typeUrl: s.typeUrl,
      responseNonce: s.nonce,
    };
    if (!this.nodeSent) {
      req.node = this.node;
      this.nodeSent = true;
    }
    if (errorDetail) req.errorDetail = errorDetail;
    s.requested = true;
    call.write(req);
    this.armTimers(s);
  }

  private armTimers(s: TypeState): void {
    const wanted = s.wildcard
      ? s.settled
        ? []
        : [WILDCARD]
      : [...s.names].filter((n) => !s.resources.has(n) && !s.doesNotExist.has(n));
    for (const name of wanted) {
      if (s.timers.has(name)) continue;
      s.timers.set(
        name,
        this.timers.setTimeout(() => {
          s.timers.delete(name);
          this.onDoesNotExist(s, name);
        }, this.dneMs),
      );
    }
  }

  private onDoesNotExist(s: TypeState, name: string): void {
    if (name === WILDCARD) s.settled = true;
    else s.doesNotExist.add(name);
    this.emit('resourceDoesNotExist', { typeUrl: s.typeUrl, name });
    this.afterChange();
  }

  private onResponse(res: DiscoveryResponse): void {
    // The first response of a stream proves the server works: the backoff starts over (gRFC A57).
    this.attempts = 0;
    this.setStatus('connected');
    const s = this.states.get(res.typeUrl);
    if (!s) return; // a type we never asked for: nothing to ACK on
    s.nonce = res.nonce;
    const errors: Issue[] = [];
    const warnings: Issue[] = [];
    const accepted = new Map<string, unknown>();
    const raw = new Map<string, Uint8Array>();
    // Names of the invalid resources: each keeps the version it had (gRFC A46, as Envoy's CDS/LDS).
    const invalid = new Set<string>();
    // An invalid resource whose name is unknown: absence from this response proves nothing.
    let unnamedInvalid = false;
    for (const [i, r] of res.resources.entries()) {
      if (r.typeUrl !== res.typeUrl) {
        errors.push({
          severity: 'error',
          resource: `resources[${i}]`,
          path: '',
          message: `type ${r.typeUrl} in a ${res.typeUrl} response`,
        });
        unnamedInvalid = true;
        continue;
      }
      const out = translateResource(r, undefined, this.translateOptions);
      warnings.push(...out.warnings);
      if (!out.ok) {
        errors.push(...out.errors);
        if (out.name) invalid.add(out.name);
        else unnamedInvalid = true;
        continue;
      }
      const { name, value } = out.resource;
      if (accepted.has(name) || invalid.has(name)) {
        errors.push({
          severity: 'error',
          resource: `${out.resource.kind} ${JSON.stringify(name)}`,
          path: '',
          message: 'named twice in one response',
        });
        // Neither copy is applied: which one the server meant is unknown.
        accepted.delete(name);
        raw.delete(name);
        invalid.add(name);
        continue;
      }
      // Unchanged resources keep their identity, so that a consumer sees what really changed.
      const before = s.raw.get(name);
      accepted.set(name, before && Buffer.compare(before, r.value) === 0 ? s.resources.get(name) : value);
      raw.set(name, r.value);
    }
    // The valid resources apply even when others in the response are NACKed (gRFC A46; Envoy
    // keeps the clusters and listeners of a rejected CDS/LDS update that did apply).
    if (s.wildcard) {
      // Absence from a LDS/CDS response means deletion, except for what could not be read.
      for (const [name, value] of s.resources) {
        if (accepted.has(name) || !(unnamedInvalid || invalid.has(name))) continue;
        accepted.set(name, value);
        raw.set(name, s.raw.get(name) as Uint8Array);
      }
      s.resources = accepted;
      s.raw = raw;
      s.settled = true;
    } else {
      for (const [name, value] of accepted) {
        if (!s.names.has(name)) continue; // not asked for: ignored
        s.resources.set(name, value);
        s.raw.set(name, raw.get(name) as Uint8Array);
        s.doesNotExist.delete(name);
      }
    }
    for (const [name, h] of s.timers)
      if (name === WILDCARD || s.resources.has(name) || invalid.has(name)) {
        this.timers.clearTimeout(h);
        s.timers.delete(name);
      }
    if (errors.length) {
      // NACK: the version stays the last one applied whole; error_detail lists every problem.
      const message = errors.map(formatIssue).join('\n');
      this.request(s, { code: INVALID_ARGUMENT, message });
      this.emit('nack', { typeUrl: s.typeUrl, version: res.versionInfo, nonce: res.nonce, errors });
      if (adsNack.hasSubscribers)
        adsNack.publish({
          client: this,
          typeUrl: s.typeUrl,
          version: res.versionInfo,
          nonce: res.nonce,
          errors,
        });
    } else {
      s.version = res.versionInfo;
      this.request(s); // the ACK
      this.emit('ack', { typeUrl: s.typeUrl, version: s.version, nonce: s.nonce });
      if (adsAck.hasSubscribers)
        adsAck.publish({ client: this, typeUrl: s.typeUrl, version: s.version, nonce: s.nonce });
    }
    if (warnings.length) this.emit('warning', warnings);
    this.afterChange();
  }

  /** Updates the named subscriptions from what clusters and listeners reference, then the snapshot. */
  private afterChange(): void {
    const cds = this.states.get(TYPE_URLS.cluster);
    const eds = this.states.get(TYPE_URLS.clusterLoadAssignment);
    const lds = this.states.get(TYPE_URLS.listener);
    const rds = this.states.get(TYPE_URLS.routeConfiguration);
    if (cds && eds) this.resubscribe(eds, edsNames(cds.resources as Map<string, Cluster>));
    if (lds && rds) {
      // The listeners' request goes out once the clusters have warmed.
      if (!lds.requested && this.clustersWarm()) this.request(lds);
      this.resubscribe(rds, rdsNames(lds.resources as Map<string, Listener>));
    }
    this.publish();
  }

  private resubscribe(s: TypeState, names: Set<string>): void {
    if (sameSet(s.names, names)) return;
    for (const n of s.names)
      if (!names.has(n)) {
        s.resources.delete(n);
        s.raw.delete(n);
        s.doesNotExist.delete(n);
        const h = s.timers.get(n);
        if (h !== undefined) this.timers.clearTimeout(h);
        s.timers.delete(n);
      }
    s.names = names;
    this.request(s);
  }

  private clustersWarm(): boolean {
    const cds = this.states.get(TYPE_URLS.cluster);
    if (!cds) return true;
    if (!cds.settled) return false;
    const eds = this.states.get(TYPE_URLS.clusterLoadAssignment);
    for (const c of (cds.resources as Map<string, Cluster>).values())
      if (c.type === 'EDS' && eds) {
        const key = c.edsServiceName ?? c.name;
        if (!eds.resources.has(key) && !eds.doesNotExist.has(key)) return false;
      }
    return true;
  }

  private publish(): void {
    const next = this.build();
    if (!next) return;
    const prev = this.snapshot;
    if (
      prev &&
      sameMap(prev.listeners, next.listeners) &&
      sameMap(prev.clusters, next.clusters) &&
      sameMap(prev.routeConfigurations, next.routeConfigurations) &&
      sameMap(prev.endpoints, next.endpoints)
    )
      return;
    this.snapshot = next;
    this.emit('snapshot', next);
  }

  /** The snapshot of what is warm; undefined while the initial resources are still warming. */
  private build(): XdsSnapshot | undefined {
    const prev = this.snapshot;
    const cds = this.states.get(TYPE_URLS.cluster);
    const eds = this.states.get(TYPE_URLS.clusterLoadAssignment);
    const lds = this.states.get(TYPE_URLS.listener);
    const rds = this.states.get(TYPE_URLS.routeConfiguration);
    let pending = false;
    const clusters = new Map<string, Cluster>();
    const endpoints = new Map<string, ClusterLoadAssignment>();
    for (const [name, c] of (cds?.resources ?? new Map<string, Cluster>()) as Map<string, Cluster>) {
      if (c.type !== 'EDS') {
        clusters.set(name, c);
        continue;
      }
      const key = c.edsServiceName ?? c.name;
      const cla = eds?.resources.get(key) as ClusterLoadAssignment | undefined;
      if (cla) {
        clusters.set(name, c);
        endpoints.set(key, cla);
      } else if (eds?.doesNotExist.has(key)) {
        clusters.set(name, c);
        endpoints.set(key, {
          clusterName: key,
          endpoints: [],
          policy: { overprovisioningFactor: 140, dropOverloads: [] },
        });
      } else {
        pending = true;
        // Still warming: an update keeps serving the version it replaces.
        const old = prev?.clusters.get(name);
        if (old) {
          clusters.set(name, old);
          const oldKey = old.edsServiceName ?? old.name;
          const oldCla = prev?.endpoints.get(oldKey);
          if (oldCla) endpoints.set(oldKey, oldCla);
        }
      }
    }
    const listeners = new Map<string, Listener>();
    const routes = new Map<string, RouteConfiguration>();
    for (const [name, l] of (lds?.resources ?? new Map<string, Listener>()) as Map<string, Listener>) {
      const needed = rdsNames(new Map([[name, l]]));
      const have = [...needed].every((n) => rds?.resources.has(n));
      if (have) {
        listeners.set(name, l);
        for (const n of needed) routes.set(n, rds?.resources.get(n) as RouteConfiguration);
        continue;
      }
      if (![...needed].every((n) => (rds?.resources.has(n) ?? false) || (rds?.doesNotExist.has(n) ?? false)))
        pending = true;
      const old = prev?.listeners.get(name);
      if (old) {
        listeners.set(name, old);
        for (const n of rdsNames(new Map([[name, old]]))) {
          const r = prev?.routeConfigurations.get(n);
          if (r) routes.set(n, r);
        }
      }
    }
    if (!prev) {
      // The first snapshot waits for the initial responses and for everything to warm.
      if ((cds && !cds.settled) || (lds && (!lds.requested || !lds.settled)) || pending) return undefined;
    }
    return { listeners, routeConfigurations: routes, clusters, endpoints };
  }
}

function edsNames(clusters: Map<string, Cluster>): Set<string> {
  const names = new Set<string>();
  for (const c of clusters.values()) if (c.type === 'EDS') names.add(c.edsServiceName ?? c.name);
  return names;
}

function rdsNames(listeners: Map<string, Listener>): Set<string> {
  const names = new Set<string>();
  for (const l of listeners.values())
    for (const chain of l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains)
      for (const f of chain.filters)
        if (f.kind === 'http_connection_manager' && f.config.rds) names.add(f.config.rds.routeConfigName);
  return names;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function sameMap<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * Creates a state-of-the-world ADS client. Listen to `snapshot` for complete, consistent
 * configurations; `nack`, `streamError`, `status` and `resourceDoesNotExist` tell what happens.
 *
 * @example
 * ```ts
 * const ads = createAdsClient({ server: '127.0.0.1:18000', node: { id: 'shop-1', cluster: 'shop' } });
 * ads.on('snapshot', (s) => proxy.apply(s));
 * ads.on('nack', ({ errors }) => console.warn(errors.map(formatIssue).join('\n')));
 * ads.start();
 * ```
 */
export function createAdsClient(options: AdsClientOptions): AdsClient {
  return new AdsClient(options);
}
