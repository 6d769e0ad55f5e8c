// HTTP filter configs: the typed_config of each filter in a connection manager, and per-route
// (or per virtual host) overrides from typed_per_filter_config.
import { type IssueList, field, index, key } from '../issues.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  CorsPolicy,
  CustomFilterConfig,
  FaultConfig,
  FilterConfigOverride,
  HeaderMutation,
  HeaderMutationConfig,
  HttpFilter,
  HttpFilterConfig,
  LocalRateLimitConfig,
  RbacConfig,
  RbacPermission,
  RbacPrincipal,
  RbacRules,
  TokenBucket,
} from '../types.js';
import {
  type Json,
  type JsonObject,
  bool,
  cidr,
  fractionalPercent,
  has,
  headerMatcher,
  headerValueOptions,
  httpStatus,
  list,
  num,
  obj,
  only,
  optNum,
  put,
  runtimeFraction,
  str,
  stringMatcher,
  strings,
} from './common.js';

/**
 * Filters that only observe (stats, telemetry exchange): they change no request, so a config
 * carrying them is applied without them, with a warning.
 */
const OBSERVE_ONLY = new Set([
  'type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig',
  'type.googleapis.com/stats.PluginConfig',
  'type.googleapis.com/io.istio.http.peer_metadata.Config',
  'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm#istio.stats',
]);

/** Translates one entry of a connection manager's http_filters; undefined when skipped or invalid. */
export function httpFilter(o: JsonObject, issues: IssueList, path: string): HttpFilter | undefined {
  only(o, issues, path, ['name', 'typedConfig', 'isOptional', 'disabled']);
  const name = str(o.name);
  const isOptional = bool(o.isOptional);
  const tc = obj(o.typedConfig);
  const url = str(tc['@type']);
  const here = field(path, 'typed_config');
  if (!has(o, 'typedConfig')) {
    // Envoy resolves the few built-in filters by name alone.
    if (name === 'envoy.filters.http.router' || name === 'envoy.router')
      return {
        name,
        isOptional,
        disabled: bool(o.disabled),
        config: { type: 'router', suppressEnvoyHeaders: false },
      };
    issues.error(path, `filter "${name}" has no typed_config`);
    return undefined;
  }
  if (OBSERVE_ONLY.has(url) || isIstioStats(tc)) {
    issues.warn(here, `filter "${name}" (${url}) only observes traffic; meshlet skips it`);
    return undefined;
  }
  const probe = issueCount(issues);
  const config = filterConfig(tc, issues, here);
  if (config === UNKNOWN) {
    if (isOptional) {
      issues.warn(here, `optional filter "${name}" (${url}) is not supported by meshlet; skipped`);
      return undefined;
    }
    issues.error(here, `filter "${name}" has a type meshlet does not support: ${url || '(none)'}`);
    return undefined;
  }
  if (!config || issueCount(issues) > probe) return undefined;
  if (config.type === 'disabled' || config.type === 'cors_policy') {
    issues.error(here, `${url} is a per-route config; filter "${name}" needs the filter's own config type`);
    return undefined;
  }
  return { name, isOptional, disabled: bool(o.disabled), config };
}

function isIstioStats(tc: JsonObject): boolean {
  // Istio's stats filter ships as Wasm or as a TypedStruct naming stats.PluginConfig.
  const typeUrl = str(tc.typeUrl);
  return (
    str(tc['@type']).endsWith('TypedStruct') &&
    (typeUrl.endsWith('stats.PluginConfig') || typeUrl.endsWith('.Wasm'))
  );
}

function issueCount(issues: IssueList): number {
  return issues.errors.length;
}

const UNKNOWN = Symbol('unknown type');

/** Configs that only make sense per route (and their model form once there). */
type PerRouteOnly =
  { readonly type: 'disabled' } | { readonly type: 'cors_policy'; readonly policy: CorsPolicy };

