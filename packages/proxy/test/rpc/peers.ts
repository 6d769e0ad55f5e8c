// Real RPC peers for the RPC proxy's tests: sofa-bolt-node servers and clients (CommonJS,
// untyped, typed here to the calls the tests make), and builders of rpc_proxy configs.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable, Transform, Writable } from 'node:stream';
import { ByteQueue, bolt } from '@meshlet/codec';
import type { Protocol, RpcFrame } from '@meshlet/codec';
import type * as model from '@meshlet/xds';
import { createProxy } from '../../src/index.js';
import type { HttpFilter } from '../../src/types.js';
import { chainMatch, cluster, listener, snapshot } from '../e2e/helpers.js';

const require = createRequire(import.meta.url);

/** A packet as sofa-bolt-node's decoder emits it. */
export interface BoltPacket {
  packetId: number;
  packetType: 'request' | 'response' | 'heartbeat' | 'heartbeat_ack';
  data: {
    args: unknown[];
    serverSignature: string;
    methodName: string;
    requestProps?: Record<string, unknown>;
    appResponse?: unknown;
    error?: Error | null;
  };
  options: { timeout?: number };
}

interface BoltEncoder extends Transform {
  writeResponse(req: BoltPacket, res: object, cb?: (err?: Error) => void): void;
}

interface BoltModule {
  encoder(options?: object): BoltEncoder;
  decoder(options?: object): Writable & Readable;
  RpcClient: new (options: object) => BoltRpcClient;
}

/** sofa-bolt-node's RpcClient: one connection, requests multiplexed on it. */
export interface BoltRpcClient {
  ready(): Promise<void>;
  invoke(req: object): Promise<BoltPacket>;
  oneway(req: object): void;
  close(): Promise<void>;
  readonly conn: { writeHeartbeat(hb: object): Promise<BoltPacket> };
}

export const sofaBolt = require('sofa-bolt-node') as BoltModule;

/** What a test Bolt server does with a request: answer (now, later) or never. */
export type BoltBehaviour = (req: BoltPacket, answer: (value: unknown) => void) => void;

/** A sofa-bolt-node server on loopback. */
export interface BoltServer {
  readonly port: number;
  /** Requests received, in order. */
  readonly requests: BoltPacket[];
  /** Connections accepted. */
  connections: number;
  /** Destroys every connection and stops listening (a crash). */
  kill(): void;
  close(): Promise<void>;
}

/** Echoes `name` and its first argument: `name:arg`. */
export function echo(name: string): BoltBehaviour {
  return (req, answer) => {
    answer(`${name}:${String(req.data.args[0])}`);
  };
}

