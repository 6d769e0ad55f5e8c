// A test harness for the built-in filters: a small, complete HttpContext and a chain runner with
// the contract's semantics (request hooks in order until one replies, response hooks in reverse
// over the filters that ran, onComplete for each of them). Not the proxy's chain: core's is
// tested end to end; this one lets a filter be tested alone, with an injected clock and randomness.
import type * as model from '@meshlet/xds';
import type {
  ConnectionInfo,
  FilterEnvironment,
  HeaderMap,
  HttpContext,
  HttpFilter,
  RequestHead,
  ResponseFlag,
  ResponseHead,
  RouteEntry,
  StreamInfo,
} from '../../src/types.js';
import { action as routeActionWith } from '../e2e/helpers.js';

/** A clock and a random source the test controls. */
export class TestEnv implements FilterEnvironment {
  readonly filterName: string;
  time = 0;
  /** Values returned by `random()` in turn (then 0.5); `draws` counts the calls. */
  randoms: number[] = [];
  draws = 0;

  constructor(filterName = 'test') {
    this.filterName = filterName;
  }

  now(): number {
    return this.time;
  }

  random(): number {
    this.draws++;
    return this.randoms.length > 0 ? (this.randoms.shift() as number) : 0.5;
  }
}

/** Options of a test request. */
export interface RequestOptions {
  method?: string;
  path?: string;
  authority?: string;
  scheme?: string;
  headers?: HeaderMap;
  connection?: Partial<ConnectionInfo>;
  route?: RouteEntry | null;
  isGrpc?: boolean;
  body?: Buffer;
  /** The trusted client address (from x-forwarded-for), as the connection manager sets it. */
  downstreamRemoteAddress?: string;
}

let nextConnectionId = 1;

/** A connection as the connection manager would describe it. */
export function connection(overrides: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    id: nextConnectionId++,
    listenerName: 'test',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    tls: false,
    serverName: undefined,
    alpnProtocol: undefined,
    ...overrides,
  };
}

/** Stream info; `downstreamRemoteAddress` is what the connection manager derives from x-forwarded-for. */
export class TestStreamInfo implements StreamInfo {
  readonly startTime = 0;
  readonly startTimeUnixMs = 0;
  readonly responseFlags = new Set<ResponseFlag>();
  responseCodeDetails = '';
  upstreamCluster: string | undefined = undefined;
  upstreamHost: string | undefined = undefined;
  attempts = 0;
  bytesReceived = 0;
  bytesSent = 0;
  endTime = 0;
  downstreamRemoteAddress?: string;
}

/** A complete HttpContext over an in-memory request. */
export class TestContext implements HttpContext {
  readonly request: RequestHead;
  response: ResponseHead | null = null;
  readonly connection: ConnectionInfo;
  readonly protocol = 'HTTP/1.1';
  readonly requestId = 'test-request-id';
  readonly isGrpc: boolean;
  route: RouteEntry | null;
  readonly state = new Map<string | symbol, unknown>();
  readonly info: TestStreamInfo = new TestStreamInfo();
  aborted = false;
  replied = false;
  /** The body of the local reply, if any. */
  replyBody: string | Buffer | undefined = undefined;
  routeCacheCleared = 0;
  readonly #body: Buffer;

  constructor(options: RequestOptions = {}) {
    this.request = {
      method: options.method ?? 'GET',
      scheme: options.scheme ?? 'http',
      authority: options.authority ?? 'example.com',
      path: options.path ?? '/',
      headers: { ...options.headers },
    };
    this.connection = connection(options.connection);
    this.route = options.route ?? null;
    this.isGrpc = options.isGrpc ?? false;
    this.#body = options.body ?? Buffer.alloc(0);
    if (options.downstreamRemoteAddress !== undefined)
      this.info.downstreamRemoteAddress = options.downstreamRemoteAddress;
  }

  clearRouteCache(): void {
    this.routeCacheCleared++;
  }

  reply(status: number, body?: string | Buffer, headers?: HeaderMap): void {
    if (this.replied) throw new Error('replied twice');
    this.replied = true;
    this.replyBody = body;
    this.response = { status, headers: { ...headers } };
  }

  readBody(limitBytes: number): Promise<Buffer | null> {
    if (this.#body.length > limitBytes) {
      this.reply(413, 'Payload Too Large');
      return Promise.resolve(null);
    }
    return Promise.resolve(this.#body);
  }
}

/** A filter with its compiled config, as the chain holds them. */
export interface Stage<C = unknown> {
  readonly filter: HttpFilter<C>;
  readonly config: C;
}

/** Compiles `config` with `filter` into a stage. */
export function stage<C>(
  filter: HttpFilter<C>,
  config: unknown,
  env: FilterEnvironment = new TestEnv(),
): Stage<C> {
  return { filter, config: filter.configure(config, env) };
}

/** What the "upstream" answers when no filter replies. */
export interface Upstream {
  status: number;
  headers?: HeaderMap;
}

/**
 * Runs request hooks in order (awaiting a returned promise) until one replies; then the
 * upstream response (when none replied); then response hooks in reverse over the filters that
 * ran; then onComplete for each. Returns the context.
 */
export async function run(
  ctx: TestContext,
  stages: readonly Stage<never>[] | readonly Stage[],
  upstream: Upstream = { status: 200 },
): Promise<TestContext> {
  const ran: Stage[] = [];
  for (const s of stages as readonly Stage[]) {
    ran.push(s);
    const result = s.filter.onRequest?.(ctx, s.config);
    if (result !== undefined) await result;
    if (ctx.replied || ctx.aborted) break;
  }
  if (!ctx.replied && !ctx.aborted)
    ctx.response = { status: upstream.status, headers: { ...upstream.headers } };
  if (ctx.response !== null) {
    for (let i = ran.length - 1; i >= 0; i--) {
      const s = ran[i] as Stage;
      const result = s.filter.onResponse?.(ctx, s.config);
      if (result !== undefined) await result;
    }
  }
  for (const s of ran) s.filter.onComplete?.(ctx, s.config);
  return ctx;
}

/** A route entry as the route table would produce it, for the parts filters read. */
export function route(
  options: { cluster?: string; clusterHeader?: string; cors?: model.CorsPolicy } = {},
): RouteEntry {
  const action = routeActionWith({
    ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
    ...(options.clusterHeader === undefined ? {} : { clusterHeader: options.clusterHeader }),
  });
  const source: model.Route = {
    name: 'r',
    match: { prefix: '/', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
    route: action,
    metadata: {},
    typedPerFilterConfig: {},
    requestHeadersToAdd: [],
    requestHeadersToRemove: [],
    responseHeadersToAdd: [],
    responseHeadersToRemove: [],
  };
  return {
    name: 'r',
    virtualHostName: 'vh',
    source,
    action: undefined,
    redirect: undefined,
    directResponse: undefined,
    perFilterConfig: new Map(),
    cors: options.cors,
    applyRequestHeaders(): void {
      // The route's own header changes are the router's; filters never call this.
    },
    applyResponseHeaders(): void {
      // As above.
    },
  };
}
