// Test parts for the router filter: a cluster on the real leaf packages (@meshlet/lb balancer,
// @meshlet/breaker limits, undici pools), hand-compiled routes, and a minimal HTTP/1 connection
// manager on node:http that implements DownstreamStream, so the router filter runs against real
// sockets on both sides.
import { TimerWheel, createResourceLimits } from '@meshlet/breaker';
import type { PriorityResourceLimits, ResourceThresholds } from '@meshlet/breaker';
import { createLoadBalancer } from '@meshlet/lb';
import type { Host, LoadBalancer, PickContext } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { Pool } from 'undici';
import { NOOP_UPSTREAM_STATS } from '../../src/observe/noop.js';
import type { Dispatcher } from 'undici';
import type {
  ClusterChoice,
  ClusterManager,
  CompiledRetryPolicy,
  CompiledRouteAction,
  DownstreamStream,
  HeaderMap,
  HttpContext,
  ResponseFlag,
  ResponseHead,
  RouteEntry,
  RouterFilter,
  StreamInfo,
  UpstreamCluster,
  UpstreamOutcome,
  UpstreamProtocol,
} from '../../src/types.js';

// ── clusters ─────────────────────────────────────────────────────────────────────────────────

export interface TestClusterOptions {
  readonly thresholds?: readonly ResourceThresholds[];
}

/** A cluster on a round-robin balancer, breaker limits and one undici pool per host. */
export class TestCluster implements UpstreamCluster {
  readonly name: string;
  readonly config: model.Cluster;
  readonly stats = NOOP_UPSTREAM_STATS;
  readonly lb: LoadBalancer;
  readonly outcomes: { host: string; outcome: UpstreamOutcome }[] = [];
  readonly pools = new Map<string, Pool>();
  readonly #limits;

  constructor(name: string, ports: readonly number[], options: TestClusterOptions = {}) {
    this.name = name;
    this.config = { name, type: 'STATIC' } as unknown as model.Cluster;
    this.lb = createLoadBalancer(
      'ROUND_ROBIN',
      ports.map((port) => ({ address: '127.0.0.1', port })),
      // The first pick is the first host: tests say which host answers first.
      { random: () => 0 },
    );
    this.#limits = createResourceLimits(options.thresholds ?? []);
  }

  limits(priority: 'default' | 'high'): PriorityResourceLimits {
    return this.#limits.forPriority(priority);
  }

  pick(context: PickContext): Host | null {
    return this.lb.pick(context);
  }

  dispatcher(host: Host, _protocol: UpstreamProtocol): Dispatcher {
    let pool = this.pools.get(host.key);
    if (pool === undefined) {
      pool = new Pool(`http://${host.key}`, { connections: 16 });
      this.pools.set(host.key, pool);
    }
    return pool;
  }

  protocolFor(): UpstreamProtocol {
    return 'http1';
  }

  report(host: Host, outcome: UpstreamOutcome): void {
    this.outcomes.push({ host: host.key, outcome });
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
  }
}

export class TestClusters implements ClusterManager {
  readonly map = new Map<string, TestCluster>();
  constructor(...clusters: TestCluster[]) {
    for (const cluster of clusters) this.map.set(cluster.name, cluster);
  }
  get(name: string): UpstreamCluster | undefined {
    return this.map.get(name);
  }
  update(): void {
    // Not used by these tests.
  }
  async close(): Promise<void> {
    await Promise.all([...this.map.values()].map((c) => c.close()));
  }
}

// ── routes ───────────────────────────────────────────────────────────────────────────────────

export interface RetryOptions {
  readonly retryOn?: readonly string[];
  readonly numRetries?: number;
  readonly perTryTimeoutMs?: number;
  readonly perTryIdleTimeoutMs?: number;
  readonly baseIntervalMs?: number;
  readonly avoidPreviousHosts?: boolean;
}

export function retryPolicy(options: RetryOptions = {}): CompiledRetryPolicy {
  const retryOn = options.retryOn ?? ['5xx'];
  return {
    numRetries: options.numRetries ?? 1,
    perTryTimeoutMs: options.perTryTimeoutMs,
    perTryIdleTimeoutMs: options.perTryIdleTimeoutMs,
    baseIntervalMs: options.baseIntervalMs ?? 25,
    maxIntervalMs: (options.baseIntervalMs ?? 25) * 10,
    hostSelectionRetryMaxAttempts: 5,
    avoidPreviousHosts: options.avoidPreviousHosts ?? true,
    retriableResponse: (status) => retryOn.includes('5xx') && status >= 500,
    retriableFailure: (failure) =>
      retryOn.includes('5xx') ||
      retryOn.includes('reset') ||
      (failure === 'connect-failure' && retryOn.includes('connect-failure')),
  };
}

