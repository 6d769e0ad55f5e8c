// Builders and loopback servers for the TCP proxy's and the listener's tests.
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type * as model from '@meshlet/xds';
import type { ConnectionInfo, ObserverFactory, StreamInfo, StreamObserver } from '../../src/index.js';
import { chainMatch } from '../e2e/helpers.js';

type Partially<T> = { -readonly [K in keyof T]?: T[K] };

/** A `tcp_proxy` config with Envoy's defaults. */
export function tcpProxy(more: Partially<model.TcpProxy> = {}): model.TcpProxy {
  return { statPrefix: 'tcp', maxConnectAttempts: 1, idleTimeoutMs: 3_600_000, ...more };
}

/** A filter chain whose one filter is a TCP proxy. */
export function tcpChain(config: model.TcpProxy, more: Partially<model.FilterChain> = {}): model.FilterChain {
  return {
    name: 'tcp',
    filterChainMatch: chainMatch(),
    filters: [{ name: 'envoy.filters.network.tcp_proxy', kind: 'tcp_proxy', config }],
    ...more,
  };
}

/** A TCP server on loopback port 0. */
export interface TcpServer {
  readonly server: net.Server;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: Socket[];
  close(): Promise<void>;
}

/** Starts a TCP server calling `onConnection` for each client. */
export async function startTcpServer(
  onConnection: (socket: Socket) => void,
  options: net.ServerOpts = {},
): Promise<TcpServer> {
  const accepted: Socket[] = [];
  const server = net.createServer(options, (socket) => {
    accepted.push(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of accepted) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** An echo server; `tag` is written first on each connection when given. */
export function startEchoServer(tag?: string): Promise<TcpServer> {
  return startTcpServer((socket) => {
    if (tag !== undefined) socket.write(tag);
    socket.pipe(socket);
  });
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

/** Connects to 127.0.0.1:`port`. */
export async function connect(port: number): Promise<Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Everything a socket receives until it ends or closes. */
export function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    socket.once('end', () => {
      resolve(Buffer.concat(chunks));
    });
    socket.once('close', () => {
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Reads until `n` bytes have arrived. */
export function readBytes(socket: Socket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('close', () => {
      if (got < n) reject(new Error(`closed after ${String(got)} of ${String(n)} bytes`));
    });
  });
}

/** One connection as an observer saw it. */
export interface Observed {
  readonly chain: string;
  readonly kind: string;
  readonly connection: ConnectionInfo;
  readonly info: StreamInfo;
}

/** An observer factory recording closed connections; `closed(n)` waits for n of them. */
export function recordingObservers(): {
  factory: ObserverFactory;
  opened: ConnectionInfo[];
  closed: Observed[];
  waitClosed: (n: number) => Promise<Observed[]>;
} {
  const opened: ConnectionInfo[] = [];
  const closed: Observed[] = [];
  const waiters: { n: number; resolve: (o: Observed[]) => void }[] = [];
  const factory: ObserverFactory = {
    forChain(chain): StreamObserver {
      return {
        connectionOpened(connection) {
          opened.push(connection);
        },
        connectionClosed(connection, info) {
          closed.push({ chain: chain.chainName, kind: chain.kind, connection, info });
          for (const w of waiters.splice(0)) {
            if (closed.length >= w.n) w.resolve(closed);
            else waiters.push(w);
          }
        },
        streamStarted() {
          // Network chains have no streams.
        },
        streamEnded() {
          // Network chains have no streams.
        },
      };
    },
  };
  return {
    factory,
    opened,
    closed,
    waitClosed: (n) =>
      closed.length >= n ? Promise.resolve(closed) : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}
