// Test helpers: the real sofa-bolt-node peer (CommonJS, untyped: typed here to the calls the tests
// make), loopback servers, a real cluster from the cluster manager with recorded stats, and a
// promise around one `RpcUpstreams.send`.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Readable, Transform, Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { TimerWheel } from '@meshlet/breaker';
import { ByteQueue } from '@meshlet/buffer';
import type { Protocol, RpcFrame } from '@meshlet/codec';
import type { Host } from '@meshlet/lb';
import { fromEnvoy, TYPE_URLS, type Cluster } from '@meshlet/xds';
import { createClusterManager } from '../../../src/cluster/index.js';
import type { RpcFailure, RpcUpstreams } from '../../../src/rpc/types.js';
import type { RpcConnectionPools } from '../../../src/rpc/upstream/index.js';
import type { UpstreamCluster, UpstreamOutcome, UpstreamStats } from '../../../src/types.js';

const require = createRequire(import.meta.url);

export interface BoltPacket {
  packetId: number;
  packetType: string;
  data?: { args?: unknown[]; methodName?: string; appResponse?: unknown; error?: Error | null };
  options: { protocolType: string; codecType: string; timeout?: number };
}

interface BoltEncoder extends Transform {
  writeResponse(req: BoltPacket, res: object, cb?: (err?: Error) => void): void;
  writeHeartbeatAck(hb: BoltPacket, cb?: (err?: Error) => void): void;
}

interface BoltModule {
  encoder(options?: object): BoltEncoder;
  decoder(options?: object): Writable & Readable;
}

interface BoltWire {
  requestEncode(id: number, req: object, options: object): Buffer;
  decode(buf: Buffer, options?: object): BoltPacket;
}

export const sofaBolt = require('sofa-bolt-node') as BoltModule;
const wire = require('sofa-bolt-node/lib/protocol') as BoltWire;
const kWire = { protocolType: 'bolt', codecType: 'hessian2' } as const;

/** A Bolt request as a sofa-bolt-node client writes it (its encoder reuses a buffer: copied). */
export function boltRequestBytes(id: number, methodName: string, args: unknown[], timeout = 3000): Buffer {
  return Buffer.from(
    wire.requestEncode(
      id,
      { serverSignature: 'meshlet.test.Calculator:1.0', methodName, args, timeout },
      kWire,
    ),
  );
}

/** Decodes a frame's bytes with sofa-bolt-node. */
export function sofaDecode(bytes: Buffer): BoltPacket {
  return wire.decode(bytes);
}

/**
 * How a sofa-bolt-node server answers one request: a value (once `after` settles, if given), or
 * nothing (null: never answers).
 */
export type Answer = { readonly value: unknown; readonly after?: Promise<unknown> } | null;

export interface BoltServer {
  readonly port: number;
  readonly server: Server;
  /** Sockets accepted so far. */
  readonly accepted: Socket[];
  /** Request ids seen, in arrival order. */
  readonly requestIds: number[];
  /** Heartbeats received. */
  heartbeats: number;
  /** Answer heartbeats (default true). */
  answerHeartbeats: boolean;
}

const servers = new Set<Server>();
const sockets = new Set<Socket>();

/** Closes every server and socket the helpers started. */
export async function closeAll(): Promise<void> {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  const closing = [...servers].map(async (server) => {
    server.close();
    if (server.listening) await once(server, 'close');
  });
  servers.clear();
  await Promise.all(closing);
}

