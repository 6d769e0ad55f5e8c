// `envoy.filters.http.cors`: the CORS policy of the route (else its virtual host), or a per-route
// CorsPolicy config. Preflights (OPTIONS with Origin and Access-Control-Request-Method) are
// answered here; other requests from an allowed origin get the allow headers on their response.
import type { CorsPolicy } from '@meshlet/xds';
import type { FilterEnvironment, HeaderMap, HttpContext, HttpFilter } from '../../types.js';
import { ConfigReader } from '../config-reader.js';
import { joinedHeader } from '../../matchers/header-matcher.js';
import { isSafeHeaderValue } from '../header-mutation/header-ops.js';
import { type CompiledStringMatcher, compileStringMatcher } from '../../matchers/string-matcher.js';

/** A CorsPolicy compiled: origin matchers built once. */
export class CompiledCorsPolicy {
  readonly origins: readonly CompiledStringMatcher[];
  /** A matcher accepts "*": every origin is allowed (Envoy's check). */
  readonly anyOrigin: boolean;
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  readonly allowPrivateNetworkAccess: boolean;
  readonly forwardNotMatchingPreflights: boolean;

  constructor(reader: ConfigReader, value: unknown, field: string) {
    const o = reader.object(value, field);
    this.origins = reader
      .list(o.allowOriginStringMatch, `${field}.allowOriginStringMatch`)
      .map((m, i) => compileStringMatcher(reader, m, `${field}.allowOriginStringMatch[${i}]`));
    this.anyOrigin = this.origins.some((m) => m.match('*'));
    this.allowMethods = headerText(reader, o.allowMethods, `${field}.allowMethods`);
    this.allowHeaders = headerText(reader, o.allowHeaders, `${field}.allowHeaders`);
    this.exposeHeaders = headerText(reader, o.exposeHeaders, `${field}.exposeHeaders`);
    this.maxAge = headerText(reader, o.maxAge, `${field}.maxAge`);
    this.allowCredentials = reader.boolean(o.allowCredentials, `${field}.allowCredentials`, false);
    this.allowPrivateNetworkAccess = reader.boolean(
      o.allowPrivateNetworkAccess,
      `${field}.allowPrivateNetworkAccess`,
      false,
    );
    this.forwardNotMatchingPreflights = reader.boolean(
      o.forwardNotMatchingPreflights,
      `${field}.forwardNotMatchingPreflights`,
      true,
    );
  }

  /** Whether `origin` is allowed. */
  allows(origin: string): boolean {
    if (this.anyOrigin) return true;
    const origins = this.origins;
    for (const m of origins) if (m.match(origin)) return true;
    return false;
  }
}

function headerText(reader: ConfigReader, value: unknown, field: string): string {
  const s = reader.string(value, field, '');
  if (!isSafeHeaderValue(s))
    throw reader.error(field, 'may hold only tab, visible ASCII, space and bytes 0x80-0xff');
  return s;
}

/** A policy that failed to compile at request time: CORS then allows no origin. */
const BROKEN: unique symbol = Symbol('broken cors policy');

/** A compiled cors config: the per-route policy if this is one, and the route policies compiled so far. */
export class CorsFilterConfig {
  /** The per-route policy (a CorsPolicy per-filter config); `null`: use the route's `cors`. */
  readonly policy: CompiledCorsPolicy | null;
  /** Route policies compiled on first use, by the model object (stable for a config version). */
  readonly compiled: WeakMap<CorsPolicy, CompiledCorsPolicy | typeof BROKEN>;
  readonly reader: ConfigReader;
  /** This config's per-request state key (the allowed origin and its policy). */
  readonly key: symbol;

  constructor(reader: ConfigReader, policy: CompiledCorsPolicy | null) {
    this.policy = policy;
    this.compiled = new WeakMap();
    this.reader = reader;
    this.key = Symbol('cors');
  }

  /** The policy in effect for a request, or `null`. */
  policyFor(ctx: HttpContext): CompiledCorsPolicy | null {
    if (this.policy !== null) return this.policy;
    const source = ctx.route?.cors;
    if (source === undefined) return null;
    let compiled = this.compiled.get(source);
    if (compiled === undefined) {
      try {
        compiled = new CompiledCorsPolicy(this.reader, source, 'cors');
      } catch {
        // Route policies are validated when the route table is built; one that still fails here
        // (a regex re2js rejects) must not throw on the data plane: it allows no origin.
        compiled = BROKEN;
      }
      this.compiled.set(source, compiled);
    }
    return compiled === BROKEN ? BROKEN_POLICY : compiled;
  }
}

