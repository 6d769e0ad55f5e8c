// The route table: a RouteConfiguration compiled once per config version. `match` picks the
// virtual host by authority, then returns the first of its routes that matches, as Envoy's
// RouteMatcher does.
//
//   authority ─lower-case─▶ exact Map ─miss─▶ *.suffix (longest first) ─miss─▶ prefix.* (longest first)
//        │                                                                            │ miss
//        └── had a port? try the three again without it ◀──────────────────────────────┘
//                                           │ miss
//                                           ▼
//                                   the `*` virtual host, or no route
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { MatchInput, RequestHead, RouteEntry, RouteTable } from '../types.js';
import { CompiledHeaderChanges } from './header-changes.js';
import { MatchState } from './path-match.js';
import { RouteIndex } from './route-index.js';
import { portStart } from './redirect.js';
import { RetryPolicyImpl } from './retry-policy.js';
import type { BodyOptions, Inherited } from './route-entry.js';
import { RouteEntryImpl, corsOverride, readBodyFile } from './route-entry.js';
import { at, configError, indexed } from './where.js';

/** Options of {@link compileRouteTable}. */
export interface RouteTableOptions {
  /** Reads a direct response body file at compile time. Default: `fs.readFileSync`. */
  readonly readFile?: (path: string) => Buffer;
  /** Largest direct response body, bytes (Envoy's `max_direct_response_body_size_bytes`). Default 4096. */
  readonly maxDirectResponseBodyBytes?: number;
  /**
   * A virtual host with this many routes or more matches through an index of the routes' literal
   * path prefixes instead of trying each route (same result, fewer routes tried). Default 16;
   * `Infinity` never indexes.
   */
  readonly indexMinRoutes?: number;
}

/** Envoy's default `max_direct_response_body_size_bytes`. */
export const DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;

/** A virtual host compiled: its routes, and the redirect its `require_tls` calls for. */
class CompiledVirtualHost {
  readonly name: string;
  readonly routes: readonly RouteEntryImpl[];
  readonly requireTls: number;
  readonly tlsRedirect: RouteEntryImpl | null;
  /** Built for long route lists only: below {@link INDEX_MIN_ROUTES} a scan is as fast. */
  readonly index: RouteIndex | null;

  constructor(
    name: string,
    routes: readonly RouteEntryImpl[],
    requireTls: number,
    tlsRedirect: RouteEntryImpl | null,
    indexMinRoutes: number,
  ) {
    this.name = name;
    this.routes = routes;
    this.requireTls = requireTls;
    this.tlsRedirect = tlsRedirect;
    this.index = routes.length >= indexMinRoutes ? new RouteIndex(routes.map((r) => r.indexKey())) : null;
  }

  /** The first route that takes the request of `state`, or `null`. */
  firstMatch(state: MatchState): RouteEntryImpl | null {
    const routes = this.routes;
    const index = this.index;
    if (index !== null) {
      const n = index.candidates(state);
      if (n >= 0) {
        const candidates = index.scratch;
        for (let k = 0; k < n; k++) {
          const route = routes[candidates[k] as number] as RouteEntryImpl;
          if (route.matches(state)) return route;
        }
        return null;
      }
    }
    for (const route of routes) if (route.matches(state)) return route;
    return null;
  }
}

/** Route lists this long or longer get a {@link RouteIndex}. */
export const INDEX_MIN_ROUTES = 16;

const TLS_NONE = 0;
const TLS_EXTERNAL_ONLY = 1;
const TLS_ALL = 2;

/** A wildcard domain: the fixed part, and its virtual host. */
interface Wildcard {
  readonly text: string;
  readonly host: CompiledVirtualHost;
}

const NO_REQUEST: RequestHead = { method: '', scheme: '', authority: '', path: '', headers: {} };
const NO_INPUT: MatchInput = {
  request: NO_REQUEST,
  connection: {
    id: 0,
    listenerName: '',
    remoteAddress: '',
    remotePort: 0,
    localAddress: '',
    localPort: 0,
    tls: false,
    serverName: undefined,
    alpnProtocol: undefined,
  },
  random: () => 0,
};