/** Starts a sofa-bolt-node server; `behaviour` answers each request (default: echo `bolt`). */
export async function startBoltServer(behaviour: BoltBehaviour = echo('bolt')): Promise<BoltServer> {
  const sockets = new Set<Socket>();
  const requests: BoltPacket[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    out.connections++;
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const encoder = sofaBolt.encoder({ sentReqs: new Map() });
    const decoder = sofaBolt.decoder({ sentReqs: new Map() });
    socket.pipe(decoder);
    encoder.pipe(socket);
    decoder.on('error', () => socket.destroy());
    decoder.on('heartbeat', (hb: BoltPacket) => {
      (encoder as unknown as { writeHeartbeatAck(hb: BoltPacket): void }).writeHeartbeatAck(hb);
    });
    decoder.on('request', (req: BoltPacket) => {
      requests.push(req);
      behaviour(req, (value) => {
        if (socket.destroyed) return;
        encoder.writeResponse(req, {
          isError: false,
          appResponse: { $class: 'java.lang.String', $: value },
        });
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const out: BoltServer = {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: 0,
    kill: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
  return out;
}

/** A sofa-bolt-node RpcClient connected to `port`. */
export async function boltClient(port: number): Promise<BoltRpcClient> {
  const client = new sofaBolt.RpcClient({
    address: new URL(`bolt://127.0.0.1:${port}`),
    logger: { info: noop, warn: noop, error: noop, debug: noop },
  });
  await client.ready();
  return client;
}

function noop(): void {
  // quiet
}

/** A Bolt request for `invoke`. */
export function boltRequest(service: string, method: string, arg: unknown, timeout = 3000): object {
  return { serverSignature: service, methodName: method, args: [arg], timeout };
}

/** An rpc_proxy network filter. */
export function rpcProxyFilter(config: Partial<model.RpcProxy> & { protocol: string }): model.RpcProxyFilter {
  return {
    name: 'meshlet.rpc_proxy',
    kind: 'rpc_proxy',
    config: { statPrefix: 'rpc', routes: [], ...config },
  };
}

/** A route on `service` (exact) and optionally `method` to `cluster`. */
export function rpcRoute(clusterName: string, more: Partial<model.RpcRoute> = {}): model.RpcRoute {
  return { match: { headers: [] }, cluster: clusterName, ...more };
}

/** A snapshot with one `rpc` listener serving `config`, and STATIC clusters of loopback ports. */
export function rpcSnapshot(
  config: Partial<model.RpcProxy> & { protocol: string },
  clusters: Record<string, number[]>,
  more: { clusters?: Partial<Record<string, Partial<model.Cluster>>> } = {},
): model.XdsSnapshot {
  const chain: model.FilterChain = {
    name: 'rpc',
    filterChainMatch: chainMatch(),
    filters: [rpcProxyFilter(config)],
  };
  return snapshot({
    listeners: [listener('rpc', [chain])],
    clusters: Object.entries(clusters).map(([name, ports]) =>
      cluster(name, ports, more.clusters?.[name] ?? {}),
    ),
  });
}

interface BoltWire {
  requestEncode(id: number, req: object, options: object): Buffer;
}
const wire = require('sofa-bolt-node/lib/protocol') as BoltWire;

/**
 * One request encoded by sofa-bolt-node on a raw socket, its response decoded with meshlet's
 * Bolt codec: for tests that check the response status itself (sofa-bolt-node's client turns
 * every error status into the same message).
 */
export async function rawBoltCall(port: number, service: string, method = 'call'): Promise<RpcFrame> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  try {
    await once(socket, 'connect');
    socket.write(
      Buffer.from(
        wire.requestEncode(
          9,
          { serverSignature: service, methodName: method, args: [], timeout: 3000 },
          { protocolType: 'bolt', codecType: 'hessian2' },
        ),
      ),
    );
    const codec = bolt.createCodec();
    const queue = new ByteQueue();
    for await (const chunk of socket) {
      queue.push(chunk as Buffer);
      const frame = codec.decode(queue);
      if (frame !== null) return frame;
    }
    throw new Error('closed without a response');
  } finally {
    socket.destroy();
  }
}

/** What {@link startRpcProxy} adds to the proxy's options. */
export interface RpcProxyExtras {
  readonly filters?: readonly HttpFilter[];
  readonly protocols?: readonly Protocol[];
  readonly clusters?: Partial<Record<string, Partial<model.Cluster>>>;
}

/**
 * Starts a proxy (createProxy) with one `rpc` listener serving `config`, and STATIC clusters of
 * loopback ports; `cleanups` gets its close. Resolves to the listener's port.
 */
export async function startRpcProxy(
  cleanups: (() => unknown)[],
  config: Partial<model.RpcProxy> & { protocol: string },
  clusters: Record<string, number[]>,
  extras: RpcProxyExtras = {},
): Promise<number> {
  const proxy = createProxy({
    config: rpcSnapshot(config, clusters, extras.clusters === undefined ? {} : { clusters: extras.clusters }),
    ...(extras.filters === undefined ? {} : { filters: extras.filters }),
    ...(extras.protocols === undefined ? {} : { protocols: extras.protocols }),
  });
  cleanups.push(() => proxy.close());
  await proxy.start();
  return proxy.address('rpc')?.port ?? 0;
}