function filterConfig(
  tc: JsonObject,
  issues: IssueList,
  path: string,
): HttpFilterConfig | PerRouteOnly | typeof UNKNOWN | undefined {
  switch (str(tc['@type'])) {
    case TYPE_URLS.router:
      only(tc, issues, path, ['suppressEnvoyHeaders'], ['startChildSpan', 'dynamicStats', 'upstreamLog']);
      return { type: 'router', suppressEnvoyHeaders: bool(tc.suppressEnvoyHeaders) };
    case TYPE_URLS.fault:
      return fault(tc, issues, path);
    case TYPE_URLS.localRateLimit:
      return localRateLimit(tc, issues, path);
    case TYPE_URLS.rbac:
      return rbac(tc, issues, path);
    case TYPE_URLS.rbacPerRoute: {
      only(tc, issues, path, ['rbac']);
      // An RBACPerRoute without rules disables RBAC on the route.
      return has(tc, 'rbac') ? rbac(obj(tc.rbac), issues, field(path, 'rbac')) : { type: 'disabled' };
    }
    case TYPE_URLS.cors:
      only(tc, issues, path, []);
      return { type: 'cors' };
    case TYPE_URLS.corsPolicy:
      return { type: 'cors_policy', policy: corsPolicy(tc, issues, path) };
    case TYPE_URLS.headerMutation:
    case TYPE_URLS.headerMutationPerRoute:
      return headerMutation(tc, issues, path);
    case TYPE_URLS.typedStruct:
    case TYPE_URLS.udpaTypedStruct:
      return custom(tc, issues, path);
    default:
      return UNKNOWN;
  }
}

function custom(tc: JsonObject, issues: IssueList, path: string): CustomFilterConfig | undefined {
  const typeUrl = str(tc.typeUrl);
  if (!typeUrl) {
    issues.error(field(path, 'type_url'), 'a TypedStruct needs a type_url naming the filter');
    return undefined;
  }
  return { type: 'custom', typeUrl, value: obj(tc.value) };
}

/** typed_per_filter_config: filter name → override. */
export function perFilterConfig(
  v: Json | undefined,
  issues: IssueList,
  path: string,
): Record<string, FilterConfigOverride> {
  const out: Record<string, FilterConfigOverride> = {};
  const m = obj(v);
  for (const name of Object.keys(m)) {
    const here = key(path, name);
    let tc = obj(m[name]);
    let isOptional = false;
    if (str(tc['@type']) === 'type.googleapis.com/envoy.config.route.v3.FilterConfig') {
      only(tc, issues, here, ['config', 'isOptional', 'disabled']);
      isOptional = bool(tc.isOptional);
      if (bool(tc.disabled)) {
        out[name] = { type: 'disabled' };
        continue;
      }
      tc = obj(tc.config);
    }
    const config = filterConfig(tc, issues, here);
    if (config === UNKNOWN) {
      const url = str(tc['@type']);
      if (isOptional)
        issues.warn(here, `optional per-route config (${url}) is not supported by meshlet; skipped`);
      else issues.error(here, `per-route config of a type meshlet does not support: ${url || '(none)'}`);
      continue;
    }
    if (!config) continue;
    if (config.type === 'router' || config.type === 'cors') {
      issues.error(here, `${str(tc['@type'])} cannot be a per-route config`);
      continue;
    }
    out[name] = config.type === 'cors_policy' ? { type: 'cors', policy: config.policy } : config;
  }
  return out;
}

