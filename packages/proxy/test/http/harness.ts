// Builds a listener + connection manager around a test router filter (the real one lives in
// src/router-filter and is tested there and end to end): enough to test the connection manager,
// the chain and the listener on real sockets.
import type * as model from '@meshlet/xds';
import { FilterChainPlan, FilterConfigCache } from '../../src/filters/chain.js';
import { HttpConnectionManager, type ConnectionManagerEnv } from '../../src/http/connection-manager.js';
import {
  CompiledFilterChain,
  CompiledListener,
  type ServerLimits,
} from '../../src/listener/filter-chains.js';
import { ProxyListener } from '../../src/listener/listener.js';
import { NOOP_STREAM_OBSERVER } from '../../src/observe/noop.js';
import type {
  DownstreamStream,
  HttpFilter,
  RouteEntry,
  RouteTable,
  RouterFilter,
  StreamObserver,
} from '../../src/types.js';
import { hcm as hcmConfig, routeConfig, route, virtualHost } from '../e2e/helpers.js';

/** A route table with one route that matches every request whose path does not start with /none. */
export function oneRouteTable(perFilterConfig = new Map<string, model.FilterConfigOverride>()): RouteTable {
  const entry: RouteEntry = {
    name: 'all',
    virtualHostName: 'vh',
    source: route('all'),
    action: undefined,
    redirect: undefined,
    directResponse: undefined,
    perFilterConfig,
    cors: undefined,
    applyRequestHeaders: () => undefined,
    applyResponseHeaders: () => undefined,
  };
  return {
    name: 'test',
    match: (input) => (input.request.path.startsWith('/none') ? null : entry),
  };
}

/** A router filter that answers with what it received, as JSON. */
export class EchoRouter implements RouterFilter {
  readonly seen: DownstreamStream[] = [];
  handle(stream: DownstreamStream): void {
    this.seen.push(stream);
    const { ctx } = stream;
    if (ctx.route === null) {
      ctx.reply(404, 'no route');
      return;
    }
    const body = Buffer.from(
      JSON.stringify({
        method: ctx.request.method,
        authority: ctx.request.authority,
        path: ctx.request.path,
        scheme: ctx.request.scheme,
        headers: ctx.request.headers,
        protocol: ctx.protocol,
        body: Buffer.isBuffer(stream.body) ? stream.body.toString() : stream.body === null ? null : 'stream',
      }),
    );
    stream.respond(
      { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } },
      (send) => {
        if (!send) return;
        stream.write(body);
        stream.end();
      },
    );
  }
}

export const defaultLimits: ServerLimits = {
  maxHeaderSize: 60 * 1024,
  requestTimeoutMs: 0,
  headersTimeoutMs: 60_000,
  idleTimeoutMs: 60_000,
  streamIdleTimeoutMs: 300_000,
  maxHeadersCount: 100,
  maxRequestsPerConnection: 0,
  maxConcurrentStreams: undefined,
  initialStreamWindowSize: undefined,
  initialConnectionWindowSize: undefined,
};

export interface Harness {
  listener: ProxyListener;
  port: number;
  errors: unknown[];
  close(): Promise<void>;
}

/** Starts a cleartext listener with one chain of `filters` (registry) named by `httpFilters`. */
export async function startHarness(options: {
  filters?: HttpFilter[];
  hcm?: Parameters<typeof hcmConfig>[0];
  router?: RouterFilter;
  routeTable?: RouteTable;
  /** What watches the chain's connections and streams (default: nothing). */
  observer?: StreamObserver;
  limits?: Partial<ServerLimits>;
  maxConnections?: number;
}): Promise<Harness> {
  const errors: unknown[] = [];
  const config = hcmConfig(options.hcm);
  const registry = new Map((options.filters ?? []).map((f) => [f.name, f]));
  const cache = new FilterConfigCache({ now: () => performance.now(), random: Math.random }, (e) =>
    errors.push(e),
  );
  const tx = cache.begin();
  const plan = FilterChainPlan.compile(
    config.httpFilters,
    registry,
    [routeConfig('rc', [virtualHost('vh', ['*'], [])])],
    tx,
    'test',
  );
  cache.commit(tx);
  let ids = 0;
  const env: ConnectionManagerEnv = {
    now: () => performance.now(),
    wallNow: () => Date.now(),
    random: Math.random,
    requestId: () => `id-${++ids}`,
    onError: (error) => errors.push(error),
  };
  const manager = new HttpConnectionManager({
    name: 'test',
    config,
    routeTable: options.routeTable ?? oneRouteTable(),
    plan,
    router: options.router ?? new EchoRouter(),
    env,
    observer: options.observer ?? NOOP_STREAM_OBSERVER,
  });
  const limits = { ...defaultLimits, ...options.limits };
  const chain = new CompiledFilterChain('c', [], manager, config.codecType, limits, null);
  const compiled = new CompiledListener('l', '127.0.0.1', 0, false, [chain], null);
  const listener = new ProxyListener(compiled, {
    onError: (e) => errors.push(e),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
  });
  await listener.listen();
  return {
    listener,
    port: listener.address().port,
    errors,
    close: () => listener.drain(0),
  };
}