const BROKEN_POLICY = new CompiledCorsPolicy(
  new ConfigReader({ filterName: 'cors' }),
  { forwardNotMatchingPreflights: true },
  'cors',
);

/** A request from an allowed origin: what its response gets. */
class AllowedOrigin {
  readonly origin: string;
  readonly policy: CompiledCorsPolicy;
  constructor(origin: string, policy: CompiledCorsPolicy) {
    this.origin = origin;
    this.policy = policy;
  }
}

/**
 * The CORS filter (`cors`), Envoy's semantics: the policy is a per-route CorsPolicy config, else
 * the route's (or its virtual host's) `cors`. A preflight is answered 200 with
 * `access-control-allow-*` headers (unless its origin is not allowed and
 * `forwardNotMatchingPreflights`, the default, sends it on); a request from an allowed origin gets
 * `access-control-allow-origin` (and `-credentials`, `-expose-headers`) on its response.
 *
 * @example
 * ```ts
 * // virtual host: { cors: { allowOriginStringMatch: [{ suffix: '.example.com', ignoreCase: true }], allowMethods: 'GET,POST', ... } }
 * createProxy({ config, filters: [...builtinHttpFilters] });
 * ```
 */
export const corsFilter: HttpFilter<CorsFilterConfig> = {
  name: 'cors',
  configure(config: unknown, env: FilterEnvironment): CorsFilterConfig {
    const reader = new ConfigReader(env);
    const o = reader.typed(config, 'cors');
    return new CorsFilterConfig(
      reader,
      o.policy === undefined ? null : new CompiledCorsPolicy(reader, o.policy, 'policy'),
    );
  },
  onRequest(ctx: HttpContext, c: CorsFilterConfig): void {
    const request = ctx.request;
    const origin = joinedHeader(request.headers, 'origin');
    if (origin === undefined || origin === '') return;
    const policy = c.policyFor(ctx);
    if (policy === null) return;
    const allowed = policy.allows(origin);
    if (request.method === 'OPTIONS') {
      const method = joinedHeader(request.headers, 'access-control-request-method');
      if (method !== undefined && method !== '') {
        if (!allowed && policy.forwardNotMatchingPreflights) return;
        preflight(ctx, policy, allowed ? origin : null, method);
        return;
      }
    }
    if (allowed) ctx.state.set(c.key, new AllowedOrigin(origin, policy));
  },
  onResponse(ctx: HttpContext, c: CorsFilterConfig): void {
    const allowed = ctx.state.get(c.key) as AllowedOrigin | undefined;
    if (allowed === undefined || ctx.response === null) return;
    const headers = ctx.response.headers;
    const policy = allowed.policy;
    headers['access-control-allow-origin'] = allowed.origin;
    if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    if (policy.exposeHeaders !== '') headers['access-control-expose-headers'] = policy.exposeHeaders;
  },
};

function preflight(
  ctx: HttpContext,
  policy: CompiledCorsPolicy,
  origin: string | null,
  method: string,
): void {
  const headers: HeaderMap = {};
  if (origin !== null) headers['access-control-allow-origin'] = origin;
  if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
  if (policy.allowMethods !== '') {
    headers['access-control-allow-methods'] = policy.allowMethods === '*' ? method : policy.allowMethods;
  }
  if (policy.allowHeaders !== '') {
    const requested = joinedHeader(ctx.request.headers, 'access-control-request-headers') ?? '';
    if (policy.allowHeaders !== '*') headers['access-control-allow-headers'] = policy.allowHeaders;
    else if (requested !== '') headers['access-control-allow-headers'] = requested;
  }
  if (policy.maxAge !== '') headers['access-control-max-age'] = policy.maxAge;
  if (
    policy.allowPrivateNetworkAccess &&
    joinedHeader(ctx.request.headers, 'access-control-request-private-network') === 'true'
  ) {
    headers['access-control-allow-private-network'] = 'true';
  }
  ctx.info.responseCodeDetails = 'cors_response';
  ctx.reply(200, undefined, headers);
}
