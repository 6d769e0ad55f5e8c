// A cluster's config checked and turned, once, into what its parts are built from: balancer
// options, thresholds, outlier detection options, the health check, pool settings.
import type { ResourceThresholds } from '@meshlet/breaker';
import { ConfigError } from '@meshlet/errors';
import type { LoadBalancerOptions, MetadataValue } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import type { PoolSettings } from '../upstream/host-pools.js';
import { compileUpstreamTls } from '../upstream/tls.js';

/** How hosts are found. LOGICAL_DNS is STRICT_DNS keeping the first address of each name, as Envoy's LOGICAL_DNS connects to. */
export type Discovery = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS';

/** An active health check, compiled. */
export interface CompiledHealthCheck {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly jitterMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  readonly noTrafficIntervalMs: number;
  readonly unhealthyIntervalMs: number;
  readonly healthyEdgeIntervalMs: number;
  readonly unhealthyEdgeIntervalMs: number;
  readonly http: CompiledHttpCheck | undefined;
  readonly tcp: CompiledTcpCheck | undefined;
  readonly grpc: CompiledGrpcCheck | undefined;
}

/** A gRPC health check (`grpc.health.v1.Health/Check` over HTTP/2): SERVING passes. */
export interface CompiledGrpcCheck {
  readonly headers: Readonly<Record<string, string>>;
  /** The framed `HealthCheckRequest { service }`. */
  readonly body: Buffer;
}

/** Frames `HealthCheckRequest { service = 1 }` as one uncompressed gRPC message. */
function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const field: number[] = [];
  if (name.length > 0) {
    field.push(0x0a);
    for (let n = name.length; ; n >>>= 7) {
      if (n < 0x80) {
        field.push(n);
        break;
      }
      field.push((n & 0x7f) | 0x80);
    }
  }
  const message = Buffer.concat([Buffer.from(field), name]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(message.length, 1);
  return Buffer.concat([frame, message]);
}

/** An HTTP health check: GET `path` with `headers`; a status in `expected` passes. */
export interface CompiledHttpCheck {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Flat list of [start, end) pairs. */
  readonly expected: readonly number[];
  readonly http2: boolean;
}

/** A TCP health check: connect, send `send`, expect every `receive` block, in order. */
export interface CompiledTcpCheck {
  readonly send: Buffer | null;
  readonly receive: readonly Buffer[];
}

/** Everything built from one `model.Cluster`. */
export interface CompiledCluster {
  readonly name: string;
  readonly config: model.Cluster;
  readonly discovery: Discovery;
  /** The key of the cluster's endpoints in the snapshot (EDS). */
  readonly edsName: string;
  readonly lbOptions: LoadBalancerOptions;
  readonly thresholds: ResourceThresholds[];
  readonly outlier: model.OutlierDetection | undefined;
  readonly healthCheck: CompiledHealthCheck | undefined;
  readonly pool: PoolSettings;
  readonly protocol: model.UpstreamHttpProtocolOptions['protocol'];
  readonly tls: boolean;
}

function fail(cluster: string, field: string, message: string): never {
  throw new ConfigError(`cluster ${JSON.stringify(cluster)} › ${field}: ${message}`);
}

function positiveMs(cluster: string, field: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0))
    fail(cluster, field, `must be a positive duration, got ${String(value)}`);
  return value;
}

function flatMetadata(
  cluster: string,
  field: string,
  value: Record<string, unknown>,
): Record<string, MetadataValue> {
  const out: Record<string, MetadataValue> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      fail(cluster, `${field}.${k}`, 'only string, number and boolean values are supported');
    }
    out[k] = v;
  }
  return out;
}

