// `/config_dump`: the proxy's current snapshot (the @meshlet/xds model) shown in Envoy's shape:
// `configs` of ClustersConfigDump, EndpointsConfigDump, ListenersConfigDump and RoutesConfigDump,
// resources in Envoy's JSON field names (snake_case, durations as "1.5s", typed configs with
// `@type`), secrets redacted. The model drops what meshlet does not apply, so a dump holds what
// the proxy runs, not every byte a control plane sent.
import type * as model from '@meshlet/xds';
import { TYPE_URLS } from '@meshlet/xds';

/** JSON as the dump builds it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = Record<string, Json>;

/** What a sensitive value becomes. */
export const REDACTED = '[redacted]';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

// Key names (lower case, `_` and `-` dropped) whose whole value is a secret, as Envoy's
// `sensitive` fields (TLS private keys, session ticket keys, passwords) plus common secret names
// user filters put in TypedStructs.
const SENSITIVE_KEYS: ReadonlySet<string> = new Set([
  'privatekey',
  'password',
  'sessionticketkeys',
  'sessionticketkeyssdssecretconfig',
  'secret',
  'clientsecret',
  'hmacsecret',
  'apikey',
  'token',
]);

// Keys whose values are opaque user data: copied as they are (then redacted), never renamed.
const OPAQUE_KEYS: ReadonlySet<string> = new Set(['metadata', 'value', 'defaultSubset', 'filterMetadata']);

// Keys whose value is a record keyed by names: the names are kept, the values converted.
const RECORD_KEYS: ReadonlySet<string> = new Set(['policies', 'typedPerFilterConfig']);

const HTTP_FILTER_TYPES: Readonly<Record<string, string>> = {
  router: TYPE_URLS.router,
  fault: TYPE_URLS.fault,
  local_rate_limit: TYPE_URLS.localRateLimit,
  rbac: TYPE_URLS.rbac,
  cors: TYPE_URLS.cors,
  header_mutation: TYPE_URLS.headerMutation,
};

const NETWORK_FILTER_TYPES: Readonly<Record<string, string>> = {
  http_connection_manager: TYPE_URLS.httpConnectionManager,
  tcp_proxy: TYPE_URLS.tcpProxy,
  rpc_proxy: 'type.googleapis.com/meshlet.rpc_proxy',
};

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Milliseconds as a protobuf JSON Duration (`15s`, `0.25s`). */
export function duration(ms: number): string {
  return `${String(Number((ms / 1000).toFixed(9)))}s`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function plain(value: unknown): Json {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return [...(value as Map<unknown, unknown>).values()].map(plain);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return null;
}

function convertArray(values: readonly unknown[], key: string, parent: Record<string, unknown>): Json[] {
  if (key === 'filters' && 'filterChainMatch' in parent) return values.map(networkFilter);
  if (key === 'httpFilters') return values.map(httpFilter);
  if (key === 'lbEndpoints') return values.map(lbEndpoint);
  return values.map((v) => convert(v));
}

/** Converts a model value to Envoy's JSON names. */
function convert(value: unknown): Json {
  if (Array.isArray(value)) return value.map((v) => convert(v));
  if (value instanceof Map) return [...(value as Map<unknown, unknown>).values()].map((v) => convert(v));
  if (!isObject(value)) return plain(value);
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (key.endsWith('Ms') && typeof v === 'number') {
      out[snake(key.slice(0, -2))] = duration(v);
    } else if (key === 'socketAddress' && isObject(v)) {
      out.socket_address = {
        address: plain(v.address),
        port_value: plain(v.port),
        protocol: plain(v.protocol),
      };
    } else if (key === 'tls' && isObject(v)) {
      out.transport_socket = transportSocket(v, 'filterChainMatch' in value);
    } else if (OPAQUE_KEYS.has(key)) {
      out[snake(key)] = plain(v);
    } else if (RECORD_KEYS.has(key) && isObject(v)) {
      const record: JsonObject = {};
      for (const [name, entry] of Object.entries(v)) record[name] = convert(entry);
      out[snake(key)] = record;
    } else if (Array.isArray(v)) {
      out[snake(key)] = convertArray(v as unknown[], key, value);
    } else {
      out[snake(key)] = convert(v);
    }
  }
  return out;
}

function typed(typeUrl: string, config: unknown): JsonObject {
  const body = convert(config);
  return { '@type': typeUrl, ...(isObject(body) ? body : {}) };
}

function networkFilter(filter: unknown): Json {
  const f = filter as model.NetworkFilter;
  return {
    name: f.name,
    typed_config: typed(NETWORK_FILTER_TYPES[f.kind] ?? `type.googleapis.com/meshlet.${f.kind}`, f.config),
  };
}

function httpFilter(filter: unknown): Json {
  const f = filter as model.HttpFilter;
  const out: JsonObject = { name: f.name };
  if (f.isOptional) out.is_optional = true;
  if (f.disabled) out.disabled = true;
  if (f.config.type === 'custom') {
    out.typed_config = {
      '@type': TYPE_URLS.typedStruct,
      type_url: f.config.typeUrl,
      value: plain(f.config.value),
    };
  } else {
    const { type, ...rest } = f.config;
    out.typed_config = typed(HTTP_FILTER_TYPES[type] ?? `type.googleapis.com/meshlet.${type}`, rest);
  }
  return out;
}

