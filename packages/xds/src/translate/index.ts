// Entry points of the translation: one Envoy resource (fromEnvoy), or many (translate).
import { parseYaml } from '../yaml.js';
import { typeOfUrl } from '../descriptor.js';
import { XdsTranslationError } from '../errors.js';
import { IssueList } from '../issues.js';
import { type CanonicalLimits, DEFAULT_LIMITS, canonicalize, decodeMessage } from '../proto/canonical.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  Cluster,
  ClusterLoadAssignment,
  Issue,
  Listener,
  ResourceKind,
  RouteConfiguration,
  TranslatedResource,
} from '../types.js';
import { cluster } from './cluster.js';
import { type JsonObject, str } from './common.js';
import { clusterLoadAssignment } from './endpoint.js';
import { listener } from './listener.js';
import { routeConfiguration } from './route.js';

/** Options of {@link fromEnvoy} and {@link translate}. */
export interface TranslateOptions {
  /** Bounds on one resource's size and nesting. */
  readonly limits?: Partial<CanonicalLimits>;
  /** The kind of resources that carry no `@type` (a plain list of clusters, say). */
  readonly kind?: ResourceKind;
}

/** What a resource translates to: the resource and its warnings, or its errors. */
export type ResourceOutcome =
  | { readonly ok: true; readonly resource: TranslatedResource; readonly warnings: readonly Issue[] }
  | {
      readonly ok: false;
      readonly kind: ResourceKind | undefined;
      readonly name: string;
      readonly errors: readonly Issue[];
      readonly warnings: readonly Issue[];
    };

// Lookup tables indexed by strings from the input: without a prototype, so that a key such as
// "constructor" or "__proto__" finds nothing instead of Object's own properties.
const KINDS: Record<string, ResourceKind | undefined> = Object.assign(
  Object.create(null) as object,
  {
    [TYPE_URLS.listener]: 'listener',
    [TYPE_URLS.routeConfiguration]: 'route_config',
    [TYPE_URLS.cluster]: 'cluster',
    [TYPE_URLS.clusterLoadAssignment]: 'cluster_load_assignment',
  } as const,
);

/** The model kind of an xDS type URL, if it is one of the four resource types. */
export function kindOfTypeUrl(typeUrl: string): ResourceKind | undefined {
  return KINDS[typeUrl];
}

/** A protobuf Any as grpc-js or protobufjs hands it over. */
export interface AnyMessage {
  readonly typeUrl?: string;
  readonly type_url?: string;
  readonly value: Uint8Array;
}

function isAny(v: unknown): v is AnyMessage {
  return typeof v === 'object' && v !== null && (v as AnyMessage).value instanceof Uint8Array;
}

function rawName(input: unknown): string {
  if (typeof input !== 'object' || input === null) return '';
  const o = input as Record<string, unknown>;
  const n = o.name ?? o.clusterName ?? o.cluster_name;
  return typeof n === 'string' ? n : '';
}

/**
 * Translates one resource and reports, never throws: an Any from a DiscoveryResponse, or Envoy
 * JSON (snake_case or camelCase) with `@type` (or `typeUrl` given). Unknown types are errors.
 */