function fault(o: JsonObject, issues: IssueList, path: string): FaultConfig {
  only(
    o,
    issues,
    path,
    ['delay', 'abort', 'headers', 'upstreamCluster', 'downstreamNodes', 'maxActiveFaults'],
    [
      'delayPercentRuntime',
      'abortPercentRuntime',
      'delayDurationRuntime',
      'abortHttpStatusRuntime',
      'maxActiveFaultsRuntime',
      'responseRateLimitPercentRuntime',
      'abortGrpcStatusRuntime',
      'disableDownstreamClusterStats',
    ],
  );
  const out: { -readonly [K in keyof FaultConfig]: FaultConfig[K] } = {
    type: 'fault',
    headers: [],
    upstreamCluster: str(o.upstreamCluster),
    downstreamNodes: strings(o.downstreamNodes),
  };
  list(o.headers).forEach((h, i) => {
    const m = headerMatcher(h, issues, index(field(path, 'headers'), i));
    if (m) (out.headers as unknown[]).push(m);
  });
  put(out, 'maxActiveFaults', optNum(o.maxActiveFaults));
  if (has(o, 'delay')) {
    const d = obj(o.delay);
    only(d, issues, field(path, 'delay'), ['fixedDelay', 'headerDelay', 'percentage']);
    const delay: {
      fixedDelayMs?: number;
      headerDelay: boolean;
      percentage: FaultConfig['abort'] extends undefined ? never : ReturnType<typeof fractionalPercent>;
    } = {
      headerDelay: has(d, 'headerDelay'),
      percentage: fractionalPercent(d.percentage),
    };
    put(delay, 'fixedDelayMs', optNum(d.fixedDelay));
    out.delay = delay;
  }
  if (has(o, 'abort')) {
    const a = obj(o.abort);
    only(a, issues, field(path, 'abort'), ['httpStatus', 'grpcStatus', 'headerAbort', 'percentage']);
    const abort: {
      httpStatus?: number;
      grpcStatus?: number;
      headerAbort: boolean;
      percentage: ReturnType<typeof fractionalPercent>;
    } = {
      headerAbort: has(a, 'headerAbort'),
      percentage: fractionalPercent(a.percentage),
    };
    put(abort, 'httpStatus', optNum(a.httpStatus));
    put(abort, 'grpcStatus', optNum(a.grpcStatus));
    out.abort = abort;
  }
  return out;
}

function tokenBucket(v: Json | undefined, issues: IssueList, path: string): TokenBucket {
  const o = obj(v);
  only(o, issues, path, ['maxTokens', 'tokensPerFill', 'fillInterval']);
  return {
    maxTokens: num(o.maxTokens, 0),
    tokensPerFill: num(o.tokensPerFill, 1),
    fillIntervalMs: num(o.fillInterval, 0),
  };
}

function localRateLimit(o: JsonObject, issues: IssueList, path: string): LocalRateLimitConfig {
  only(
    o,
    issues,
    path,
    [
      'statPrefix',
      'tokenBucket',
      'filterEnabled',
      'filterEnforced',
      'status',
      'responseHeadersToAdd',
      'descriptors',
      'localRateLimitPerDownstreamConnection',
      'stage',
      'enableXRatelimitHeaders',
    ],
    [
      'requestHeadersToAddWhenNotEnforced',
      'alwaysConsumeDefaultTokenBucket',
      'rateLimitedAsResourceExhausted',
    ],
  );
  const out: { -readonly [K in keyof LocalRateLimitConfig]: LocalRateLimitConfig[K] } = {
    type: 'local_rate_limit',
    statPrefix: str(o.statPrefix),
    status: httpStatus(o.status, 429),
    responseHeadersToAdd: headerValueOptions(
      o.responseHeadersToAdd,
      issues,
      field(path, 'response_headers_to_add'),
    ),
    descriptors: list(o.descriptors).map((d, i) => {
      const here = index(field(path, 'descriptors'), i);
      return {
        entries: list(d.entries).map((e) => ({ key: str(e.key), value: str(e.value) })),
        tokenBucket: tokenBucket(d.tokenBucket, issues, field(here, 'token_bucket')),
      };
    }),
    localRateLimitPerDownstreamConnection: bool(o.localRateLimitPerDownstreamConnection),
    enableXRatelimitHeaders: 'OFF',
  };
  const headers = str(o.enableXRatelimitHeaders, 'OFF');
  if (headers === 'DRAFT_VERSION_03') out.enableXRatelimitHeaders = headers;
  else if (headers !== 'OFF')
    issues.error(
      field(path, 'enable_x_ratelimit_headers'),
      `must be OFF or DRAFT_VERSION_03, got ${headers}`,
    );
  if (has(o, 'tokenBucket'))
    out.tokenBucket = tokenBucket(o.tokenBucket, issues, field(path, 'token_bucket'));
  if (has(o, 'filterEnabled')) out.filterEnabled = runtimeFraction(o.filterEnabled);
  if (has(o, 'filterEnforced')) out.filterEnforced = runtimeFraction(o.filterEnforced);
  return out;
}

