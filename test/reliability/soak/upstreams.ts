// The soak's upstream instances: HTTP/1.1 (node:http), gRPC (@grpc/grpc-js) and Bolt
// (sofa-bolt-node), each on a fixed loopback port so that it can be restarted in place: `restart`
// kills it abruptly (listening socket closed, every connection destroyed, as a crashed or
// SIGKILLed process would), keeps it down for a while (connections refused), then serves again on
// the same port. Every instance answers with an echo of the request, so the client can check the
// answer it got is the one it asked for, whichever instance served it.
import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { GRPC_ECHO_PATH } from './config.ts';

/** An upstream instance that can be killed and started again on its port. */
export interface Upstream {
  readonly name: string;
  /** Its port (fixed after the first start). */
  readonly port: number;
  /** Requests it answered. */
  readonly served: number;
  start(): Promise<void>;
  /** Kills it: the listening socket and every connection go at once. */
  kill(): Promise<void>;
}

/** The body an HTTP instance answers `path` with. */
export const httpEcho = (path: string): string => `echo ${path}`;

class HttpUpstream implements Upstream {
  port = 0;
  served = 0;
  private server: http.Server | null = null;

  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.served++;
      // The whole answer in one write: an instance killed between two events never leaves half a
      // response behind, so what the client sees of a kill is down to the proxy.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(httpEcho(req.url ?? ''));
    });
    server.keepAliveTimeout = 60_000;
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async kill(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
  }
}

/** The gRPC method of the soak: raw bytes in, the same bytes out. */
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: GRPC_ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
    originalName: 'echo',
  },
};

class GrpcUpstream implements Upstream {
  port = 0;
  served = 0;
  private server: grpc.Server | null = null;

  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(ECHO_SERVICE, {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        this.served++;
        callback(null, call.request);
      },
    });
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
        if (error) reject(error);
        else resolve(port);
      });
    });
    this.server = server;
  }

  kill(): Promise<void> {
    this.server?.forceShutdown();
    this.server = null;
    return Promise.resolve();
  }
}

// sofa-bolt-node is CommonJS without types: the parts used here.
interface BoltRequest {
  data: { args: unknown[] };
}
interface BoltEncoder extends Readable {
  writeResponse(req: BoltRequest, res: { isError: boolean; appResponse?: unknown }): void;
  writeHeartbeatAck(hb: BoltRequest): void;
}
/** The sofa-bolt-node module (a client for the load, an encoder/decoder pair for the servers). */
export const bolt = createRequire(import.meta.url)('sofa-bolt-node') as {
  encoder(options: { sentReqs: Map<number, unknown> }): BoltEncoder;
  decoder(options: { sentReqs: Map<number, unknown> }): Writable;
  RpcClient: new (options: { address: URL; logger: Record<string, () => void> }) => BoltClient;
};
/** The sofa-bolt-node RpcClient, as the soak uses it. */
export interface BoltClient {
  ready(): Promise<void>;
  invoke(req: {
    serverSignature: string;
    methodName: string;
    args: unknown[];
    timeout: number;
  }): Promise<{ data: { appResponse?: unknown; error?: Error | null } }>;
  close(): Promise<void>;
}

class BoltUpstream implements Upstream {
  port = 0;
  served = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<Socket>();

  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  async start(): Promise<void> {
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const encoder = bolt.encoder({ sentReqs: new Map() });
      const decoder = bolt.decoder({ sentReqs: new Map() });
      socket.pipe(decoder);
      encoder.pipe(socket);
      decoder.on('error', () => socket.destroy());
      decoder.on('heartbeat', (hb: BoltRequest) => {
        encoder.writeHeartbeatAck(hb);
      });
      decoder.on('request', (req: BoltRequest) => {
        this.served++;
        encoder.writeResponse(req, {
          isError: false,
          appResponse: { $class: 'java.lang.String', $: String(req.data.args[0]) },
        });
      });
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async kill(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

/** Two instances of each cluster, started. */
export async function startUpstreams(): Promise<{
  readonly web: readonly Upstream[];
  readonly grpc: readonly Upstream[];
  readonly bolt: readonly Upstream[];
}> {
  const web = [new HttpUpstream('web-a'), new HttpUpstream('web-b')];
  const rpc = [new GrpcUpstream('grpc-a'), new GrpcUpstream('grpc-b')];
  const bolts = [new BoltUpstream('bolt-a'), new BoltUpstream('bolt-b')];
  for (const u of [...web, ...rpc, ...bolts]) await u.start();
  return { web, grpc: rpc, bolt: bolts };
}