export function translateResource(
  input: unknown,
  typeUrl?: string,
  options: TranslateOptions = {},
): ResourceOutcome {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  let url = typeUrl;
  let body: unknown = input;
  const probe = new IssueList('resource');
  if (isAny(input)) {
    url = input.typeUrl ?? input.type_url ?? url ?? '';
    const type = typeOfUrl(url);
    const kind = KINDS[url];
    if (!type || !kind)
      return {
        ok: false,
        kind,
        name: '',
        errors: [issue(`resource of type ${JSON.stringify(url)}`, `unknown resource type ${url}`)],
        warnings: [],
      };
    body = decodeMessage(type, input.value, probe, '');
    if (!body)
      return {
        ok: false,
        kind,
        name: '',
        errors: relabel(probe.errors, `${kind} (undecodable)`),
        warnings: [],
      };
  } else if (
    typeof input === 'object' &&
    input !== null &&
    typeof (input as JsonObject)['@type'] === 'string'
  ) {
    url = (input as JsonObject)['@type'] as string;
    const rest: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    delete rest['@type'];
    body = rest;
  }
  const kind = url === undefined ? undefined : KINDS[url];
  const type = url === undefined ? undefined : typeOfUrl(url);
  const name = rawName(body);
  if (!kind || !type) {
    return {
      ok: false,
      kind,
      name,
      errors: [
        issue(
          `resource ${JSON.stringify(name)}`,
          url ? `unknown resource type ${url}` : 'a resource needs "@type"',
        ),
      ],
      warnings: [],
    };
  }
  const issues = new IssueList(`${kind} ${JSON.stringify(name)}`);
  const json = canonicalize(type, body, issues, '', limits);
  if (!json || issues.errors.length)
    return { ok: false, kind, name, errors: issues.errors, warnings: issues.warnings };
  let resource: TranslatedResource;
  switch (kind) {
    case 'listener':
      resource = { kind, name, value: listener(json, issues) };
      break;
    case 'route_config':
      resource = { kind, name, value: routeConfiguration(json, issues) };
      break;
    case 'cluster':
      resource = { kind, name, value: cluster(json, issues) };
      break;
    case 'cluster_load_assignment':
      resource = { kind, name, value: clusterLoadAssignment(json, issues) };
      break;
  }
  // Envoy names listeners and inline route tables itself when they have no name; clusters and
  // their endpoints must be named.
  if (!name && (kind === 'cluster' || kind === 'cluster_load_assignment'))
    issues.error(kind === 'cluster' ? 'name' : 'cluster_name', 'a resource needs a name');
  if (issues.errors.length)
    return { ok: false, kind, name, errors: issues.errors, warnings: issues.warnings };
  return { ok: true, resource, warnings: issues.warnings };
}

function issue(resource: string, message: string): Issue {
  return { severity: 'error', resource, path: '', message };
}

function relabel(issues: readonly Issue[], resource: string): Issue[] {
  return issues.map((i) => ({ ...i, resource }));
}

/**
 * Translates one Envoy v3 resource to the model: a protobuf `Any` from a DiscoveryResponse, or
 * Envoy's JSON/YAML form (snake_case or camelCase) carrying `@type`. Throws an
 * {@link XdsTranslationError} listing every problem when it cannot be applied.
 *
 * @example
 * ```ts
 * const { kind, value } = fromEnvoy({
 *   '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
 *   name: 'carts', type: 'EDS', lb_policy: 'MAGLEV', connect_timeout: '0.25s',
 * });
 * // kind === 'cluster', value.connectTimeoutMs === 250
 * ```
 */
export function fromEnvoy(
  resource: unknown,
  options?: TranslateOptions,
): TranslatedResource & { readonly warnings: readonly Issue[] } {
  const out = translateResource(resource, undefined, options);
  if (!out.ok) throw new XdsTranslationError(out.errors);
  return { ...out.resource, warnings: out.warnings };
}

/** Everything {@link translate} found: the resources that translated, and every problem. */
export interface TranslationResult {
  readonly listeners: Listener[];
  readonly routeConfigurations: RouteConfiguration[];
  readonly clusters: Cluster[];
  readonly endpoints: ClusterLoadAssignment[];
  readonly errors: Issue[];
  readonly warnings: Issue[];
}

/**
 * Translates many resources at once and collects every error instead of stopping at the first.
 * Accepts a list of resources (Any or JSON with `@type`), an object of lists
 * (`{ listeners, routes, clusters, endpoints }`, typed by their key), an Envoy admin config dump,
 * or the same as a YAML/JSON string.
 *
 * @example
 * ```ts
 * const result = translate(readFileSync('config_dump.json', 'utf8'));
 * for (const e of result.errors) console.error(formatIssue(e));
 * ```
 */
export function translate(input: unknown, options?: TranslateOptions): TranslationResult {
  const result: TranslationResult = {
    listeners: [],
    routeConfigurations: [],
    clusters: [],
    endpoints: [],
    errors: [],
    warnings: [],
  };
  let data = input;
  if (typeof input === 'string') {
    try {
      data = parseYaml(input, 100);
    } catch (err) {
      // The yaml package throws its own errors (and a ReferenceError for an unknown alias):
      // reported like every other problem, not thrown.
      result.errors.push({
        severity: 'error',
        resource: 'input',
        path: '',
        message: `not valid YAML or JSON: ${(err as Error).message}`,
      });
      return result;
    }
  }
  const fallback = options?.kind ? URL_OF_KIND[options.kind] : undefined;
  for (const [resource, typeUrl] of collect(data, true)) {
    const out = translateResource(resource, typeUrl ?? fallback, options);
    result.warnings.push(...out.warnings);
    if (!out.ok) {
      result.errors.push(...out.errors);
      continue;
    }
    const r = out.resource;
    if (r.kind === 'listener') result.listeners.push(r.value);
    else if (r.kind === 'route_config') result.routeConfigurations.push(r.value);
    else if (r.kind === 'cluster') result.clusters.push(r.value);
    else result.endpoints.push(r.value);
  }
  return result;
}