function rbac(o: JsonObject, issues: IssueList, path: string): RbacConfig {
  only(
    o,
    issues,
    path,
    ['rules', 'shadowRules'],
    ['shadowRulesStatPrefix', 'rulesStatPrefix', 'trackPerRuleStats'],
  );
  const out: { -readonly [K in keyof RbacConfig]: RbacConfig[K] } = { type: 'rbac' };
  if (has(o, 'matcher'))
    issues.error(field(path, 'matcher'), 'matcher-based RBAC is not supported; use rules');
  if (has(o, 'rules')) out.rules = rbacRules(obj(o.rules), issues, field(path, 'rules'));
  if (has(o, 'shadowRules'))
    out.shadowRules = rbacRules(obj(o.shadowRules), issues, field(path, 'shadow_rules'));
  return out;
}

function rbacRules(o: JsonObject, issues: IssueList, path: string): RbacRules {
  only(o, issues, path, ['action', 'policies']);
  const policies: RbacRules['policies'] = {};
  const ps = obj(o.policies);
  for (const name of Object.keys(ps)) {
    const p = obj(ps[name]);
    const here = key(field(path, 'policies'), name);
    only(p, issues, here, ['permissions', 'principals']);
    if (has(p, 'condition') || has(p, 'checkedCondition'))
      issues.error(field(here, 'condition'), 'CEL conditions are not supported');
    policies[name] = {
      permissions: list(p.permissions).map((x, i) =>
        permission(x, issues, index(field(here, 'permissions'), i)),
      ),
      principals: list(p.principals).map((x, i) => principal(x, issues, index(field(here, 'principals'), i))),
    };
  }
  const action = str(o.action, 'ALLOW');
  return { action: action === 'DENY' || action === 'LOG' ? action : 'ALLOW', policies };
}

function permission(o: JsonObject, issues: IssueList, path: string): RbacPermission {
  const keys = Object.keys(o);
  const k = keys[0];
  if (keys.length !== 1 || k === undefined) {
    issues.error(path, 'a permission needs exactly one rule');
    return { any: true };
  }
  const here = field(path, k);
  switch (k) {
    case 'any':
      return { any: true };
    case 'header': {
      const m = headerMatcher(obj(o.header), issues, here);
      return m ? { header: m } : { any: true };
    }
    case 'urlPath': {
      const p = obj(obj(o.urlPath).path);
      const m = stringMatcher(p, issues, field(here, 'path'));
      return m ? { urlPath: m } : { any: true };
    }
    case 'destinationIp':
      return { destinationIp: cidr(obj(o.destinationIp)) };
    case 'destinationPort':
      return { destinationPort: num(o.destinationPort, 0) };
    case 'destinationPortRange': {
      const r = obj(o.destinationPortRange);
      return { destinationPortRange: { start: num(r.start, 0), end: num(r.end, 0) } };
    }
    case 'requestedServerName': {
      const m = stringMatcher(obj(o.requestedServerName), issues, here);
      return m ? { requestedServerName: m } : { any: true };
    }
    case 'andRules':
      return {
        andRules: list(obj(o.andRules).rules).map((x, i) =>
          permission(x, issues, index(field(here, 'rules'), i)),
        ),
      };
    case 'orRules':
      return {
        orRules: list(obj(o.orRules).rules).map((x, i) =>
          permission(x, issues, index(field(here, 'rules'), i)),
        ),
      };
    case 'notRule':
      return { notRule: permission(obj(o.notRule), issues, here) };
    default:
      issues.error(here, 'this RBAC permission rule is not supported by meshlet');
      return { any: true };
  }
}