function lbEndpoint(value: unknown): Json {
  const e = value as model.LbEndpoint;
  const endpoint: JsonObject = { address: convert(e.address) };
  if (e.hostname !== '') endpoint.hostname = e.hostname;
  if (e.healthCheckPort !== undefined) endpoint.health_check_config = { port_value: e.healthCheckPort };
  return {
    endpoint,
    health_status: e.healthStatus,
    load_balancing_weight: e.loadBalancingWeight,
    metadata: plain(e.metadata),
  };
}

function transportSocket(tls: Record<string, unknown>, downstream: boolean): Json {
  const common: JsonObject = {};
  if (Array.isArray(tls.certificates)) common.tls_certificates = convert(tls.certificates);
  if (Array.isArray(tls.alpnProtocols)) common.alpn_protocols = plain(tls.alpnProtocols);
  if (tls.validation !== undefined) common.validation_context = convert(tls.validation);
  const context: JsonObject = downstream
    ? {
        '@type': TYPE_URLS.downstreamTlsContext,
        common_tls_context: common,
        require_client_certificate: plain(tls.requireClientCertificate),
      }
    : { '@type': TYPE_URLS.upstreamTlsContext, common_tls_context: common, sni: plain(tls.sni) };
  return { name: 'envoy.transport_sockets.tls', typed_config: context };
}

function normalized(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

function redactAll(value: Json): Json {
  if (typeof value === 'string') return REDACTED;
  if (Array.isArray(value)) return value.map(redactAll);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactAll(v);
    return out;
  }
  return value;
}

/**
 * Redacts secrets in place of their values: every string under a sensitive key (`private_key`,
 * `password`, session ticket keys...) and any string holding a PEM private key, wherever it is.
 */
export function redact(value: Json): Json {
  if (typeof value === 'string') return value.includes('PRIVATE KEY-----') ? REDACTED : value;
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    const credentialHeader = isCredentialHeader(value);
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSensitiveKey(k) || (credentialHeader && k === 'value') ? redactAll(v) : redact(v);
    }
    return out;
  }
  return value;
}

// Name endings that mark a secret in a user filter's config or a TypedStruct: `token_secret`,
// `secret_access_key`, `bearer_token`, `db_password`... (`max_tokens` and `token_bucket` do not end so).
const SENSITIVE_SUFFIXES = ['secret', 'password', 'token', 'privatekey', 'apikey', 'secretkey', 'accesskey'];

function isSensitiveKey(key: string): boolean {
  const name = normalized(key);
  if (SENSITIVE_KEYS.has(name)) return true;
  for (const suffix of SENSITIVE_SUFFIXES) if (name.endsWith(suffix)) return true;
  return false;
}

// Headers whose value is a credential: `{ key: 'authorization', value: 'Bearer ...' }` in a
// route's `request_headers_to_add` (or a header matcher) shows its name, not its value.
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
]);

function isCredentialHeader(value: JsonObject): boolean {
  const key = value.key;
  return typeof key === 'string' && CREDENTIAL_HEADERS.has(key.toLowerCase());
}

/** What the dump is built from. */
export interface ConfigDumpInput {
  readonly snapshot: model.XdsSnapshot;
  /** The config version in effect (`version_info`). */
  readonly version: number;
  /** When it took effect (`last_updated`), ms since the epoch. */
  readonly lastUpdated: number;
  /** The bootstrap, if known: its static resources are dumped as static, and it is dumped itself. */
  readonly bootstrap: model.Bootstrap | undefined;
}

interface Section {
  readonly type: string;
  readonly staticField: string;
  readonly dynamicField: string;
  readonly inner: string;
  readonly resourceType: string;
  readonly staticElement: string;
  readonly dynamicElement: string;
}

const SECTIONS = {
  clusters: {
    type: 'ClustersConfigDump',
    staticField: 'static_clusters',
    dynamicField: 'dynamic_active_clusters',
    inner: 'cluster',
    resourceType: TYPE_URLS.cluster,
    staticElement: 'ClustersConfigDump.StaticCluster',
    dynamicElement: 'ClustersConfigDump.DynamicCluster',
  },
  endpoints: {
    type: 'EndpointsConfigDump',
    staticField: 'static_endpoint_configs',
    dynamicField: 'dynamic_endpoint_configs',
    inner: 'endpoint_config',
    resourceType: TYPE_URLS.clusterLoadAssignment,
    staticElement: 'EndpointsConfigDump.StaticEndpointConfig',
    dynamicElement: 'EndpointsConfigDump.DynamicEndpointConfig',
  },
  listeners: {
    type: 'ListenersConfigDump',
    staticField: 'static_listeners',
    dynamicField: 'dynamic_listeners',
    inner: 'listener',
    resourceType: TYPE_URLS.listener,
    staticElement: 'ListenersConfigDump.StaticListener',
    dynamicElement: 'ListenersConfigDump.DynamicListener',
  },
  routes: {
    type: 'RoutesConfigDump',
    staticField: 'static_route_configs',
    dynamicField: 'dynamic_route_configs',
    inner: 'route_config',
    resourceType: TYPE_URLS.routeConfiguration,
    staticElement: 'RoutesConfigDump.StaticRouteConfig',
    dynamicElement: 'RoutesConfigDump.DynamicRouteConfig',
  },
} as const satisfies Record<string, Section>;

