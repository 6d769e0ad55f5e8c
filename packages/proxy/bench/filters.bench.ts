// Per-request cost of the built-in filters' request hooks (and response hooks where they do
// work), and the RBAC match cost at 10 and 100 policies. Each timed call runs 100 requests
// through one filter on a reused context (reset between requests: state and flags cleared, the
// request headers copied afresh only for header_mutation, a fresh response head for the cases
// that run response hooks), so the harness's per-call cost is not billed to them; the table shows
// the time per request, and a first row without a filter.
import type * as model from '@meshlet/xds';
import {
  type HttpContext,
  type HttpFilter,
  type RouteEntry,
  corsFilter,
  faultFilter,
  headerMutationFilter,
  localRateLimitFilter,
  rbacFilter,
} from '@meshlet/proxy';
import { consume, fmt, measure, smoke, table } from '../../../bench/harness.ts';

const PER_CALL = 100;

const env = { now: () => performance.now(), random: Math.random, filterName: 'bench' };

type Headers = HttpContext['request']['headers'];

/** A fixed-shape HttpContext, reset between requests. */
class BenchContext implements HttpContext {
  readonly request: { method: string; scheme: string; authority: string; path: string; headers: Headers };
  response: { status: number; headers: Headers } | null = null;
  readonly connection: HttpContext['connection'];
  readonly protocol = 'HTTP/1.1';
  readonly requestId = 'r';
  readonly isGrpc = false;
  readonly route: RouteEntry | null;
  readonly state = new Map<string | symbol, unknown>();
  readonly info: HttpContext['info'] = {
    startTime: 0,
    startTimeUnixMs: 0,
    responseFlags: new Set(),
    responseCodeDetails: '',
    upstreamCluster: undefined,
    upstreamHost: undefined,
    attempts: 0,
    bytesReceived: 0,
    bytesSent: 0,
    endTime: 0,
  };
  readonly aborted = false;
  replied = false;
  readonly #headers: Headers;

  constructor(path: string, headers: Headers, remoteAddress: string, route: RouteEntry | null) {
    this.#headers = headers;
    this.request = {
      method: 'GET',
      scheme: 'http',
      authority: 'api.example.com',
      path,
      headers: { ...headers },
    };
    this.connection = {
      id: 1,
      listenerName: 'bench',
      remoteAddress,
      remotePort: 40000,
      localAddress: '10.0.0.1',
      localPort: 8080,
      tls: false,
      serverName: undefined,
      alpnProtocol: undefined,
    };
    this.route = route;
  }

  /** Set for filters that change request headers: each request then starts from a fresh copy. */
  restoreHeaders = false;

  reset(): void {
    if (this.restoreHeaders) this.request.headers = { ...this.#headers };
    this.response = null;
    this.state.clear();
    this.replied = false;
    this.info.responseFlags.clear();
  }

  clearRouteCache(): void {
    // Not used by these filters.
  }

  reply(status: number, _body?: string | Buffer, headers?: Headers): void {
    this.replied = true;
    this.response = { status, headers: headers ?? {} };
  }

  readBody(): Promise<Buffer | null> {
    return Promise.resolve(null);
  }
}

function routeWithCors(cors: model.CorsPolicy): RouteEntry {
  return {
    name: 'r',
    virtualHostName: 'vh',
    source: { name: 'r' } as model.Route,
    action: undefined,
    redirect: undefined,
    directResponse: undefined,
    perFilterConfig: new Map(),
    cors,
    applyRequestHeaders(): void {
      // Not used by these filters.
    },
    applyResponseHeaders(): void {
      // Not used by these filters.
    },
  };
}

interface Case {
  readonly name: string;
  readonly filter: HttpFilter;
  readonly config: unknown;
  readonly ctx: BenchContext;
  /** Also run the response hook against a 200. */
  readonly response: boolean;
}

const plainHeaders: Headers = {
  'user-agent': 'bench/1.0',
  accept: '*/*',
  'x-request-id': 'abc',
  origin: 'https://app.example.com',
};

function ctx(
  path = '/api/v1/orders/42?x=1',
  remote = '192.168.1.20',
  route: RouteEntry | null = null,
  restoreHeaders = false,
): BenchContext {
  const c = new BenchContext(path, plainHeaders, remote, route);
  c.restoreHeaders = restoreHeaders;
  return c;
}

/** ALLOW policies each matching GET on one path prefix from one source range; the request matches the last one. */
function rbacPolicies(n: number): model.RbacConfig {
  const policies: Record<string, { permissions: model.RbacPermission[]; principals: model.RbacPrincipal[] }> =
    {};
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    policies[`p${String(i).padStart(4, '0')}`] = {
      permissions: [
        {
          andRules: [
            {
              header: {
                name: ':method',
                stringMatch: { exact: 'GET', ignoreCase: false },
                invertMatch: false,
                treatMissingHeaderAsEmpty: false,
              },
            },
            { urlPath: { prefix: last ? '/api/v1/orders' : `/svc${i}/`, ignoreCase: false } },
          ],
        },
      ],
      principals: [
        { directRemoteIp: { addressPrefix: last ? '192.168.0.0' : `10.${i & 255}.0.0`, prefixLen: 16 } },
      ],
    };
  }
  return { type: 'rbac', rules: { action: 'ALLOW', policies } };
}