function principal(o: JsonObject, issues: IssueList, path: string): RbacPrincipal {
  const keys = Object.keys(o);
  const k = keys[0];
  if (keys.length !== 1 || k === undefined) {
    issues.error(path, 'a principal needs exactly one identifier');
    return { any: true };
  }
  const here = field(path, k);
  switch (k) {
    case 'any':
      return { any: true };
    case 'authenticated': {
      const a = obj(o.authenticated);
      if (!has(a, 'principalName')) return { authenticated: {} };
      const m = stringMatcher(obj(a.principalName), issues, field(here, 'principal_name'));
      return m ? { authenticated: { principalName: m } } : { any: true };
    }
    case 'sourceIp':
      return { sourceIp: cidr(obj(o.sourceIp)) };
    case 'directRemoteIp':
      return { directRemoteIp: cidr(obj(o.directRemoteIp)) };
    case 'remoteIp':
      return { remoteIp: cidr(obj(o.remoteIp)) };
    case 'header': {
      const m = headerMatcher(obj(o.header), issues, here);
      return m ? { header: m } : { any: true };
    }
    case 'urlPath': {
      const m = stringMatcher(obj(obj(o.urlPath).path), issues, field(here, 'path'));
      return m ? { urlPath: m } : { any: true };
    }
    case 'andIds':
      return {
        andIds: list(obj(o.andIds).ids).map((x, i) => principal(x, issues, index(field(here, 'ids'), i))),
      };
    case 'orIds':
      return {
        orIds: list(obj(o.orIds).ids).map((x, i) => principal(x, issues, index(field(here, 'ids'), i))),
      };
    case 'notId':
      return { notId: principal(obj(o.notId), issues, here) };
    default:
      issues.error(here, 'this RBAC principal is not supported by meshlet');
      return { any: true };
  }
}

/** A CorsPolicy (per-filter config, or the deprecated route/virtual host `cors` field). */
export function corsPolicy(o: JsonObject, issues: IssueList, path: string): CorsPolicy {
  only(
    o,
    issues,
    path,
    [
      'allowOriginStringMatch',
      'allowMethods',
      'allowHeaders',
      'exposeHeaders',
      'maxAge',
      'allowCredentials',
      'allowPrivateNetworkAccess',
      'forwardNotMatchingPreflights',
    ],
    ['filterEnabled', 'shadowEnabled'],
  );
  const origins = [];
  for (const [i, m] of list(o.allowOriginStringMatch).entries()) {
    const s = stringMatcher(m, issues, index(field(path, 'allow_origin_string_match'), i));
    if (s) origins.push(s);
  }
  return {
    allowOriginStringMatch: origins,
    allowMethods: str(o.allowMethods),
    allowHeaders: str(o.allowHeaders),
    exposeHeaders: str(o.exposeHeaders),
    maxAge: str(o.maxAge),
    allowCredentials: bool(o.allowCredentials),
    allowPrivateNetworkAccess: bool(o.allowPrivateNetworkAccess),
    forwardNotMatchingPreflights: bool(o.forwardNotMatchingPreflights, true),
  };
}

function headerMutation(o: JsonObject, issues: IssueList, path: string): HeaderMutationConfig {
  only(o, issues, path, ['mutations']);
  const m = obj(o.mutations);
  const here = field(path, 'mutations');
  only(m, issues, here, ['requestMutations', 'responseMutations']);
  const ops = (v: Json | undefined, p: string): HeaderMutation[] =>
    list(v).flatMap((x, i): HeaderMutation[] => {
      const at = index(p, i);
      if (has(x, 'remove')) return [{ remove: str(x.remove).toLowerCase() }];
      if (has(x, 'append')) {
        const [opt] = headerValueOptions([x.append ?? null], issues, field(at, 'append'));
        return opt ? [{ append: opt }] : [];
      }
      issues.error(at, 'only append and remove mutations are supported');
      return [];
    });
  return {
    type: 'header_mutation',
    requestMutations: ops(m.requestMutations, field(here, 'request_mutations')),
    responseMutations: ops(m.responseMutations, field(here, 'response_mutations')),
  };
}
