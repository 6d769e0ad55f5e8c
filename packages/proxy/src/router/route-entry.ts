// One route compiled: its matchers (path, headers, query parameters, gRPC, runtime fraction),
// its action (forward, redirect or direct response), and everything it inherits from its virtual
// host and route configuration (header changes, per-filter config, CORS, retry policy).
import { readFileSync } from 'node:fs';
import type * as model from '@meshlet/xds';
import type {
  ClusterChoice,
  CompiledRetryPolicy,
  ConnectionInfo,
  HeaderMap,
  RequestHead,
  ResponseHead,
  RouteEntry,
} from '../types.js';
import { CompiledHeaderChanges } from './header-changes.js';
import type { CompiledHeaderMatcher } from '../matchers/header-matcher.js';
import { joinedHeader } from '../matchers/header-matcher.js';
import { QueryMatch, headerMatch } from './matchers.js';
import type { MatchState } from './path-match.js';
import { PathMatch } from './path-match.js';
import { Redirect } from './redirect.js';
import type { IndexKey } from './route-index.js';
import { Choice, RouteActionImpl, fraction } from './route-action.js';
import { at, configError, indexed } from './where.js';

/** What a route inherits from its virtual host and route configuration, compiled once per virtual host. */
export interface Inherited {
  readonly virtualHostName: string;
  /** Header changes of the virtual host then the route configuration (the non-empty ones). */
  readonly headerLevels: readonly CompiledHeaderChanges[];
  /** Per-filter config of the route configuration, overridden by the virtual host's. */
  readonly perFilterConfig: ReadonlyMap<string, model.FilterConfigOverride>;
  /** The virtual host's CORS policy, else the route configuration's. */
  readonly cors: model.CorsPolicy | undefined;
  readonly retryPolicy: CompiledRetryPolicy | undefined;
}

/** Options of body loading (direct responses). */
export interface BodyOptions {
  readonly readFile: (path: string) => Buffer;
  readonly maxDirectResponseBodyBytes: number;
}

/** The CORS policy set as a per-filter override, if any. */
export function corsOverride(
  config: Readonly<Record<string, model.FilterConfigOverride>>,
): model.CorsPolicy | undefined {
  for (const key of Object.keys(config)) {
    const value = config[key];
    if (value?.type === 'cors') return value.policy;
  }
  return undefined;
}

const ALWAYS = 2;

/** A compiled route. */
export class RouteEntryImpl implements RouteEntry {
  readonly name: string;
  readonly virtualHostName: string;
  readonly source: model.Route;
  readonly action: RouteActionImpl | undefined;
  readonly redirect: ((request: RequestHead) => { status: number; location: string }) | undefined;
  readonly directResponse: { readonly status: number; readonly body: Buffer | undefined } | undefined;
  readonly perFilterConfig: ReadonlyMap<string, model.FilterConfigOverride>;
  readonly cors: model.CorsPolicy | undefined;

  private readonly path: PathMatch;
  private readonly headers: readonly CompiledHeaderMatcher[];
  private readonly query: readonly QueryMatch[];
  private readonly grpc: boolean;
  /** The runtime fraction in [0, 1]; {@link ALWAYS} when there is none. */
  private readonly fraction: number;
  /** Header changes, most specific first: route, virtual host, route configuration. */
  private readonly levels: readonly CompiledHeaderChanges[];

  constructor(route: model.Route, inherited: Inherited, body: BodyOptions, where: string) {
    this.name = route.name;
    this.virtualHostName = inherited.virtualHostName;
    this.source = route;
    const m = route.match;
    this.path = new PathMatch(m, at(where, 'match'));
    this.headers = m.headers.map((h, i) => headerMatch(h, indexed(at(where, 'match.headers'), i, h.name)));
    this.query = m.queryParameters.map(
      (q, i) => new QueryMatch(q, indexed(at(where, 'match.query_parameters'), i, q.name)),
    );
    this.grpc = m.grpc;
    this.fraction = m.runtimeFraction
      ? fraction(m.runtimeFraction, at(where, 'match.runtime_fraction'))
      : ALWAYS;

    const actions = [route.route, route.redirect, route.directResponse].filter((a) => a !== undefined).length;
    if (actions !== 1)
      throw configError(where, 'a route needs exactly one of route, redirect, direct_response');
    this.action = route.route
      ? new RouteActionImpl(route.route, this.path, inherited.retryPolicy, at(where, 'route'))
      : undefined;
    if (route.redirect) {
      const redirect = new Redirect(route.redirect, this.path, at(where, 'redirect'));
      this.redirect = redirect.build.bind(redirect);
    } else this.redirect = undefined;
    this.directResponse = route.directResponse
      ? directResponse(route.directResponse, body, at(where, 'direct_response'))
      : undefined;

    const own = new CompiledHeaderChanges(route, where);
    this.levels =
      own.request.empty && own.response.empty ? inherited.headerLevels : [own, ...inherited.headerLevels];

    const perFilter = new Map(inherited.perFilterConfig);
    for (const key of Object.keys(route.typedPerFilterConfig))
      perFilter.set(key, route.typedPerFilterConfig[key] as model.FilterConfigOverride);
    this.perFilterConfig = perFilter;
    this.cors = corsOverride(route.typedPerFilterConfig) ?? inherited.cors;
  }

