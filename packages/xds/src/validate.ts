// Cross-resource and semantic checks of a model, however it was made: by hand, from a bootstrap
// file or over ADS. Every problem is reported, with the resource and Envoy's field path.
import { XdsValidationError } from './errors.js';
import { IssueList, field, index, key } from './issues.js';
import { compileRegex } from './regex.js';
import type {
  Bootstrap,
  Cluster,
  ClusterLoadAssignment,
  HeaderMatcher,
  HttpConnectionManager,
  Issue,
  Listener,
  RouteConfiguration,
  StringMatcher,
} from './types.js';

/** What {@link validate} checks: any subset; references are checked against the kinds given. */
export interface ValidationInput {
  readonly listeners?: Iterable<Listener>;
  readonly routeConfigurations?: Iterable<RouteConfiguration>;
  readonly clusters?: Iterable<Cluster>;
  readonly endpoints?: Iterable<ClusterLoadAssignment>;
}

function values<T>(v: Iterable<T> | ReadonlyMap<string, T> | undefined): T[] | undefined {
  if (v === undefined) return undefined;
  if (v instanceof Map) return [...(v as Map<string, T>).values()];
  return [...(v as Iterable<T>)];
}

function isBootstrap(v: unknown): v is Bootstrap {
  return typeof v === 'object' && v !== null && 'staticResources' in v && 'node' in v;
}

/**
 * Every error in a configuration, not just the first, each with its resource and field path:
 * `route_config "main" › virtual_hosts[0] › routes[3] › route.cluster: unknown cluster "carts"`.
 * Accepts a {@link Bootstrap}, a snapshot (maps) or lists of resources. A reference (cluster,
 * route table) is checked when the kind it points to is given; a bootstrap's clusters may come
 * over ADS, so its references are checked only when it has no dynamic resources.
 *
 * @example
 * ```ts
 * const errors = validate({ routeConfigurations: [routes], clusters: [carts] });
 * for (const e of errors) console.error(formatIssue(e));
 * ```
 */
export function validate(
  model:
    ValidationInput | Bootstrap | { readonly [K in keyof ValidationInput]?: ReadonlyMap<string, unknown> },
): Issue[] {
  let input: ValidationInput;
  if (isBootstrap(model)) {
    const dynamic = model.dynamicResources;
    input = {
      listeners: model.staticResources.listeners,
      ...(dynamic?.cds ? {} : { clusters: model.staticResources.clusters }),
      ...(dynamic?.cds || dynamic?.lds ? {} : { routeConfigurations: [] }),
    };
    if (dynamic?.cds)
      return [
        ...check({ listeners: model.staticResources.listeners }),
        ...check({ clusters: model.staticResources.clusters }),
      ];
  } else input = model as ValidationInput;
  return check(input);
}

/** Throws an {@link XdsValidationError} listing every error {@link validate} finds. */
export function assertValid(model: Parameters<typeof validate>[0]): void {
  const errors = validate(model);
  if (errors.length) throw new XdsValidationError(errors);
}

function check(input: ValidationInput): Issue[] {
  const listeners = values(input.listeners);
  const routes = values(input.routeConfigurations);
  const clusters = values(input.clusters);
  const endpoints = values(input.endpoints);
  const clusterNames = clusters ? new Set(clusters.map((c) => c.name)) : undefined;
  const routeNames = routes ? new Set(routes.map((r) => r.name)) : undefined;
  const out: Issue[] = [];
  const run = (issues: IssueList): void => {
    out.push(...issues.errors);
  };

  duplicates(listeners, 'listener', (l) => l.name, out);
  duplicates(routes, 'route_config', (r) => r.name, out);
  duplicates(clusters, 'cluster', (c) => c.name, out);
  duplicates(endpoints, 'cluster_load_assignment', (e) => e.clusterName, out);

  for (const l of listeners ?? []) run(checkListener(l, clusterNames, routeNames));
  for (const r of routes ?? []) {
    const issues = new IssueList(`route_config ${JSON.stringify(r.name)}`);
    checkRouteConfig(r, '', issues, clusterNames);
    run(issues);
  }
  for (const c of clusters ?? []) run(checkCluster(c));
  for (const e of endpoints ?? []) {
    const issues = new IssueList(`cluster_load_assignment ${JSON.stringify(e.clusterName)}`);
    checkAssignment(e, '', issues);
    run(issues);
  }
  return out;
}