const all = { numerator: 100, denominator: 100 } as const;
const cors: model.CorsPolicy = {
  allowOriginStringMatch: [
    { exact: 'https://www.example.com', ignoreCase: false },
    { suffix: '.example.com', ignoreCase: true },
  ],
  allowMethods: 'GET,POST',
  allowHeaders: 'content-type',
  exposeHeaders: 'x-request-id',
  maxAge: '600',
  allowCredentials: true,
  allowPrivateNetworkAccess: false,
  forwardNotMatchingPreflights: true,
};

const cases: Case[] = [
  {
    name: 'baseline: the loop and the context reset, no filter',
    filter: { name: 'noop', configure: () => null },
    config: null,
    ctx: ctx(),
    response: false,
  },
  {
    name: 'fault: abort 0.1 % gated by a header matcher, not injected',
    filter: faultFilter,
    config: {
      type: 'fault',
      abort: { httpStatus: 503, headerAbort: false, percentage: { numerator: 1000, denominator: 1_000_000 } },
      headers: [
        {
          name: 'user-agent',
          stringMatch: { prefix: 'bench', ignoreCase: false },
          invertMatch: false,
          treatMissingHeaderAsEmpty: false,
        },
      ],
      upstreamCluster: '',
      downstreamNodes: [],
    } satisfies model.FaultConfig,
    ctx: ctx(),
    response: false,
  },
  {
    name: 'local_rate_limit: shared bucket, allowed',
    filter: localRateLimitFilter,
    config: {
      type: 'local_rate_limit',
      statPrefix: 'b',
      tokenBucket: { maxTokens: 2 ** 31, tokensPerFill: 2 ** 31, fillIntervalMs: 1000 },
      filterEnabled: all,
      filterEnforced: all,
      status: 429,
      responseHeadersToAdd: [],
      descriptors: [],
      localRateLimitPerDownstreamConnection: false,
      enableXRatelimitHeaders: 'OFF',
    } satisfies model.LocalRateLimitConfig,
    ctx: ctx(),
    response: true,
  },
  {
    name: 'local_rate_limit: per connection, x-ratelimit headers',
    filter: localRateLimitFilter,
    config: {
      type: 'local_rate_limit',
      statPrefix: 'b',
      tokenBucket: { maxTokens: 2 ** 31, tokensPerFill: 2 ** 31, fillIntervalMs: 1000 },
      filterEnabled: all,
      filterEnforced: all,
      status: 429,
      responseHeadersToAdd: [],
      descriptors: [],
      localRateLimitPerDownstreamConnection: true,
      enableXRatelimitHeaders: 'DRAFT_VERSION_03',
    },
    ctx: ctx(),
    response: true,
  },
  ...(smoke ? [1, 10] : [1, 10, 100]).map((n): Case => ({
    name: `rbac: ALLOW, ${n} ${n === 1 ? 'policy' : 'policies'}, the last matches`,
    filter: rbacFilter,
    config: rbacPolicies(n),
    ctx: ctx(),
    response: false,
  })),
  {
    name: 'rbac: ALLOW, 100 policies, none matches (403)',
    filter: rbacFilter,
    config: rbacPolicies(100),
    ctx: ctx('/other', '172.16.0.1'),
    response: false,
  },
  {
    name: 'header_mutation: 2 request, 2 response mutations (with a copy of 4 request headers)',
    filter: headerMutationFilter,
    config: {
      type: 'header_mutation',
      requestMutations: [
        {
          append: {
            header: { key: 'x-mesh', value: 'meshlet' },
            appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
            keepEmptyValue: false,
          },
        },
        { remove: 'x-request-id' },
      ],
      responseMutations: [
        {
          append: {
            header: { key: 'x-served-by', value: 'edge' },
            appendAction: 'APPEND_IF_EXISTS_OR_ADD',
            keepEmptyValue: false,
          },
        },
        { remove: 'server' },
      ],
    } satisfies model.HeaderMutationConfig,
    ctx: ctx(undefined, undefined, null, true),
    response: true,
  },
  {
    name: 'cors: simple request from an allowed origin',
    filter: corsFilter,
    config: { type: 'cors' } satisfies model.CorsConfig,
    ctx: ctx('/api', '192.168.1.20', routeWithCors(cors)),
    response: true,
  },
];

// One function compiled per case (`new Function`), so each case's hook call sites see one filter.
const BODY = `
  return () => {
    for (let k = 0; k < perCall; k++) {
      ctx.reset();
      if (filter.onRequest !== undefined) consume(filter.onRequest(ctx, config));
      if (response) {
        if (ctx.response === null) ctx.response = { status: 200, headers: { server: 'upstream' } };
        if (filter.onResponse !== undefined) consume(filter.onResponse(ctx, config));
      }
    }
  };
`;

function runner(c: Case, config: unknown): () => void {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('filter', 'config', 'ctx', 'response', 'consume', 'perCall', BODY) as (
    filter: HttpFilter,
    config: unknown,
    ctx: BenchContext,
    response: boolean,
    sink: typeof consume,
    perCall: number,
  ) => () => void;
  return make(c.filter, config, c.ctx, c.response, consume, PER_CALL);
}

const tasks = cases.map((c) => ({ name: c.name, fn: runner(c, c.filter.configure(c.config, env)) }));
const results = await measure(tasks, 800);
table(
  'Built-in HTTP filters: time per request through one filter (lower is better)',
  results.map((r) => ({
    filter: r.name,
    'ns per request': fmt(r.meanNs / PER_CALL, 0),
    'p99 ns per request': fmt(r.p99Ns / PER_CALL, 0),
    'requests/s': `${fmt((PER_CALL * r.hz) / 1e6, 2)} M`,
  })),
);
