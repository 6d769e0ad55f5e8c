// An ADS server that serves snapshots set in code: for tests (meshlet's own, and users' tests of
// code that takes xDS), demos and examples. It speaks state-of-the-world xDS v3 like
// go-control-plane's snapshot cache: per stream and per type, it sends the current version of
// what is subscribed (everything for a wildcard request, the named resources otherwise) whenever
// the version or the subscription changes, and records every request, ACK and NACK.
import type * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'eventemitter3';
import { type EncodedAny, encodeResource } from '../proto/encode.js';
import { TYPE_URLS } from '../type-urls.js';
import { loadGrpc } from './ads-client.js';
import {
  ADS_METHOD,
  type DiscoveryRequest,
  type DiscoveryResponse,
  decodeRequest,
  encodeResponse,
} from './messages.js';

/** Resources as Envoy JSON/YAML objects (snake_case or camelCase), or already-encoded Anys. */
export type ControlPlaneResource = object | EncodedAny;

/** What the control plane serves: one version of each kind. */
export interface ControlPlaneSnapshot {
  /** Version of every type in this snapshot. */
  readonly version: string;
  readonly listeners?: readonly ControlPlaneResource[];
  readonly routes?: readonly ControlPlaneResource[];
  readonly clusters?: readonly ControlPlaneResource[];
  readonly endpoints?: readonly ControlPlaneResource[];
}

/** A request the control plane received, with the stream it came on. */
export interface ReceivedRequest extends DiscoveryRequest {
  readonly stream: number;
  readonly nodeId?: string;
}

/** Events of a {@link TestControlPlane}. */
export interface TestControlPlaneEvents {
  request: [request: ReceivedRequest];
  /** A client rejected a response (a request carrying error_detail). */
  nack: [request: ReceivedRequest];
  /** A response went out. */
  response: [
    info: {
      readonly stream: number;
      readonly typeUrl: string;
      readonly version: string;
      readonly nonce: string;
      readonly names: readonly string[];
    },
  ];
}

/** Options of {@link createTestControlPlane}. */
export interface TestControlPlaneOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
}

interface Named {
  readonly name: string;
  readonly any: EncodedAny;
}

interface StreamTypeState {
  names: readonly string[];
  sentVersion: string | undefined;
  subscribed: boolean;
}

interface Stream {
  readonly id: number;
  readonly call: grpc.ServerDuplexStream<DiscoveryRequest & { nodeId?: string }, DiscoveryResponse>;
  readonly types: Map<string, StreamTypeState>;
}

const KEYS = [
  ['listeners', TYPE_URLS.listener],
  ['routes', TYPE_URLS.routeConfiguration],
  ['clusters', TYPE_URLS.cluster],
  ['endpoints', TYPE_URLS.clusterLoadAssignment],
] as const;

function isEncoded(r: ControlPlaneResource): r is EncodedAny {
  return 'typeUrl' in r && r.value instanceof Uint8Array;
}

function nameOf(r: ControlPlaneResource): string {
  const o = r as Record<string, unknown>;
  const n = o.name ?? o.cluster_name ?? o.clusterName;
  return typeof n === 'string' ? n : '';
}

/**
 * An in-process ADS server for tests and demos, serving snapshots set in code.
 *
 * @example
 * ```ts
 * const cp = createTestControlPlane();
 * const address = await cp.start(); // '127.0.0.1:PORT'
 * cp.setSnapshot({ version: '1', clusters: [{ name: 'carts', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }],
 *   endpoints: [{ cluster_name: 'carts', endpoints: [{ lb_endpoints: [...] }] }] });
 * const ads = createAdsClient({ server: address, node: { id: 'test' } }).start();
 * ```
 */
export class TestControlPlane extends EventEmitter<TestControlPlaneEvents> {
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[] = [];
  private readonly host: string;
  private port: number;
  private server: grpc.Server | undefined;
  private readonly streams = new Set<Stream>();
  private resources = new Map<string, Named[]>();
  private version = '';
  private nextStream = 1;
  private nonce = 0;