function duplicates<T>(items: T[] | undefined, kind: string, name: (t: T) => string, out: Issue[]): void {
  const seen = new Set<string>();
  for (const item of items ?? []) {
    const n = name(item);
    if (seen.has(n))
      out.push({
        severity: 'error',
        resource: `${kind} ${JSON.stringify(n)}`,
        path: '',
        message: `duplicate ${kind} name`,
      });
    seen.add(n);
  }
}

function checkListener(
  l: Listener,
  clusters: Set<string> | undefined,
  routes: Set<string> | undefined,
): IssueList {
  const issues = new IssueList(`listener ${JSON.stringify(l.name)}`);
  if ('socketAddress' in l.address) {
    const p = l.address.socketAddress.port;
    if (!Number.isInteger(p) || p < 0 || p > 65535)
      issues.error('address.socket_address.port_value', `port ${p} is out of range`);
  }
  if (!l.filterChains.length && !l.defaultFilterChain)
    issues.error('filter_chains', 'a listener needs at least one filter chain');
  const chains = l.defaultFilterChain
    ? [...l.filterChains.entries(), [-1, l.defaultFilterChain] as const]
    : [...l.filterChains.entries()];
  for (const [i, chain] of chains) {
    const cp = i < 0 ? 'default_filter_chain' : index('filter_chains', i);
    if (!chain.filters.length)
      issues.error(field(cp, 'filters'), 'a filter chain needs at least one network filter');
    chain.filters.forEach((f, j) => {
      const fp = field(index(field(cp, 'filters'), j), 'typed_config');
      if (f.kind === 'http_connection_manager') checkHcm(f.config, fp, issues, clusters, routes);
      else if (f.kind === 'tcp_proxy') {
        if (f.config.cluster !== undefined)
          refCluster(f.config.cluster, field(fp, 'cluster'), issues, clusters);
        f.config.weightedClusters?.forEach((w, k) => {
          refCluster(
            w.name,
            field(index(field(fp, 'weighted_clusters.clusters'), k), 'name'),
            issues,
            clusters,
          );
        });
        if (!f.config.cluster && !f.config.weightedClusters?.length)
          issues.error(fp, 'a TCP proxy needs a cluster');
      } else {
        if (!f.config.protocol) issues.error(field(fp, 'protocol'), 'an RPC proxy needs a protocol');
        f.config.routes.forEach((r, k) => {
          const rp = index(field(fp, 'routes'), k);
          if (r.cluster !== undefined) refCluster(r.cluster, field(rp, 'cluster'), issues, clusters);
          r.weightedClusters?.forEach((w, m) => {
            refCluster(w.name, field(index(field(rp, 'weighted_clusters'), m), 'name'), issues, clusters);
          });
          if (r.match.service) matcher(r.match.service, field(rp, 'match.service'), issues);
          if (r.match.method) matcher(r.match.method, field(rp, 'match.method'), issues);
        });
      }
    });
  }
  return issues;
}

function checkHcm(
  h: HttpConnectionManager,
  path: string,
  issues: IssueList,
  clusters: Set<string> | undefined,
  routes: Set<string> | undefined,
): void {
  const last = h.httpFilters[h.httpFilters.length - 1];
  if (last?.config.type !== 'router')
    issues.error(field(path, 'http_filters'), 'the last HTTP filter must be the router');
  h.httpFilters.forEach((f, i) => {
    if (f.config.type === 'router' && i !== h.httpFilters.length - 1)
      issues.error(index(field(path, 'http_filters'), i), 'the router must be the last HTTP filter');
    if (h.httpFilters.findIndex((g) => g.name === f.name) !== i)
      issues.error(
        field(index(field(path, 'http_filters'), i), 'name'),
        `duplicate HTTP filter name "${f.name}"`,
      );
  });
  if (h.rds) {
    if (routes && !routes.has(h.rds.routeConfigName))
      issues.error(field(path, 'rds.route_config_name'), `unknown route_config "${h.rds.routeConfigName}"`);
  } else if (h.routeConfig) checkRouteConfig(h.routeConfig, field(path, 'route_config'), issues, clusters);
  else issues.error(path, 'a connection manager needs rds or route_config');
}