  /** The literal prefix of the paths this route takes, for the route index. */
  indexKey(): IndexKey {
    return this.path.indexKey();
  }

  /** Whether this route takes the request of `state`. Cheapest checks first. */
  matches(state: MatchState): boolean {
    if (!this.path.matches(state)) return false;
    const request = state.request;
    for (const h of this.headers) if (!h.matches(request)) return false;
    if (this.query.length > 0) {
      const params = state.query();
      for (const q of this.query) if (!q.match(params)) return false;
    }
    if (this.grpc && !isGrpc(request.headers)) return false;
    if (this.fraction !== ALWAYS && !(state.random() < this.fraction)) return false;
    return true;
  }

  applyRequestHeaders(request: RequestHead, choice: ClusterChoice | null, connection?: ConnectionInfo): void {
    const headers = request.headers;
    if (choice !== null) choiceChanges(choice)?.request.apply(headers, request, connection);
    for (const level of this.levels) level.request.apply(headers, request, connection);
  }

  applyResponseHeaders(
    response: ResponseHead,
    choice: ClusterChoice | null,
    request?: RequestHead,
    connection?: ConnectionInfo,
  ): void {
    const headers = response.headers;
    if (choice !== null) choiceChanges(choice)?.response.apply(headers, request, connection);
    for (const level of this.levels) level.response.apply(headers, request, connection);
  }
}

/** The compiled header changes of a cluster choice (ours are compiled; another's is compiled now). */
function choiceChanges(choice: ClusterChoice): CompiledHeaderChanges | null {
  if (choice instanceof Choice) return choice.compiled;
  if (choice.headerChanges === undefined) return null;
  try {
    return new CompiledHeaderChanges(choice.headerChanges, `cluster ${JSON.stringify(choice.name)}`);
  } catch {
    // A choice made outside this module with changes that do not compile changes nothing: the
    // data plane does not throw.
    return null;
  }
}

/** Envoy's Grpc::Common::hasGrpcContentType: `application/grpc`, or it followed by `+` or `;`. */
export function isGrpc(headers: HeaderMap): boolean {
  const type = joinedHeader(headers, 'content-type');
  if (type === undefined || type.length < 16) return false;
  const lower = type.toLowerCase();
  if (!lower.startsWith('application/grpc')) return false;
  if (lower.length === 16) return true;
  const next = lower.charCodeAt(16);
  return next === 43 /* + */ || next === 59; /* ; */
}

function directResponse(
  config: model.DirectResponseAction,
  options: BodyOptions,
  where: string,
): { status: number; body: Buffer | undefined } {
  if (!Number.isInteger(config.status) || config.status < 200 || config.status > 599)
    throw configError(at(where, 'status'), `${config.status} is outside 200-599`);
  let body: Buffer | undefined;
  const source = config.body;
  if (source !== undefined) {
    const bp = at(where, 'body');
    if ('inlineString' in source) body = Buffer.from(source.inlineString, 'utf8');
    else if ('inlineBytes' in source) body = Buffer.from(source.inlineBytes, 'base64');
    else {
      try {
        body = options.readFile(source.filename);
      } catch (err) {
        throw configError(
          at(bp, 'filename'),
          `cannot read ${JSON.stringify(source.filename)}: ${err instanceof Error ? err.message : String(err)}`,
          err,
        );
      }
    }
    if (body.length > options.maxDirectResponseBodyBytes)
      throw configError(
        bp,
        `${body.length} bytes exceed the direct response body limit of ${options.maxDirectResponseBodyBytes}`,
      );
  }
  return { status: config.status, body };
}

/** Reads a direct response body file at compile time. */
export function readBodyFile(path: string): Buffer {
  return readFileSync(path);
}