/** A compiled route table: {@link RouteTable} and a way to ask which virtual host an authority selects. */
export class CompiledRouteTable implements RouteTable {
  readonly name: string;
  private readonly exact: ReadonlyMap<string, CompiledVirtualHost>;
  /** `*.suffix` domains without the `*`, longest first. */
  private readonly suffixes: readonly Wildcard[];
  /** `prefix.*` domains without the `*`, longest first. */
  private readonly prefixes: readonly Wildcard[];
  private readonly fallback: CompiledVirtualHost | null;
  private readonly onlyFallback: boolean;
  /** Reused by every `match` call (JavaScript runs one at a time; `match` never re-enters). */
  private readonly state: MatchState;

  constructor(config: model.RouteConfiguration, options: RouteTableOptions = {}) {
    if (typeof config !== 'object' || (config as unknown) === null)
      throw configError('route_config', 'must be an object');
    this.name = config.name;
    const where = `route_config ${JSON.stringify(config.name)}`;
    const body: BodyOptions = {
      readFile: options.readFile ?? readBodyFile,
      maxDirectResponseBodyBytes:
        options.maxDirectResponseBodyBytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES,
    };
    const globalChanges = new CompiledHeaderChanges(config, where);
    const globalPerFilter = new Map(Object.entries(config.typedPerFilterConfig));
    const globalCors = corsOverride(config.typedPerFilterConfig);

    const exact = new Map<string, CompiledVirtualHost>();
    const suffixes: Wildcard[] = [];
    const prefixes: Wildcard[] = [];
    let fallback: CompiledVirtualHost | null = null;
    const seen = new Map<string, number>();
    const names = new Map<string, number>();

    config.virtualHosts.forEach((vh, i) => {
      const vp = at(where, indexed('virtual_hosts', i, vh.name));
      if (vh.name !== '') {
        const other = names.get(vh.name);
        if (other !== undefined)
          throw configError(
            vp,
            `virtual host name ${JSON.stringify(vh.name)} is also used by virtual_hosts[${other}]`,
          );
        names.set(vh.name, i);
      }
      const host = compileVirtualHost(
        vh,
        globalChanges,
        globalPerFilter,
        globalCors,
        body,
        options.indexMinRoutes ?? INDEX_MIN_ROUTES,
        vp,
      );
      if (vh.domains.length === 0)
        throw configError(at(vp, 'domains'), 'a virtual host needs at least one domain');
      vh.domains.forEach((raw, j) => {
        const dp = indexed(at(vp, 'domains'), j);
        const domain = raw.toLowerCase();
        if (domain === '') throw configError(dp, 'a domain must not be empty');
        const other = seen.get(domain);
        if (other !== undefined)
          throw configError(
            dp,
            `domain ${JSON.stringify(raw)} is also in virtual_hosts[${other}]: only unique domains are permitted`,
          );
        seen.set(domain, i);
        const star = domain.indexOf('*');
        if (domain === '*') fallback = host;
        else if (star === 0) {
          if (domain.includes('*', 1))
            throw configError(dp, `${JSON.stringify(raw)} has more than one wildcard`);
          suffixes.push({ text: domain.slice(1), host });
        } else if (star === domain.length - 1) prefixes.push({ text: domain.slice(0, -1), host });
        else if (star > 0)
          throw configError(
            dp,
            `${JSON.stringify(raw)}: a wildcard goes first (*.suffix) or last (prefix.*)`,
          );
        else exact.set(domain, host);
      });
    });
    // Longest wildcard first: the most specific one wins.
    suffixes.sort((a, b) => b.text.length - a.text.length);
    prefixes.sort((a, b) => b.text.length - a.text.length);
    this.exact = exact;
    this.suffixes = suffixes;
    this.prefixes = prefixes;
    this.fallback = fallback;
    this.onlyFallback = exact.size === 0 && suffixes.length === 0 && prefixes.length === 0;
    this.state = new MatchState(NO_INPUT);
  }

  match(input: MatchInput): RouteEntry | null {
    const host = this.findVirtualHost(input.request.authority);
    if (host === null) return null;
    const request = input.request;
    if (host.requireTls !== TLS_NONE && request.scheme !== 'https') {
      if (host.requireTls === TLS_ALL || request.headers['x-envoy-internal'] !== 'true')
        return host.tlsRedirect;
    }
    const state = this.state;
    state.reset(input);
    const found = host.firstMatch(state);
    state.release(NO_INPUT);
    return found;
  }