export interface RouteOptions {
  readonly cluster?: string | null;
  readonly timeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly retry?: CompiledRetryPolicy;
  readonly mirrors?: readonly { cluster: string; fraction: number }[];
  readonly upgrades?: ReadonlyMap<string, boolean>;
  readonly grpcTimeoutHeaderMaxMs?: number;
  readonly prefixRewrite?: [string, string];
  readonly redirect?: { status: number; location: string };
  readonly directResponse?: { status: number; body?: string };
}

/** A compiled route, by hand (the route table is another part's). */
export function route(options: RouteOptions = {}): RouteEntry {
  const clusterName = options.cluster === undefined ? 'backend' : options.cluster;
  const action: CompiledRouteAction = {
    selectCluster: (): ClusterChoice | null =>
      clusterName === null ? null : { name: clusterName, metadataMatch: undefined, headerChanges: undefined },
    rewrite: (request) => {
      const rewrite = options.prefixRewrite;
      if (rewrite && request.path.startsWith(rewrite[0])) {
        request.headers['x-envoy-original-path'] = request.path;
        request.path = rewrite[1] + request.path.slice(rewrite[0].length);
      }
    },
    hash: () => null,
    timeoutMs: options.timeoutMs ?? 0,
    idleTimeoutMs: options.idleTimeoutMs,
    retryPolicy: options.retry,
    mirrors: options.mirrors ?? [],
    priority: 'default',
    grpcTimeoutHeaderMaxMs: options.grpcTimeoutHeaderMaxMs,
    upgrades: options.upgrades ?? new Map(),
  };
  const redirect = options.redirect;
  const direct = options.directResponse;
  return {
    name: 'r',
    virtualHostName: 'vh',
    source: {} as model.Route,
    action: redirect || direct ? undefined : action,
    redirect: redirect ? () => redirect : undefined,
    directResponse: direct
      ? { status: direct.status, body: direct.body === undefined ? undefined : Buffer.from(direct.body) }
      : undefined,
    perFilterConfig: new Map(),
    cors: undefined,
    applyRequestHeaders: (request) => {
      request.headers['x-route'] = 'r';
    },
    applyResponseHeaders: (response) => {
      response.headers['x-route-response'] = 'r';
    },
  };
}

// ── a minimal connection manager ─────────────────────────────────────────────────────────────

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
]);

export interface Served {
  readonly ctx: HttpContext;
  readonly stream: DownstreamStream;
}

function makeInfo(): StreamInfo {
  return {
    startTime: performance.now(),
    startTimeUnixMs: Date.now(),
    responseFlags: new Set<ResponseFlag>(),
    responseCodeDetails: '',
    upstreamCluster: undefined,
    upstreamHost: undefined,
    attempts: 0,
    bytesReceived: 0,
    bytesSent: 0,
    endTime: 0,
  };
}

function makeContext(
  req: IncomingMessage,
  write: (status: number, body: string | Buffer | undefined, headers: HeaderMap | undefined) => void,
): HttpContext {
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name)) headers[name] = value;
  }
  // An upgrade request keeps its type, so the router knows what to ask upstream.
  if (req.headers.upgrade !== undefined && req.headers.connection?.toLowerCase().includes('upgrade')) {
    headers.upgrade = req.headers.upgrade;
  }
  const ctx = {
    request: {
      method: req.method ?? 'GET',
      scheme: 'http',
      authority: req.headers.host ?? '',
      path: req.url ?? '/',
      headers,
    },
    response: null,
    connection: {
      id: 1,
      listenerName: 'test',
      remoteAddress: req.socket.remoteAddress ?? '',
      remotePort: req.socket.remotePort ?? 0,
      localAddress: req.socket.localAddress ?? '',
      localPort: req.socket.localPort ?? 0,
      tls: false,
      serverName: undefined,
      alpnProtocol: undefined,
    },
    protocol: 'HTTP/1.1',
    requestId: 'id',
    isGrpc: (req.headers['content-type'] ?? '').startsWith('application/grpc'),
    route: null,
    clearRouteCache: () => undefined,
    state: new Map(),
    info: makeInfo(),
    aborted: false,
    replied: false,
    reply(status: number, body?: string | Buffer, replyHeaders?: HeaderMap) {
      ctx.replied = true;
      write(status, body, replyHeaders);
    },
    readBody: () => Promise.resolve(null),
  };
  return ctx;
}

