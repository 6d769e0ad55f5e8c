// `envoy.filters.http.rbac`: allow or deny requests by policies of permissions and principals;
// shadow rules are evaluated and recorded, never enforced.
import type { FilterEnvironment, HttpContext, HttpFilter } from '../../types.js';
import { ConfigReader } from '../config-reader.js';
import { RbacEngine } from './rbac-engine.js';

/** The body of the 403 a denied request gets, as Envoy's. */
export const RBAC_DENIED_BODY = 'RBAC: access denied';

/**
 * The `ctx.state` key of the RBAC filter's outcome (Envoy's dynamic metadata of
 * `envoy.filters.http.rbac`), set when there are shadow rules or a LOG action matched.
 */
export const RBAC_METADATA = 'envoy.filters.http.rbac';

/** What the RBAC filter recorded for a request under {@link RBAC_METADATA}. */
export class RbacMetadata {
  /** `allowed` or `denied` by the shadow rules; '' without shadow rules. */
  shadowEngineResult: '' | 'allowed' | 'denied' = '';
  /** The shadow policy that matched, '' for none. */
  shadowEffectivePolicyId = '';
  /** A LOG action's policy matched: the request should be logged (Envoy's `access_log_hint`). */
  accessLogHint = false;
}

/** Envoy's RBAC counters (`rbac.allowed`, `rbac.denied`, `rbac.shadow_allowed`, `rbac.shadow_denied`, `rbac.logged`). */
export interface RbacStats {
  allowed: number;
  denied: number;
  shadowAllowed: number;
  shadowDenied: number;
  logged: number;
  notLogged: number;
}

/** A compiled rbac config. */
export class RbacFilterConfig {
  /** Enforced rules; `null`: every request allowed. */
  readonly rules: RbacEngine | null;
  readonly shadowRules: RbacEngine | null;
  readonly stats: RbacStats;

  constructor(reader: ConfigReader, o: Record<string, unknown>) {
    this.rules = o.rules === undefined ? null : new RbacEngine(reader, o.rules, 'rules');
    this.shadowRules =
      o.shadowRules === undefined ? null : new RbacEngine(reader, o.shadowRules, 'shadowRules');
    this.stats = { allowed: 0, denied: 0, shadowAllowed: 0, shadowDenied: 0, logged: 0, notLogged: 0 };
  }
}

function metadata(ctx: HttpContext): RbacMetadata {
  let m = ctx.state.get(RBAC_METADATA) as RbacMetadata | undefined;
  if (m === undefined) {
    m = new RbacMetadata();
    ctx.state.set(RBAC_METADATA, m);
  }
  return m;
}

/**
 * The RBAC filter (`rbac`). `ALLOW`: only requests matching a policy pass; `DENY`: requests
 * matching a policy get 403 `RBAC: access denied` (flag `UAEX`); `LOG`: all pass, a match is
 * recorded. `shadowRules` are evaluated and recorded under {@link RBAC_METADATA} and in the stats,
 * never enforced. A per-route config (RBACPerRoute) replaces the filter's.
 *
 * @example
 * ```ts
 * // rules: { action: 'ALLOW', policies: { office: { permissions: [{ any: true }],
 * //   principals: [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }] } } }
 * createProxy({ config, filters: [...builtinHttpFilters] });
 * ```
 */
export const rbacFilter: HttpFilter<RbacFilterConfig> = {
  name: 'rbac',
  configure(config: unknown, env: FilterEnvironment): RbacFilterConfig {
    const reader = new ConfigReader(env);
    return new RbacFilterConfig(reader, reader.typed(config, 'rbac'));
  },
  onRequest(ctx: HttpContext, c: RbacFilterConfig): void {
    const stats = c.stats;
    const shadow = c.shadowRules;
    if (shadow !== null) {
      const matched = shadow.firstMatch(ctx);
      const m = metadata(ctx);
      if (shadow.action === 'LOG') {
        // Envoy's shadow LOG engine reports through the access log hint only.
        if (matched !== null) m.shadowEffectivePolicyId = matched;
      } else if (shadow.allows(matched)) {
        stats.shadowAllowed++;
        m.shadowEngineResult = 'allowed';
        if (matched !== null) m.shadowEffectivePolicyId = matched;
      } else {
        stats.shadowDenied++;
        m.shadowEngineResult = 'denied';
        if (matched !== null) m.shadowEffectivePolicyId = matched;
      }
    }
    const rules = c.rules;
    if (rules === null) return;
    const matched = rules.firstMatch(ctx);
    if (rules.action === 'LOG') {
      if (matched !== null) {
        stats.logged++;
        metadata(ctx).accessLogHint = true;
      } else stats.notLogged++;
      return;
    }
    if (rules.allows(matched)) {
      stats.allowed++;
      return;
    }
    stats.denied++;
    ctx.info.responseFlags.add('UAEX');
    ctx.info.responseCodeDetails = `rbac_access_denied_matched_policy[${matched ?? 'none'}]`;
    ctx.reply(403, RBAC_DENIED_BODY);
  },
};