const URL_OF_KIND: Record<ResourceKind, string> = {
  listener: TYPE_URLS.listener,
  route_config: TYPE_URLS.routeConfiguration,
  cluster: TYPE_URLS.cluster,
  cluster_load_assignment: TYPE_URLS.clusterLoadAssignment,
};

const LIST_KEYS: Record<string, string | undefined> = Object.assign(Object.create(null) as object, {
  listeners: TYPE_URLS.listener,
  routes: TYPE_URLS.routeConfiguration,
  routeConfigurations: TYPE_URLS.routeConfiguration,
  route_configurations: TYPE_URLS.routeConfiguration,
  clusters: TYPE_URLS.cluster,
  endpoints: TYPE_URLS.clusterLoadAssignment,
  clusterLoadAssignments: TYPE_URLS.clusterLoadAssignment,
});

/** Walks lists, typed lists and config dumps, yielding each resource with its type if known. */
function* collect(data: unknown, top: boolean): Generator<[unknown, string | undefined]> {
  if (Array.isArray(data)) {
    for (const item of data) yield* collect(item, false);
    return;
  }
  if (typeof data !== 'object' || data === null || data instanceof Uint8Array) {
    yield [data, undefined];
    return;
  }
  const o = data as Record<string, unknown>;
  if (isAny(o) || typeof o['@type'] === 'string') {
    const url = isAny(o) ? (o.typeUrl ?? '') : (o['@type'] as string);
    if (url.includes('.admin.v3.'))
      yield* configDump(o); // bootstrap, secrets... dumps hold no resources we take
    else yield [o, undefined];
    return;
  }
  if (Array.isArray(o.configs)) {
    for (const c of o.configs) yield* collect(c, false);
    return;
  }
  const lists = Object.keys(o).filter((k) => LIST_KEYS[k] && Array.isArray(o[k]));
  if (!top || lists.length === 0) {
    yield [o, undefined];
    return;
  }
  for (const k of lists) {
    const url = LIST_KEYS[k];
    const items = o[k];
    if (url && Array.isArray(items))
      for (const item of items)
        yield [item, typeof (item as JsonObject | null)?.['@type'] === 'string' ? undefined : url];
  }
}

/** The resources of an admin ConfigDump section (static and dynamic, active state). */
function* configDump(o: Record<string, unknown>): Generator<[unknown, string | undefined]> {
  const entries = (k: string): Record<string, unknown>[] =>
    Array.isArray(o[k]) ? (o[k] as Record<string, unknown>[]) : [];
  const url = str(o['@type'] as string);
  if (url.endsWith('ListenersConfigDump')) {
    for (const e of entries('static_listeners')) yield [e.listener, undefined];
    for (const e of entries('dynamic_listeners')) {
      const state = (e.active_state ?? e.warming_state) as Record<string, unknown> | undefined;
      if (state) yield [state.listener, undefined];
    }
  } else if (url.endsWith('ClustersConfigDump')) {
    for (const e of entries('static_clusters')) yield [e.cluster, undefined];
    for (const e of entries('dynamic_active_clusters')) yield [e.cluster, undefined];
    for (const e of entries('dynamic_warming_clusters')) yield [e.cluster, undefined];
  } else if (url.endsWith('RoutesConfigDump')) {
    for (const e of entries('static_route_configs')) yield [e.route_config, undefined];
    for (const e of entries('dynamic_route_configs')) yield [e.route_config, undefined];
  } else if (url.endsWith('EndpointsConfigDump')) {
    for (const e of entries('static_endpoint_configs')) yield [e.endpoint_config, undefined];
    for (const e of entries('dynamic_endpoint_configs')) yield [e.endpoint_config, undefined];
  }
}