class ResponseStream implements DownstreamStream {
  readonly ctx: HttpContext;
  readonly body: Readable | Buffer | null;
  readonly upgrade: { readonly socket: Duplex; readonly head: Buffer } | null;
  readonly #res: ServerResponse | null;
  readonly #socket: Socket;
  #ended = false;

  constructor(
    ctx: HttpContext,
    req: IncomingMessage,
    res: ServerResponse | null,
    upgrade: { socket: Duplex; head: Buffer } | null,
  ) {
    this.ctx = ctx;
    const hasBody =
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
      req.headers['transfer-encoding'] !== undefined;
    this.body = hasBody ? req : null;
    this.upgrade = upgrade;
    this.#res = res;
    this.#socket = req.socket;
  }

  respond(head: ResponseHead, proceed: (send: boolean) => void): void {
    (this.ctx as { response: ResponseHead | null }).response = head;
    const res = this.#res;
    if (res === null) {
      // An upgrade request: the head goes raw on the socket (101 or a refusal), as core's does.
      const upgrade = this.upgrade as { socket: Duplex };
      let text = `HTTP/1.1 ${head.status} ${head.status === 101 ? 'Switching Protocols' : 'X'}\r\n`;
      for (const [name, value] of Object.entries(head.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name) || name === 'content-length') continue;
        for (const one of typeof value === 'string' ? [value] : value) text += `${name}: ${one}\r\n`;
      }
      if (head.status === 101)
        text += `connection: upgrade\r\nupgrade: ${String(this.ctx.request.headers.upgrade)}\r\n`;
      else text += 'connection: close\r\n';
      upgrade.socket.write(text + '\r\n');
      proceed(true);
      return;
    }
    res.writeHead(head.status, head.headers as Record<string, string | string[]>);
    proceed(true);
  }

  write(chunk: Buffer): boolean {
    this.ctx.info.bytesSent += chunk.length;
    if (this.#res === null) return (this.upgrade as { socket: Duplex }).socket.write(chunk);
    return this.#res.write(chunk);
  }

  onDrain(callback: () => void): void {
    if (this.#res === null) (this.upgrade as { socket: Duplex }).socket.once('drain', callback);
    else this.#res.once('drain', callback);
  }

  end(trailers?: HeaderMap): void {
    this.#ended = true;
    if (this.#res === null) {
      (this.upgrade as { socket: Duplex }).socket.end();
      return;
    }
    if (trailers) this.#res.addTrailers(trailers);
    this.#res.end();
  }

  reset(): void {
    this.#ended = true;
    this.#socket.destroy();
  }

  onAbort(callback: () => void): void {
    const onClose = (): void => {
      if (this.#ended || this.#res?.writableFinished === true) return;
      (this.ctx as { aborted: boolean }).aborted = true;
      callback();
    };
    if (this.#res !== null) this.#res.on('close', onClose);
    else this.#socket.on('close', onClose);
  }
}

/** A node:http server that hands every request to the router filter with the route `routeFor` gives. */
export class TestListener {
  readonly server: Server;
  readonly served: Served[] = [];
  port = 0;

  constructor(filter: () => RouterFilter, routeFor: (ctx: HttpContext) => RouteEntry | null) {
    this.server = createServer((req, res) => {
      const ctx = makeContext(req, (status, body, headers) => {
        res.writeHead(status, headers as Record<string, string> | undefined);
        res.end(body);
      });
      (ctx as { route: RouteEntry | null }).route = routeFor(ctx);
      const stream = new ResponseStream(ctx, req, res, null);
      this.served.push({ ctx, stream });
      filter().handle(stream);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const ctx = makeContext(req, (status, body) => {
        socket.end(
          `HTTP/1.1 ${status} X\r\ncontent-length: ${body?.length ?? 0}\r\nconnection: close\r\n\r\n${body?.toString() ?? ''}`,
        );
      });
      (ctx as { route: RouteEntry | null }).route = routeFor(ctx);
      const stream = new ResponseStream(ctx, req, null, { socket, head });
      this.served.push({ ctx, stream });
      filter().handle(stream);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

// ── an HTTP/2 cleartext listener (gRPC) ──────────────────────────────────────────────────────

class H2Stream implements DownstreamStream {
  readonly ctx: HttpContext;
  readonly body: Readable;
  readonly upgrade = null;
  readonly #res: Http2ServerResponse;
  #ended = false;

  constructor(ctx: HttpContext, req: Http2ServerRequest, res: Http2ServerResponse) {
    this.ctx = ctx;
    this.body = req;
    this.#res = res;
  }

  respond(head: ResponseHead, proceed: (send: boolean) => void): void {
    (this.ctx as { response: ResponseHead | null }).response = head;
    this.#res.writeHead(head.status, head.headers as Record<string, string | string[]>);
    proceed(true);
  }

  write(chunk: Buffer): boolean {
    this.ctx.info.bytesSent += chunk.length;
    return this.#res.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.#res.once('drain', callback);
  }

  end(trailers?: HeaderMap): void {
    this.#ended = true;
    if (trailers) this.#res.addTrailers(trailers);
    this.#res.end();
  }

  reset(): void {
    this.#ended = true;
    this.#res.stream.close(2);
  }

  onAbort(callback: () => void): void {
    this.#res.on('close', () => {
      if (this.#ended) return;
      (this.ctx as { aborted: boolean }).aborted = true;
      callback();
    });
  }
}

/** An h2c (prior knowledge) server handing every stream to the router filter. */
export class TestH2Listener {
  readonly server: Http2Server;
  readonly served: Served[] = [];
  port = 0;

  constructor(filter: () => RouterFilter, routeFor: (ctx: HttpContext) => RouteEntry | null) {
    this.server = createH2cServer((req, res) => {
      const headers: HeaderMap = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (!name.startsWith(':') && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      if (req.headers.te === 'trailers') headers.te = 'trailers';
      const ctx = makeContext(req as unknown as IncomingMessage, (status, body, replyHeaders) => {
        res.writeHead(status, replyHeaders as Record<string, string> | undefined);
        if (body === undefined) res.end();
        else res.end(body);
      });
      const writable = ctx as unknown as {
        request: { authority: string; headers: HeaderMap };
        protocol: string;
      };
      writable.request.authority = req.authority;
      writable.request.headers = headers;
      writable.protocol = 'HTTP/2';
      (ctx as { route: RouteEntry | null }).route = routeFor(ctx);
      const stream = new H2Stream(ctx, req, res);
      this.served.push({ ctx, stream });
      filter().handle(stream);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

// ── upstreams and time ───────────────────────────────────────────────────────────────────────

/** A loopback upstream server; `handler` answers, `requests` records what arrived. */
export async function upstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; requests: IncomingMessage[]; close(): Promise<void> }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** A starter of `upstream`s that `cleanups` closes after each test. */
export function upstreamsClosedBy(
  cleanups: (() => unknown)[],
): (handler: (req: IncomingMessage, res: ServerResponse) => void) => ReturnType<typeof upstream> {
  return async (handler) => {
    const server = await upstream(handler);
    cleanups.push(() => server.close());
    return server;
  };
}

/** A clock tests move by hand, and a wheel on it whose timer never fires by itself. */
export class ManualTime {
  now = 1000;
  readonly wheel: TimerWheel;
  constructor() {
    this.wheel = new TimerWheel({
      tickMs: 1,
      clock: { now: () => this.now },
      scheduler: { setTimeout: () => 1, clearTimeout: () => undefined },
    });
  }
  advance(ms: number): void {
    this.now += ms;
    this.wheel.advance();
  }
}

/** Resolves once `predicate` holds, polling on the event loop (state, not time). */
export async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  if (!predicate()) throw new Error('condition not reached');
}

/**
 * Sends `count` requests to the proxy on `port`, one at a time, and destroys each client request
 * once the upstream holds it (`held` grows as the upstream receives them).
 */
export async function abortWhileHeld(
  port: number,
  held: readonly IncomingMessage[],
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const req = httpRequest({ port, host: '127.0.0.1', path: `/${i}` });
    req.on('error', () => undefined);
    req.end();
    await until(() => held.length === i + 1);
    req.destroy();
  }
}

/** The connections a server holds open now. */
export async function openConnections(server: Server): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.getConnections((error, n) => {
      if (error) reject(error);
      else resolve(n);
    });
  });
}