function checkRouteConfig(
  r: RouteConfiguration,
  path: string,
  issues: IssueList,
  clusters: Set<string> | undefined,
): void {
  const domains = new Map<string, number>();
  r.virtualHosts.forEach((vh, i) => {
    const vp = index(field(path, 'virtual_hosts'), i);
    if (!vh.domains.length) issues.error(field(vp, 'domains'), 'a virtual host needs at least one domain');
    for (const d of vh.domains) {
      const other = domains.get(d);
      if (other !== undefined)
        issues.error(field(vp, 'domains'), `domain "${d}" is also in virtual_hosts[${other}]`);
      else domains.set(d, i);
      if (d.indexOf('*') > 0 && d.indexOf('*') !== d.length - 1)
        issues.error(field(vp, 'domains'), `wildcard in the middle of "${d}"`);
    }
    vh.routes.forEach((route, j) => {
      const rp = index(field(vp, 'routes'), j);
      const m = route.match;
      if (m.safeRegex !== undefined) regex(m.safeRegex, field(rp, 'match.safe_regex'), issues);
      m.headers.forEach((h, k) => {
        header(h, index(field(rp, 'match.headers'), k), issues);
      });
      m.queryParameters.forEach((q, k) => {
        if (q.stringMatch)
          matcher(
            q.stringMatch,
            field(index(field(rp, 'match.query_parameters'), k), 'string_match'),
            issues,
          );
      });
      const actions = [route.route, route.redirect, route.directResponse].filter(
        (a) => a !== undefined,
      ).length;
      if (actions !== 1) issues.error(rp, 'a route needs exactly one of route, redirect, direct_response');
      const a = route.route;
      if (a) {
        const ap = field(rp, 'route');
        const targets = [a.cluster, a.weightedClusters, a.clusterHeader].filter(
          (t) => t !== undefined,
        ).length;
        if (targets !== 1)
          issues.error(ap, 'a route action needs exactly one of cluster, weighted_clusters, cluster_header');
        if (a.cluster !== undefined) refCluster(a.cluster, field(ap, 'cluster'), issues, clusters);
        if (a.weightedClusters) {
          const wp = field(ap, 'weighted_clusters');
          let sum = 0;
          a.weightedClusters.clusters.forEach((w, k) => {
            refCluster(w.name, field(index(field(wp, 'clusters'), k), 'name'), issues, clusters);
            if (!Number.isInteger(w.weight) || w.weight < 0)
              issues.error(
                field(index(field(wp, 'clusters'), k), 'weight'),
                `weight ${w.weight} must be a non-negative integer`,
              );
            sum += w.weight;
          });
          if (sum <= 0) issues.error(field(wp, 'clusters'), 'weighted clusters need a total weight above 0');
        }
        if (a.timeoutMs < 0) issues.error(field(ap, 'timeout'), 'timeout must not be negative');
        if (a.regexRewrite) regex(a.regexRewrite.pattern, field(ap, 'regex_rewrite.pattern'), issues);
        a.requestMirrorPolicies.forEach((p, k) => {
          refCluster(
            p.cluster,
            field(index(field(ap, 'request_mirror_policies'), k), 'cluster'),
            issues,
            clusters,
          );
        });
        const rp2 = a.retryPolicy;
        if (rp2) {
          if (!Number.isInteger(rp2.numRetries) || rp2.numRetries < 0)
            issues.error(field(ap, 'retry_policy.num_retries'), 'must be a non-negative integer');
          if (
            rp2.retryBackOff?.maxIntervalMs !== undefined &&
            rp2.retryBackOff.maxIntervalMs < rp2.retryBackOff.baseIntervalMs
          )
            issues.error(
              field(ap, 'retry_policy.retry_back_off.max_interval'),
              'must not be below base_interval',
            );
        }
      }
      if (route.directResponse) {
        const s = route.directResponse.status;
        if (!Number.isInteger(s) || s < 200 || s > 599)
          issues.error(field(rp, 'direct_response.status'), `status ${s} is outside 200-599`);
      }
      for (const name of Object.keys(route.typedPerFilterConfig)) {
        const c = route.typedPerFilterConfig[name];
        if (c?.type === 'cors')
          c.policy.allowOriginStringMatch.forEach((o, k) => {
            matcher(
              o,
              index(field(key(field(rp, 'typed_per_filter_config'), name), 'allow_origin_string_match'), k),
              issues,
            );
          });
      }
    });
  });
}