  /** The virtual host for an authority, or `null`. */
  private findVirtualHost(authority: string): CompiledVirtualHost | null {
    if (this.onlyFallback) return this.fallback;
    const host = authority.toLowerCase();
    const found = this.findSpecific(host);
    if (found !== null) return found;
    // Not found with its port: try again without it (Istio lists domains both ways; a client
    // may send a port the config does not list).
    const p = portStart(host);
    if (p >= 0) {
      const bare = this.findSpecific(host.slice(0, p));
      if (bare !== null) return bare;
    }
    return this.fallback;
  }

  /** The name of the virtual host an authority selects, or `null` (for tests and diagnostics). */
  virtualHostName(authority: string): string | null {
    return this.findVirtualHost(authority)?.name ?? null;
  }

  private findSpecific(host: string): CompiledVirtualHost | null {
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    // The wildcard must stand for at least one character: `*.a.com` does not take `.a.com`.
    for (const w of this.suffixes) if (host.length > w.text.length && host.endsWith(w.text)) return w.host;
    for (const w of this.prefixes) if (host.length > w.text.length && host.startsWith(w.text)) return w.host;
    return null;
  }
}

function compileVirtualHost(
  vh: model.VirtualHost,
  globalChanges: CompiledHeaderChanges,
  globalPerFilter: ReadonlyMap<string, model.FilterConfigOverride>,
  globalCors: model.CorsPolicy | undefined,
  body: BodyOptions,
  indexMinRoutes: number,
  where: string,
): CompiledVirtualHost {
  const own = new CompiledHeaderChanges(vh, where);
  const levels: CompiledHeaderChanges[] = [];
  if (!own.request.empty || !own.response.empty) levels.push(own);
  if (!globalChanges.request.empty || !globalChanges.response.empty) levels.push(globalChanges);
  const perFilter = new Map(globalPerFilter);
  for (const key of Object.keys(vh.typedPerFilterConfig))
    perFilter.set(key, vh.typedPerFilterConfig[key] as model.FilterConfigOverride);
  const inherited: Inherited = {
    virtualHostName: vh.name,
    headerLevels: levels,
    perFilterConfig: perFilter,
    cors: corsOverride(vh.typedPerFilterConfig) ?? vh.cors ?? globalCors,
    retryPolicy: vh.retryPolicy ? new RetryPolicyImpl(vh.retryPolicy, at(where, 'retry_policy')) : undefined,
  };
  const routes = vh.routes.map(
    (r, i) => new RouteEntryImpl(r, inherited, body, at(where, indexed('routes', i, r.name))),
  );
  const requireTls =
    vh.requireTls === 'ALL' ? TLS_ALL : vh.requireTls === 'EXTERNAL_ONLY' ? TLS_EXTERNAL_ONLY : TLS_NONE;
  // Envoy answers a plain-text request to a TLS-only virtual host with a 301 to https, same
  // host and path (its SslRedirectRoute).
  const tlsRedirect =
    requireTls === TLS_NONE
      ? null
      : new RouteEntryImpl(
          {
            name: '',
            match: { prefix: '/', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
            redirect: { httpsRedirect: true, responseCode: 301, stripQuery: false },
            metadata: {},
            typedPerFilterConfig: {},
            requestHeadersToAdd: [],
            requestHeadersToRemove: [],
            responseHeadersToAdd: [],
            responseHeadersToRemove: [],
          },
          inherited,
          body,
          at(where, 'require_tls'),
        );
  return new CompiledVirtualHost(vh.name, routes, requireTls, tlsRedirect, indexMinRoutes);
}

/**
 * Compiles a route configuration into a {@link RouteTable}: virtual hosts by authority, routes in
 * order, with Envoy's semantics. Throws a `ConfigError` naming the route configuration, virtual
 * host, route and field of the first problem found.
 *
 * @example
 * ```ts
 * const table = compileRouteTable(snapshot.routeConfigurations.get('main')!);
 * const route = table.match({ request, connection, random: Math.random });
 * if (route?.action) console.log(route.action.selectCluster(input)?.name);
 * ```
 */
export function compileRouteTable(
  config: model.RouteConfiguration,
  options?: RouteTableOptions,
): CompiledRouteTable {
  try {
    return new CompiledRouteTable(config, options);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A hand-written config that is not the model's shape (a missing list, a wrong type) fails
    // somewhere inside; it is still bad input, reported as such.
    const name =
      typeof config === 'object' && (config as unknown) !== null ? JSON.stringify(config.name) : '';
    throw configError(
      `route_config ${name}`,
      `not a valid RouteConfiguration (${err instanceof Error ? err.message : String(err)})`,
      err,
    );
  }
}