  constructor(options: TestControlPlaneOptions = {}) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
  }

  /** `host:port` once started. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Starts listening; resolves to `host:port`. */
  async start(): Promise<string> {
    const grpcMod = await loadGrpc();
    const server = new grpcMod.Server();
    server.addService(
      {
        StreamAggregatedResources: {
          path: ADS_METHOD,
          requestStream: true,
          responseStream: true,
          requestSerialize: () => Buffer.alloc(0),
          requestDeserialize: decodeRequest,
          responseSerialize: encodeResponse,
          responseDeserialize: () => ({}),
        },
      },
      {
        StreamAggregatedResources: (call: Stream['call']) => {
          this.onStream(call);
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`,
        grpcMod.ServerCredentials.createInsecure(),
        (err, port) => {
          if (err) reject(err);
          else resolve(port);
        },
      );
    });
    this.server = server;
    return this.address;
  }

  /**
   * Replaces what is served and pushes it to every stream subscribed. Resources are Envoy JSON
   * (validated and encoded now: a resource that does not fit its type throws) or encoded Anys
   * (sent as they are, for tests of hostile input).
   */
  setSnapshot(snapshot: ControlPlaneSnapshot): void {
    const next = new Map<string, Named[]>();
    for (const [k, url] of KEYS) {
      const list = snapshot[k] ?? [];
      next.set(
        url,
        list.map((r) =>
          isEncoded(r)
            ? { name: '', any: r }
            : {
                name: nameOf(r),
                any: encodeResource(
                  r,
                  typeof (r as { '@type'?: unknown })['@type'] === 'string' ? undefined : url,
                ),
              },
        ),
      );
    }
    // Encoded Anys carry their name inside; decoding them here would defeat hostile tests, so
    // they are sent to every subscriber of their type.
    this.resources = next;
    this.version = snapshot.version;
    for (const s of this.streams) for (const [url, t] of s.types) if (t.subscribed) this.maybeSend(s, url, t);
  }

  /** Ends every stream and stops the server. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.streams) s.call.end();
    this.streams.clear();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.tryShutdown(() => {
        resolve();
      });
      // Streams that do not end by themselves are cut.
      setImmediate(() => {
        server.forceShutdown();
      });
    });
  }

  private onStream(call: Stream['call']): void {
    const stream: Stream = { id: this.nextStream++, call, types: new Map() };
    this.streams.add(stream);
    call.on('data', (req: DiscoveryRequest & { nodeId?: string }) => {
      this.onRequest(stream, req);
    });
    const end = (): void => {
      this.streams.delete(stream);
    };
    call.on('end', () => {
      end();
      call.end();
    });
    call.on('error', end);
    call.on('cancelled', end);
  }

  private onRequest(stream: Stream, req: DiscoveryRequest & { nodeId?: string }): void {
    const received: ReceivedRequest = { ...req, stream: stream.id };
    this.requests.push(received);
    this.emit('request', received);
    if (req.errorDetail) this.emit('nack', received);
    let t = stream.types.get(req.typeUrl);
    if (!t) {
      t = { names: [], sentVersion: undefined, subscribed: false };
      stream.types.set(req.typeUrl, t);
    }
    const names = [...req.resourceNames].sort();
    // A new subscription, or a changed one, gets an answer now; an ACK or a NACK only when a
    // newer version exists (a NACKed version is not sent again).
    const changed = !t.subscribed || t.names.join('\0') !== names.join('\0');
    t.names = names;
    t.subscribed = true;
    this.maybeSend(stream, req.typeUrl, t, changed);
  }

  private maybeSend(stream: Stream, typeUrl: string, t: StreamTypeState, force = false): void {
    const all = this.resources.get(typeUrl);
    if (!all || this.version === '') return;
    if (!force && t.sentVersion === this.version) return;
    const wanted = t.names.length === 0 ? all : all.filter((r) => r.name === '' || t.names.includes(r.name));
    const nonce = String(++this.nonce);
    t.sentVersion = this.version;
    stream.call.write({ versionInfo: this.version, resources: wanted.map((r) => r.any), typeUrl, nonce });
    this.emit('response', {
      stream: stream.id,
      typeUrl,
      version: this.version,
      nonce,
      names: wanted.map((r) => r.name),
    });
  }
}

/** Creates a {@link TestControlPlane}; call `start()` to listen. */
export function createTestControlPlane(options?: TestControlPlaneOptions): TestControlPlane {
  return new TestControlPlane(options);
}
