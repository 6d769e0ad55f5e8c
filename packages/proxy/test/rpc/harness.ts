// The RPC proxy's handler served on the test's own server socket, with the proxy's real parts
// around it (cluster manager, filter chain, protocols, the RPC upstream pools): for tests of the
// downstream half that need control the listener does not give (drain, config swaps by hand).
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { TimerWheel } from '@meshlet/breaker';
import { bolt, dubbo } from '@meshlet/codec';
import type { Protocol } from '@meshlet/codec';
import type * as model from '@meshlet/xds';
import { createClusterManager } from '../../src/cluster/cluster-manager.js';
import type { CompileContext } from '../../src/config/compile.js';
import { builtinHttpFilters } from '../../src/filters/builtin.js';
import { FilterConfigCache } from '../../src/filters/chain.js';
import { ConnectionInfoImpl } from '../../src/listener/connection.js';
import { NOOP_STREAM_OBSERVER } from '../../src/observe/noop.js';
import { compileRpcProxy } from '../../src/rpc/index.js';
import { createRpcUpstreams } from '../../src/rpc/upstream/index.js';
import type { RpcUpstreams } from '../../src/rpc/types.js';
import type { ConnectionHandler, HttpFilter, NetworkConnection, StreamObserver } from '../../src/types.js';
import { cluster } from '../e2e/helpers.js';

/** A handler served on a loopback port. */
export interface ServedRpc {
  readonly port: number;
  /** What `env.onError` got, with where. */
  readonly errors: { error: unknown; where: string }[];
  /** Drains every connection. */
  drain(): void;
  /** Swaps the handler connections re-resolve per request. */
  swap(filter: model.RpcProxyFilter): void;
  close(): Promise<void>;
}

/** Options of {@link serveRpc}. */
export interface ServeOptions {
  readonly clusters: Record<string, number[]>;
  readonly filters?: readonly HttpFilter[];
  readonly protocols?: readonly Protocol[];
  readonly upstreams?: RpcUpstreams;
  readonly observer?: StreamObserver;
  readonly clusterConfig?: Partial<Record<string, Partial<model.Cluster>>>;
}

class TestConnection implements NetworkConnection {
  readonly info: ConnectionInfoImpl;
  draining = false;
  private readonly served: { handler: ConnectionHandler | null };
  private readonly callbacks: (() => void)[] = [];

  constructor(info: ConnectionInfoImpl, served: { handler: ConnectionHandler | null }) {
    this.info = info;
    this.served = served;
  }

  current(): ConnectionHandler | null {
    return this.served.handler;
  }

  onDrain(callback: () => void): void {
    this.callbacks.push(callback);
  }

  drain(): void {
    this.draining = true;
    for (const c of this.callbacks.splice(0)) c();
  }
}

/** Compiles `filter` with the proxy's parts and serves it on a loopback port. */
export async function serveRpc(filter: model.RpcProxyFilter, options: ServeOptions): Promise<ServedRpc> {
  const errors: { error: unknown; where: string }[] = [];
  const now = (): number => performance.now();
  const registry = new Map<string, HttpFilter>();
  for (const f of [...builtinHttpFilters, ...(options.filters ?? [])]) registry.set(f.name, f);
  const protocols = new Map<string, Protocol>([
    [bolt.name, bolt],
    [dubbo.name, dubbo],
  ]);
  for (const p of options.protocols ?? []) protocols.set(p.name, p);
  const clusters = createClusterManager({ now });
  const models = Object.entries(options.clusters).map(([name, ports]) =>
    cluster(name, ports, options.clusterConfig?.[name] ?? {}),
  );
  clusters.update(new Map(models.map((c) => [c.name, c])), new Map());
  const cache = new FilterConfigCache({ now, random: Math.random }, (error) =>
    errors.push({ error, where: 'destroy' }),
  );
  const timers = new TimerWheel({ tickMs: 10 });
  const upstreams =
    options.upstreams ??
    createRpcUpstreams({ timers, onError: (error, where) => errors.push({ error, where }) });
  const compile = (f: model.RpcProxyFilter): ConnectionHandler => {
    const tx = cache.begin();
    const ctx: CompileContext = {
      registry,
      filters: tx,
      env: {
        now,
        wallNow: Date.now,
        random: Math.random,
        requestId: () => 'generated-id',
        onError: (error, where) => errors.push({ error, where }),
      },
      routeTable: () => {
        throw new Error('no route tables here');
      },
      routerFilter: () => {
        throw new Error('no router filter here');
      },
      clusters,
      timers,
      protocols,
      rpcUpstreams: upstreams,
      observer: () => options.observer ?? NOOP_STREAM_OBSERVER,
    };
    const handler = compileRpcProxy(f, { listenerName: 'rpc', chainName: 'rpc' }, ctx);
    cache.commit(tx);
    return handler;
  };
  const served: { handler: ConnectionHandler | null } = { handler: compile(filter) };
  const connections = new Set<TestConnection>();
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const info = new ConnectionInfoImpl(
      'rpc',
      socket.remoteAddress ?? '',
      socket.remotePort ?? 0,
      socket.localAddress ?? '',
      socket.localPort ?? 0,
      false,
      undefined,
      undefined,
    );
    const conn = new TestConnection(info, served);
    connections.add(conn);
    socket.on('close', () => connections.delete(conn));
    (served.handler as ConnectionHandler).handle(socket, conn);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    errors,
    drain: () => {
      for (const c of connections) c.drain();
    },
    swap: (f) => {
      served.handler = compile(f);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      await upstreams.close();
      await clusters.close();
      cache.clear();
    },
  };
}