function checkCluster(c: Cluster): IssueList {
  const issues = new IssueList(`cluster ${JSON.stringify(c.name)}`);
  if (!c.name) issues.error('name', 'a cluster needs a name');
  if (!(c.connectTimeoutMs > 0)) issues.error('connect_timeout', 'must be above 0');
  if (c.lbPolicy === 'RING_HASH' && c.ringHashLbConfig) {
    const r = c.ringHashLbConfig;
    if (r.minimumRingSize > r.maximumRingSize)
      issues.error('ring_hash_lb_config.minimum_ring_size', 'must not exceed maximum_ring_size');
    if (r.maximumRingSize > 8_388_608)
      issues.error('ring_hash_lb_config.maximum_ring_size', 'must not exceed 8M');
  }
  if (c.lbPolicy === 'MAGLEV' && c.maglevLbConfig) {
    const t = c.maglevLbConfig.tableSize;
    if (!isPrime(t) || t > 5_000_011)
      issues.error('maglev_lb_config.table_size', `table size ${t} must be a prime no larger than 5000011`);
  }
  if (c.lbPolicy === 'LEAST_REQUEST' && c.leastRequestLbConfig && c.leastRequestLbConfig.choiceCount < 2)
    issues.error('least_request_lb_config.choice_count', 'must be at least 2');
  c.circuitBreakers.thresholds.forEach((t, i) => {
    for (const k of ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const)
      if (!Number.isInteger(t[k]) || t[k] < 0)
        issues.error(
          field(
            index('circuit_breakers.thresholds', i),
            k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`),
          ),
          'must be a non-negative integer',
        );
  });
  if (c.healthyPanicThreshold < 0 || c.healthyPanicThreshold > 100)
    issues.error('common_lb_config.healthy_panic_threshold', 'must be within 0-100');
  const od = c.outlierDetection;
  if (od) {
    for (const k of [
      'maxEjectionPercent',
      'enforcingConsecutive5xx',
      'enforcingSuccessRate',
      'enforcingFailurePercentage',
      'failurePercentageThreshold',
    ] as const)
      if (od[k] < 0 || od[k] > 100)
        issues.error(
          field(
            'outlier_detection',
            k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`),
          ),
          'must be within 0-100',
        );
  }
  c.healthChecks.forEach((h, i) => {
    if (!(h.timeoutMs > 0)) issues.error(field(index('health_checks', i), 'timeout'), 'must be above 0');
    if (!(h.intervalMs > 0)) issues.error(field(index('health_checks', i), 'interval'), 'must be above 0');
  });
  if (c.type === 'STATIC' || c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS') {
    if (!c.loadAssignment) issues.error('load_assignment', `a ${c.type} cluster needs a load_assignment`);
    else checkAssignment(c.loadAssignment, 'load_assignment', issues);
  }
  return issues;
}

function checkAssignment(e: ClusterLoadAssignment, path: string, issues: IssueList): void {
  const priorities = new Set<number>();
  e.endpoints.forEach((l, i) => {
    const lp = index(field(path, 'endpoints'), i);
    priorities.add(l.priority);
    if (l.loadBalancingWeight !== undefined && !(l.loadBalancingWeight >= 1))
      issues.error(field(lp, 'load_balancing_weight'), 'must be at least 1');
    l.lbEndpoints.forEach((ep, j) => {
      const epp = index(field(lp, 'lb_endpoints'), j);
      if (!(ep.loadBalancingWeight >= 1))
        issues.error(field(epp, 'load_balancing_weight'), 'must be at least 1');
      if ('socketAddress' in ep.address) {
        const p = ep.address.socketAddress.port;
        if (!Number.isInteger(p) || p < 1 || p > 65535)
          issues.error(field(epp, 'endpoint.address.socket_address.port_value'), `port ${p} is out of range`);
      }
    });
  });
  for (let p = 0; p < priorities.size; p++)
    if (!priorities.has(p)) {
      issues.error(field(path, 'endpoints'), `priorities must be contiguous from 0; ${p} is missing`);
      break;
    }
  if (!(e.policy.overprovisioningFactor > 0))
    issues.error(field(path, 'policy.overprovisioning_factor'), 'must be above 0');
}

function refCluster(name: string, path: string, issues: IssueList, clusters: Set<string> | undefined): void {
  if (!name) issues.error(path, 'empty cluster name');
  else if (clusters && !clusters.has(name)) issues.error(path, `unknown cluster "${name}"`);
}

function regex(pattern: string, path: string, issues: IssueList): void {
  const r = compileRegex(pattern);
  if (typeof r === 'string') issues.error(path, r);
}

function matcher(m: StringMatcher, path: string, issues: IssueList): void {
  if (m.safeRegex !== undefined) regex(m.safeRegex, field(path, 'safe_regex'), issues);
}

function header(h: HeaderMatcher, path: string, issues: IssueList): void {
  if (!h.name) issues.error(field(path, 'name'), 'a header matcher needs a name');
  if (h.stringMatch) matcher(h.stringMatch, field(path, 'string_match'), issues);
}

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;
  return true;
}