function compileHealthCheck(
  name: string,
  checks: readonly model.HealthCheck[],
): CompiledHealthCheck | undefined {
  if (checks.length === 0) return undefined;
  if (checks.length > 1) fail(name, 'health_checks', 'at most one health check per cluster is supported');
  const hc = checks[0] as model.HealthCheck;
  const f = 'health_checks[0]';
  const timeoutMs = positiveMs(name, `${f}.timeout`, hc.timeoutMs);
  const intervalMs = positiveMs(name, `${f}.interval`, hc.intervalMs);
  const noTrafficIntervalMs = positiveMs(name, `${f}.no_traffic_interval`, hc.noTrafficIntervalMs);
  const unhealthyIntervalMs = positiveMs(
    name,
    `${f}.unhealthy_interval`,
    hc.unhealthyIntervalMs ?? intervalMs,
  );
  const healthyEdgeIntervalMs = positiveMs(
    name,
    `${f}.healthy_edge_interval`,
    hc.healthyEdgeIntervalMs ?? intervalMs,
  );
  const unhealthyEdgeIntervalMs = positiveMs(
    name,
    `${f}.unhealthy_edge_interval`,
    hc.unhealthyEdgeIntervalMs ?? unhealthyIntervalMs,
  );
  if (!(Number.isFinite(hc.intervalJitterMs) && hc.intervalJitterMs >= 0)) {
    fail(name, `${f}.interval_jitter`, `must be a duration >= 0, got ${String(hc.intervalJitterMs)}`);
  }
  for (const key of ['unhealthyThreshold', 'healthyThreshold'] as const) {
    const v = hc[key];
    if (!(Number.isInteger(v) && v >= 1))
      fail(name, `${f}.${key}`, `must be an integer >= 1, got ${String(v)}`);
  }
  let http: CompiledHttpCheck | undefined;
  let tcp: CompiledTcpCheck | undefined;
  let grpc: CompiledGrpcCheck | undefined;
  if (hc.grpc !== undefined) {
    grpc = {
      headers: {
        // Envoy's default authority is the cluster name.
        host: hc.grpc.authority === '' ? name : hc.grpc.authority,
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': 'Envoy/HC',
      },
      body: healthCheckRequest(hc.grpc.serviceName),
    };
  } else if (hc.http !== undefined) {
    const h = hc.http;
    if (!h.path.startsWith('/'))
      fail(name, `${f}.http_health_check.path`, `must start with /, got ${JSON.stringify(h.path)}`);
    const headers: Record<string, string> = {
      // Envoy's default host is the cluster name; its checks announce themselves so.
      host: h.host === '' ? name : h.host,
      'user-agent': 'Envoy/HC',
    };
    for (const option of h.requestHeadersToAdd) {
      const key = option.header.key.toLowerCase();
      const value = option.header.value;
      if (value === '' && !option.keepEmptyValue) continue;
      const existing = headers[key];
      if (existing !== undefined && option.appendAction === 'APPEND_IF_EXISTS_OR_ADD')
        headers[key] = `${existing},${value}`;
      else if (existing === undefined || option.appendAction !== 'ADD_IF_ABSENT') {
        if (existing === undefined && option.appendAction === 'OVERWRITE_IF_EXISTS') continue;
        headers[key] = value;
      }
    }
    const expected: number[] = [];
    h.expectedStatuses.forEach((r, i) => {
      if (!(
        Number.isInteger(r.start) &&
        Number.isInteger(r.end) &&
        r.start >= 100 &&
        r.end <= 600 &&
        r.start < r.end
      )) {
        fail(
          name,
          `${f}.http_health_check.expected_statuses[${i}]`,
          `must be a range [start, end) within [100, 600), got [${r.start}, ${r.end})`,
        );
      }
      expected.push(r.start, r.end);
    });
    http = { path: h.path, headers, expected, http2: h.codecClientType === 'HTTP2' };
  } else if (hc.tcp !== undefined) {
    const hex = (value: string, field: string): Buffer => {
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(value))
        fail(name, field, `must be hex bytes, got ${JSON.stringify(value)}`);
      return Buffer.from(value, 'hex');
    };
    const send =
      hc.tcp.send === undefined || hc.tcp.send === '' ? null : hex(hc.tcp.send, `${f}.tcp_health_check.send`);
    const receive = hc.tcp.receive
      .map((r, i) => hex(r, `${f}.tcp_health_check.receive[${i}]`))
      .filter((b) => b.length > 0);
    tcp = { send, receive };
  } else {
    fail(name, f, 'one of http_health_check, tcp_health_check, grpc_health_check is required');
  }
  return {
    timeoutMs,
    intervalMs,
    jitterMs: hc.intervalJitterMs,
    unhealthyThreshold: hc.unhealthyThreshold,
    healthyThreshold: hc.healthyThreshold,
    noTrafficIntervalMs,
    unhealthyIntervalMs,
    healthyEdgeIntervalMs,
    unhealthyEdgeIntervalMs,
    http,
    tcp,
    grpc,
  };
}

/**
 * Checks a cluster's config and compiles what can be compiled without building anything live.
 * Throws a `ConfigError` naming the cluster and the field. The balancer's, breaker's and outlier
 * detector's own checks run when the cluster is built, before anything is applied.
 */