function section(
  s: Section,
  resources: Iterable<[string, unknown]>,
  isStatic: (name: string) => boolean,
  version: string,
  lastUpdated: string,
): JsonObject {
  const statics: Json[] = [];
  const dynamics: Json[] = [];
  for (const [name, resource] of resources) {
    const body = { '@type': s.resourceType, ...(convert(resource) as JsonObject) };
    if (isStatic(name)) {
      statics.push({ [s.inner]: body, last_updated: lastUpdated });
    } else if (s === SECTIONS.listeners) {
      dynamics.push({
        name,
        active_state: { version_info: version, listener: body, last_updated: lastUpdated },
      });
    } else {
      dynamics.push({ version_info: version, [s.inner]: body, last_updated: lastUpdated });
    }
  }
  const out: JsonObject = { '@type': ADMIN + s.type };
  if (s === SECTIONS.clusters || s === SECTIONS.listeners) out.version_info = version;
  out[s.staticField] = statics;
  out[s.dynamicField] = dynamics;
  return out;
}

/** The whole dump, `{ configs: [...] }`, secrets redacted. */
export function configDump(input: ConfigDumpInput): { configs: JsonObject[] } {
  const { snapshot, bootstrap } = input;
  const version = String(input.version);
  const lastUpdated = new Date(input.lastUpdated).toISOString();
  const staticListeners = new Set(bootstrap?.staticResources.listeners.map((l) => l.name));
  const staticClusters = new Set(bootstrap?.staticResources.clusters.map((c) => c.name));
  const configs: JsonObject[] = [];
  if (bootstrap !== undefined) {
    configs.push({
      '@type': `${ADMIN}BootstrapConfigDump`,
      bootstrap: convert(bootstrap),
      last_updated: lastUpdated,
    });
  }
  configs.push(
    section(SECTIONS.clusters, snapshot.clusters, (n) => staticClusters.has(n), version, lastUpdated),
    section(
      SECTIONS.endpoints,
      snapshot.endpoints,
      (n) => staticClusters.has(n) && snapshot.clusters.get(n)?.type !== 'EDS',
      version,
      lastUpdated,
    ),
    section(SECTIONS.listeners, snapshot.listeners, (n) => staticListeners.has(n), version, lastUpdated),
    section(SECTIONS.routes, snapshot.routeConfigurations, () => false, version, lastUpdated),
  );
  return { configs: configs.map((c) => redact(c) as JsonObject) };
}

/** Every repeated field `?resource=` may name, with the `@type` of its elements. */
export const RESOURCE_FIELDS: ReadonlyMap<string, string> = new Map(
  Object.values(SECTIONS).flatMap((s): [string, string][] => [
    [s.staticField, ADMIN + s.staticElement],
    [s.dynamicField, ADMIN + s.dynamicElement],
  ]),
);

/** `?resource=<field>`: the elements of that repeated field across the dumps, each with its `@type`. */
export function selectResource(
  dump: { configs: JsonObject[] },
  field: string,
): { configs: JsonObject[] } | null {
  const elementType = RESOURCE_FIELDS.get(field);
  if (elementType === undefined) return null;
  const out: JsonObject[] = [];
  for (const config of dump.configs) {
    const list = config[field];
    if (!Array.isArray(list)) continue;
    for (const element of list) {
      if (element !== null && typeof element === 'object' && !Array.isArray(element)) {
        out.push({ '@type': elementType, ...element });
      }
    }
  }
  return { configs: out };
}

/** `?mask=a.b,c`: keeps only those field paths (and `@type`) of each config. */
export function applyMask(
  dump: { configs: JsonObject[] },
  paths: readonly string[],
): { configs: JsonObject[] } {
  const split = paths.map((p) => p.split('.'));
  return { configs: dump.configs.map((c) => ({ '@type': c['@type'] ?? null, ...masked(c, split) })) };
}

function masked(value: JsonObject, paths: readonly (readonly string[])[]): JsonObject {
  const out: JsonObject = {};
  const byHead = new Map<string, (readonly string[])[]>();
  for (const path of paths) {
    const [head, ...rest] = path;
    if (head === undefined || !(head in value)) continue;
    const list = byHead.get(head) ?? [];
    list.push(rest);
    byHead.set(head, list);
  }
  for (const [head, rests] of byHead) {
    const v = value[head] as Json;
    if (rests.some((r) => r.length === 0)) out[head] = v;
    else if (Array.isArray(v)) {
      out[head] = v.map((e) =>
        e !== null && typeof e === 'object' && !Array.isArray(e) ? masked(e, rests) : e,
      );
    } else if (v !== null && typeof v === 'object') out[head] = masked(v, rests);
  }
  return out;
}