/** A loopback TCP server on port 0. */
export async function listen(onSocket: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  servers.add(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * A sofa-bolt-node server (its stream encoder and decoder on each accepted socket): `answer`
 * decides each request's response; heartbeats are acknowledged as SOFA servers do.
 */
export async function boltServer(answer: (request: BoltPacket) => Answer): Promise<BoltServer> {
  const accepted: Socket[] = [];
  const state: BoltServer = {
    port: 0,
    server: undefined as unknown as Server,
    accepted,
    requestIds: [],
    heartbeats: 0,
    answerHeartbeats: true,
  };
  const server = await listen((socket) => {
    accepted.push(socket);
    const encoder = sofaBolt.encoder({ sentReqs: new Map() });
    const decoder = sofaBolt.decoder({ sentReqs: new Map() });
    socket.pipe(decoder);
    encoder.pipe(socket);
    socket.on('error', () => {
      // A client reset: nothing to do.
    });
    decoder.on('request', (request: BoltPacket) => {
      state.requestIds.push(request.packetId);
      const result = answer(request);
      if (result === null) return;
      const respond = (): void => {
        if (!socket.destroyed) {
          encoder.writeResponse(request, { isError: false, appResponse: result.value });
        }
      };
      if (result.after === undefined) respond();
      else void result.after.then(respond);
    });
    decoder.on('heartbeat', (heartbeat: BoltPacket) => {
      state.heartbeats++;
      if (state.answerHeartbeats) encoder.writeHeartbeatAck(heartbeat);
    });
  });
  return Object.assign(state, { port: portOf(server), server });
}

/** Waits (one macrotask turn at a time, never on the clock) until `condition` holds. */
export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  for (let turns = 0; !condition(); turns++) {
    if (turns > 20_000) throw new Error(`${what}: still false`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A promise and its resolver: a server holds a response until the test releases it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A clock and a wheel that move only when the test says: `tick(ms)` advances both. */
export function manualTime(tickMs = 10): { wheel: TimerWheel; tick: (ms: number) => void } {
  let now = 1_000;
  const wheel = new TimerWheel({
    tickMs,
    clock: { now: () => now },
    scheduler: { setTimeout: () => 0, clearTimeout: () => undefined },
  });
  return {
    wheel,
    tick(ms: number) {
      now += ms;
      wheel.advance();
    },
  };
}

/** Stats events, in order, as `event host`. */
export class RecordedStats implements UpstreamStats {
  readonly events: string[] = [];
  requestStarted(): void {
    this.events.push('requestStarted');
  }
  requestEnded(_host: Host, _outcome: UpstreamOutcome): void {
    this.events.push('requestEnded');
  }
  retry(): void {
    this.events.push('retry');
  }
  overflow(): void {
    this.events.push('overflow');
  }
  timeout(): void {
    this.events.push('timeout');
  }
  connectionOpened(host: Host): void {
    this.events.push(`connectionOpened ${host.key}`);
  }
  connectionFailed(host: Host): void {
    this.events.push(`connectionFailed ${host.key}`);
  }
  connectionClosed(host: Host): void {
    this.events.push(`connectionClosed ${host.key}`);
  }
  count(prefix: string): number {
    return this.events.filter((e) => e.startsWith(prefix)).length;
  }
}

/** A real cluster (compiled by the cluster manager) over one loopback port, with recorded stats. */
export function clusterOf(
  port: number,
  connectTimeout = '1s',
): { cluster: UpstreamCluster; host: Host; stats: RecordedStats; close: () => Promise<void> } {
  const name = `rpc-${port}`;
  const model = fromEnvoy({
    '@type': TYPE_URLS.cluster,
    name,
    type: 'STATIC',
    connect_timeout: connectTimeout,
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
          ],
        },
      ],
    },
  }).value as Cluster;
  const manager = createClusterManager();
  manager.update(new Map([[name, model]]), new Map());
  const real = manager.get(name);
  if (real === undefined) throw new Error('no cluster');
  const host = real.pick({});
  if (host === null) throw new Error('no host');
  const stats = new RecordedStats();
  // The real cluster, with stats recorded instead of the no-op ones.
  const cluster: UpstreamCluster = {
    name: real.name,
    config: real.config,
    limits: (priority) => real.limits(priority),
    pick: (context) => real.pick(context),
    dispatcher: (h, protocol) => real.dispatcher(h, protocol),
    protocolFor: (downstream) => real.protocolFor(downstream),
    report: (h, outcome) => {
      real.report(h, outcome);
    },
    stats,
  };
  return { cluster, host, stats, close: () => manager.close() };
}

/** The one outcome of a request. */
export type Outcome =
  | { readonly kind: 'response'; readonly frame: RpcFrame }
  | { readonly kind: 'failure'; readonly failure: RpcFailure; readonly message: string };

/**
 * Sends `frame` and resolves with its outcome; rejects if the handler is called synchronously
 * from `send` or more than once (checked until the test ends via `extra`).
 */
export function call(
  upstreams: RpcUpstreams,
  cluster: UpstreamCluster,
  host: Host,
  protocol: Protocol,
  frame: RpcFrame,
  options: { timeoutMs?: number; oneway?: boolean } = {},
): { outcome: Promise<Outcome>; cancel: () => void; calls: () => number } {
  let calls = 0;
  let sending = true;
  let resolve!: (outcome: Outcome) => void;
  let reject!: (error: Error) => void;
  const outcome = new Promise<Outcome>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const check = (): void => {
    calls++;
    if (sending) reject(new Error('handler called synchronously from send'));
  };
  const handle = upstreams.send(
    cluster,
    host,
    protocol,
    frame,
    { timeoutMs: options.timeoutMs ?? 0, oneway: options.oneway ?? false },
    {
      onResponse(response) {
        check();
        resolve({ kind: 'response', frame: response });
      },
      onFailure(failure, message) {
        check();
        resolve({ kind: 'failure', failure, message });
      },
    },
  );
  sending = false;
  return {
    outcome,
    cancel: () => {
      handle.cancel();
    },
    calls: () => calls,
  };
}

/** One frame decoded from its bytes, as the RPC proxy gets it from a downstream client. */
export function decodeFrame<F extends RpcFrame>(protocol: Protocol<F>, bytes: Buffer): F {
  const queue = new ByteQueue();
  queue.push(bytes);
  const frame = protocol.createCodec().decode(queue);
  if (frame === null) throw new Error('incomplete frame');
  return frame;
}

/**
 * The pools and clusters a test file opens: each test pushes its own, and after each test they
 * are closed, then every server the helpers started. Call once, at the top of the file.
 */
export function upstreamScope(): { opened: RpcConnectionPools[]; clusters: (() => Promise<void>)[] } {
  const opened: RpcConnectionPools[] = [];
  const clusters: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((u) => u.close()));
    await Promise.all(clusters.splice(0).map((close) => close()));
    await closeAll();
  });
  return { opened, clusters };
}