export function compileCluster(
  config: model.Cluster,
  overprovisioningFactor: number | undefined,
): CompiledCluster {
  const name = config.name;
  if (typeof name !== 'string' || name === '')
    throw new ConfigError('cluster: name must be a non-empty string');
  const type: string = config.type;
  if (type === 'ORIGINAL_DST') fail(name, 'type', 'ORIGINAL_DST clusters are not supported');
  if (type !== 'STATIC' && type !== 'STRICT_DNS' && type !== 'LOGICAL_DNS' && type !== 'EDS') {
    fail(name, 'type', `unknown type ${JSON.stringify(type)}`);
  }
  const policy = config.lbPolicy;
  const lbOptions: {
    -readonly [K in keyof LoadBalancerOptions]: LoadBalancerOptions[K];
  } = {
    healthyPanicThreshold: config.healthyPanicThreshold,
    localityWeighted: config.localityWeightedLb,
  };
  // Envoy's default factor, 140, until a load assignment says otherwise.
  lbOptions.overprovisioningFactor = overprovisioningFactor ?? 140;
  if (policy === 'LEAST_REQUEST' && config.leastRequestLbConfig) {
    const c = config.leastRequestLbConfig;
    lbOptions.leastRequest = {
      choiceCount: c.choiceCount,
      ...(c.activeRequestBias !== undefined ? { activeRequestBias: c.activeRequestBias } : {}),
    };
  }
  if (policy === 'RING_HASH' && config.ringHashLbConfig) {
    const c = config.ringHashLbConfig;
    if (c.hashFunction !== 'XX_HASH')
      fail(name, 'ring_hash_lb_config.hash_function', `${c.hashFunction} is not supported (XX_HASH is)`);
    lbOptions.ringHash = { minimumRingSize: c.minimumRingSize, maximumRingSize: c.maximumRingSize };
  }
  if (policy === 'MAGLEV' && config.maglevLbConfig)
    lbOptions.maglev = { tableSize: config.maglevLbConfig.tableSize };
  const subset = config.lbSubsetConfig;
  if (subset !== undefined && subset.subsetSelectors.length > 0) {
    lbOptions.subset = {
      selectors: subset.subsetSelectors.map((s) => [...s.keys]),
      fallbackPolicy: subset.fallbackPolicy,
      defaultSubset: flatMetadata(name, 'lb_subset_config.default_subset', subset.defaultSubset),
    };
  }
  const thresholds: ResourceThresholds[] = config.circuitBreakers.thresholds.map((t) => ({
    priority: t.priority === 'HIGH' ? 'high' : 'default',
    maxConnections: t.maxConnections,
    maxPendingRequests: t.maxPendingRequests,
    maxRequests: t.maxRequests,
    maxRetries: t.maxRetries,
    ...(t.maxConnectionPools !== undefined ? { maxConnectionPools: t.maxConnectionPools } : {}),
    ...(t.retryBudget !== undefined ? { retryBudget: { ...t.retryBudget } } : {}),
  }));
  const defaults = config.circuitBreakers.thresholds.find((t) => t.priority !== 'HIGH');
  if (!(Number.isFinite(config.connectTimeoutMs) && config.connectTimeoutMs >= 0)) {
    fail(name, 'connect_timeout', `must be a duration >= 0, got ${String(config.connectTimeoutMs)}`);
  }
  const protocolOptions = config.upstreamHttpProtocolOptions;
  const common = protocolOptions.commonHttpProtocolOptions;
  const h2 = protocolOptions.http2ProtocolOptions;
  const tls = config.tls === undefined ? undefined : compileUpstreamTls(name, config.tls);
  const idle = common.idleTimeoutMs;
  if (idle !== undefined && !(Number.isFinite(idle) && idle >= 0)) {
    fail(name, 'common_http_protocol_options.idle_timeout', `must be a duration >= 0, got ${String(idle)}`);
  }
  const pool: PoolSettings = {
    tls,
    autoSni: protocolOptions.autoSni,
    connectTimeoutMs: config.connectTimeoutMs,
    // Envoy's default upstream idle timeout is one hour; 0 means none (undici needs a positive value).
    keepAliveTimeoutMs: idle === undefined || idle === 0 ? 3_600_000 : idle,
    maxConnections: Math.max(1, defaults?.maxConnections ?? 1024),
    maxRequestsPerConnection:
      common.maxRequestsPerConnection === 0 ? undefined : common.maxRequestsPerConnection,
    maxConcurrentStreams: h2?.maxConcurrentStreams ?? 100,
    initialStreamWindowSize: h2?.initialStreamWindowSize,
    initialConnectionWindowSize: h2?.initialConnectionWindowSize,
  };
  const protocol: string = protocolOptions.protocol;
  if (protocol !== 'http1' && protocol !== 'http2' && protocol !== 'auto' && protocol !== 'downstream') {
    fail(name, 'upstream_http_protocol_options.protocol', `unknown protocol ${JSON.stringify(protocol)}`);
  }
  if (!['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'].includes(config.dnsLookupFamily)) {
    fail(name, 'dns_lookup_family', `unknown family ${JSON.stringify(config.dnsLookupFamily)}`);
  }
  if ((type === 'STRICT_DNS' || type === 'LOGICAL_DNS') && !(config.dnsRefreshRateMs > 0)) {
    fail(name, 'dns_refresh_rate', `must be a positive duration, got ${String(config.dnsRefreshRateMs)}`);
  }
  return {
    name,
    config,
    discovery: type,
    edsName: config.edsServiceName ?? name,
    lbOptions,
    thresholds,
    outlier: config.outlierDetection,
    healthCheck: compileHealthCheck(name, config.healthChecks),
    pool,
    protocol,
    tls: tls !== undefined,
  };
}
