// Cluster (CDS, or static) to the model.
import { type IssueList, field, index, key } from '../issues.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  Cluster,
  CommonHttpProtocolOptions,
  HealthCheck,
  Http2ProtocolOptions,
  LbPolicy,
  OutlierDetection,
  Thresholds,
  UpstreamHttpProtocolOptions,
} from '../types.js';
import {
  type Json,
  type JsonObject,
  bool,
  has,
  headerValueOptions,
  list,
  metadata,
  num,
  obj,
  only,
  optNum,
  put,
  str,
  strings,
} from './common.js';
import { clusterLoadAssignment } from './endpoint.js';
import { upstreamTransportSocket } from './tls.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const TYPES = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'] as const;
const POLICIES: readonly LbPolicy[] = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'];

export function cluster(o: JsonObject, issues: IssueList, path = ''): Cluster {
  only(
    o,
    issues,
    path,
    [
      'name',
      'type',
      'edsClusterConfig',
      'lbPolicy',
      'loadBalancingPolicy',
      'ringHashLbConfig',
      'maglevLbConfig',
      'leastRequestLbConfig',
      'roundRobinLbConfig',
      'connectTimeout',
      'perConnectionBufferLimitBytes',
      'circuitBreakers',
      'outlierDetection',
      'healthChecks',
      'loadAssignment',
      'typedExtensionProtocolOptions',
      'http2ProtocolOptions',
      'httpProtocolOptions',
      'commonHttpProtocolOptions',
      'protocolSelection',
      'transportSocket',
      'commonLbConfig',
      'lbSubsetConfig',
      'dnsRefreshRate',
      'dnsLookupFamily',
      'respectDnsTtl',
      'metadata',
    ],
    [
      'altStatName',
      'cleanupInterval',
      'trackClusterStats',
      'trackTimeoutBudgets',
      'dnsFailureRefreshRate',
      'dnsResolvers',
      'useTcpForDnsLookups',
      'dnsResolutionConfig',
      'typedDnsResolverConfig',
      'upstreamConnectionOptions',
      'closeConnectionsOnHostHealthFailure',
      'ignoreHealthOnHostRemoval',
      'connectionPoolPerDownstreamConnection',
      'originalDstLbConfig',
      'waitForWarmOnInit',
      'dnsJitter',
      'upstreamBindConfig',
    ],
  );
  for (const f of [
    'clusterType',
    'transportSocketMatches',
    'filters',
    'lrsServer',
    'upstreamConfig',
    'preconnectPolicy',
  ] as const)
    if (has(o, f))
      issues.error(
        field(
          path,
          f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        ),
        unsupportedWhy(f),
      );

  const type = str(o.type, 'STATIC');
  const c: Mutable<Cluster> = {
    name: str(o.name),
    type: (TYPES as readonly string[]).includes(type) ? (type as Cluster['type']) : 'STATIC',
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: num(o.connectTimeout, 5000),
    circuitBreakers: {
      thresholds: list(obj(o.circuitBreakers).thresholds).map((t, i) =>
        thresholds(t, issues, index(field(field(path, 'circuit_breakers'), 'thresholds'), i)),
      ),
    },
    healthChecks: list(o.healthChecks).flatMap(
      (h, i) => healthCheck(h, issues, index(field(path, 'health_checks'), i)) ?? [],
    ),
    upstreamHttpProtocolOptions: upstreamProtocol(o, issues, path),
    healthyPanicThreshold: 50,
    localityWeightedLb: false,
    dnsRefreshRateMs: num(o.dnsRefreshRate, 5000),
    dnsLookupFamily: str(o.dnsLookupFamily, 'AUTO') as Cluster['dnsLookupFamily'],
    respectDnsTtl: bool(o.respectDnsTtl),
    metadata: metadata(o.metadata),
  };
  if (!(TYPES as readonly string[]).includes(type))
    issues.error(field(path, 'type'), `discovery type ${type} is not supported`);
  if (has(obj(o.circuitBreakers), 'perHostThresholds'))
    issues.error(
      field(field(path, 'circuit_breakers'), 'per_host_thresholds'),
      'per-host thresholds are not supported',
    );
  if (c.type === 'EDS') {
    const eds = obj(o.edsClusterConfig);
    only(eds, issues, field(path, 'eds_cluster_config'), ['serviceName', 'edsConfig']);
    if (has(eds, 'serviceName')) c.edsServiceName = str(eds.serviceName);
  }
  put(c, 'perConnectionBufferLimitBytes', optNum(o.perConnectionBufferLimitBytes));
  lbPolicy(o, c, issues, path);
  if (has(o, 'outlierDetection'))
    c.outlierDetection = outlierDetection(obj(o.outlierDetection), issues, field(path, 'outlier_detection'));
  if (has(o, 'loadAssignment'))
    c.loadAssignment = clusterLoadAssignment(obj(o.loadAssignment), issues, field(path, 'load_assignment'));
  if (has(o, 'transportSocket')) {
    const tls = upstreamTransportSocket(obj(o.transportSocket), issues, field(path, 'transport_socket'));
    if (tls) c.tls = tls;
  }
  const common = obj(o.commonLbConfig);
  const clPath = field(path, 'common_lb_config');
  only(
    common,
    issues,
    clPath,
    ['healthyPanicThreshold', 'localityWeightedLbConfig'],
    [
      'updateMergeWindow',
      'ignoreNewHostsUntilFirstHc',
      'closeConnectionsOnHostSetChange',
      'consistentHashingLbConfig',
      'overrideHostStatus',
    ],
  );
  if (has(common, 'zoneAwareLbConfig'))
    issues.error(field(clPath, 'zone_aware_lb_config'), 'zone-aware routing is not supported');
  if (has(common, 'healthyPanicThreshold'))
    c.healthyPanicThreshold = num(obj(common.healthyPanicThreshold).value, 50);
  c.localityWeightedLb = has(common, 'localityWeightedLbConfig');
  if (has(o, 'lbSubsetConfig')) {
    const s = obj(o.lbSubsetConfig);
    const here = field(path, 'lb_subset_config');
    only(
      s,
      issues,
      here,
      ['fallbackPolicy', 'defaultSubset', 'subsetSelectors'],
      ['localityWeightAware', 'scaleLocalityWeight', 'panicModeAny', 'listAsAny', 'metadataFallbackPolicy'],
    );
    c.lbSubsetConfig = {
      fallbackPolicy: str(s.fallbackPolicy, 'NO_FALLBACK') as NonNullable<
        Cluster['lbSubsetConfig']
      >['fallbackPolicy'],
      defaultSubset: obj(s.defaultSubset),
      subsetSelectors: list(s.subsetSelectors).map((x, i) => {
        only(x, issues, index(field(here, 'subset_selectors'), i), ['keys'], ['singleHostPerSubset']);
        if (has(x, 'fallbackPolicy') && x.fallbackPolicy !== 'NOT_DEFINED')
          issues.error(
            field(index(field(here, 'subset_selectors'), i), 'fallback_policy'),
            'per-selector fallback policies are not supported',
          );
        return { keys: strings(x.keys) };
      }),
    };
  }
  return c;
}

function unsupportedWhy(f: string): string {
  switch (f) {
    case 'clusterType':
      return 'custom cluster types (aggregate, dynamic forward proxy...) are not supported';
    case 'transportSocketMatches':
      return 'transport socket matches (per-endpoint TLS modes) are not supported; use transport_socket';
    case 'filters':
      return 'upstream network filters are not supported';
    case 'lrsServer':
      return 'load reporting (LRS) is not supported';
    default:
      return 'not supported by meshlet';
  }
}

function lbPolicy(o: JsonObject, c: Mutable<Cluster>, issues: IssueList, path: string): void {
  const policy = str(o.lbPolicy, 'ROUND_ROBIN');
  if (has(o, 'loadBalancingPolicy')) {
    // The extension form: the first policy meshlet knows wins, as in Envoy.
    const here = field(path, 'load_balancing_policy');
    const policies = list(obj(o.loadBalancingPolicy).policies);
    for (const p of policies) {
      const tc = obj(obj(p.typedExtensionConfig).typedConfig);
      switch (str(tc['@type'])) {
        case TYPE_URLS.roundRobin:
          c.lbPolicy = 'ROUND_ROBIN';
          return;
        case TYPE_URLS.random:
          c.lbPolicy = 'RANDOM';
          return;
        case TYPE_URLS.leastRequest: {
          c.lbPolicy = 'LEAST_REQUEST';
          const lr: { choiceCount: number; activeRequestBias?: number } = {
            choiceCount: num(tc.choiceCount, 2),
          };
          put(lr, 'activeRequestBias', optNum(obj(tc.activeRequestBias).defaultValue));
          c.leastRequestLbConfig = lr;
          return;
        }
        case TYPE_URLS.ringHash:
          c.lbPolicy = 'RING_HASH';
          c.ringHashLbConfig = {
            minimumRingSize: num(tc.minimumRingSize, 1024),
            maximumRingSize: num(tc.maximumRingSize, 8 * 1024 * 1024),
            hashFunction: tc.hashFunction === 'MURMUR_HASH_2' ? 'MURMUR_HASH_2' : 'XX_HASH',
          };
          return;
        case TYPE_URLS.maglev:
          c.lbPolicy = 'MAGLEV';
          c.maglevLbConfig = { tableSize: num(tc.tableSize, 65537) };
          return;
        default:
      }
    }
    const names = policies.map(
      (p) =>
        str(obj(obj(p.typedExtensionConfig).typedConfig)['@type'])
          .split('/')
          .pop() ?? '',
    );
    issues.error(
      here,
      `none of the load balancing policies is supported: ${names.join(', ')} (meshlet has ${POLICIES.join(', ')})`,
    );
    return;
  }
  if (!(POLICIES as readonly string[]).includes(policy)) {
    issues.error(
      field(path, 'lb_policy'),
      `load balancing policy ${policy} is not supported (meshlet has ${POLICIES.join(', ')})`,
    );
    return;
  }
  c.lbPolicy = policy as LbPolicy;
  if (policy === 'RING_HASH') {
    const r = obj(o.ringHashLbConfig);
    only(r, issues, field(path, 'ring_hash_lb_config'), [
      'minimumRingSize',
      'maximumRingSize',
      'hashFunction',
    ]);
    c.ringHashLbConfig = {
      minimumRingSize: num(r.minimumRingSize, 1024),
      maximumRingSize: num(r.maximumRingSize, 8 * 1024 * 1024),
      hashFunction: r.hashFunction === 'MURMUR_HASH_2' ? 'MURMUR_HASH_2' : 'XX_HASH',
    };
  } else if (policy === 'MAGLEV')
    c.maglevLbConfig = { tableSize: num(obj(o.maglevLbConfig).tableSize, 65537) };
  else if (policy === 'LEAST_REQUEST') {
    const l = obj(o.leastRequestLbConfig);
    only(
      l,
      issues,
      field(path, 'least_request_lb_config'),
      ['choiceCount', 'activeRequestBias'],
      ['slowStartConfig'],
    );
    const lr: { choiceCount: number; activeRequestBias?: number } = { choiceCount: num(l.choiceCount, 2) };
    put(lr, 'activeRequestBias', optNum(obj(l.activeRequestBias).defaultValue));
    c.leastRequestLbConfig = lr;
  }
}

function thresholds(o: JsonObject, issues: IssueList, path: string): Thresholds {
  only(o, issues, path, [
    'priority',
    'maxConnections',
    'maxPendingRequests',
    'maxRequests',
    'maxRetries',
    'maxConnectionPools',
    'retryBudget',
    'trackRemaining',
  ]);
  const t: Mutable<Thresholds> = {
    priority: o.priority === 'HIGH' ? 'HIGH' : 'DEFAULT',
    maxConnections: num(o.maxConnections, 1024),
    maxPendingRequests: num(o.maxPendingRequests, 1024),
    maxRequests: num(o.maxRequests, 1024),
    maxRetries: num(o.maxRetries, 3),
    trackRemaining: bool(o.trackRemaining),
  };
  put(t, 'maxConnectionPools', optNum(o.maxConnectionPools));
  if (has(o, 'retryBudget')) {
    const b = obj(o.retryBudget);
    t.retryBudget = {
      budgetPercent: num(obj(b.budgetPercent).value, 20),
      minRetryConcurrency: num(b.minRetryConcurrency, 3),
    };
  }
  return t;
}

function outlierDetection(o: JsonObject, issues: IssueList, path: string): OutlierDetection {
  only(
    o,
    issues,
    path,
    [
      'consecutive5xx',
      'consecutiveGatewayFailure',
      'consecutiveLocalOriginFailure',
      'interval',
      'baseEjectionTime',
      'maxEjectionTime',
      'maxEjectionPercent',
      'enforcingConsecutive5xx',
      'enforcingConsecutiveGatewayFailure',
      'enforcingSuccessRate',
      'successRateMinimumHosts',
      'successRateRequestVolume',
      'successRateStdevFactor',
      'failurePercentageThreshold',
      'enforcingFailurePercentage',
      'failurePercentageMinimumHosts',
      'failurePercentageRequestVolume',
      'splitExternalLocalOriginErrors',
    ],
    [
      'enforcingConsecutiveLocalOriginFailure',
      'enforcingLocalOriginSuccessRate',
      'enforcingFailurePercentageLocalOrigin',
      'maxEjectionTimeJitter',
      'successfulActiveHealthCheckUnejectHost',
      'alwaysEjectOneHost',
      'detectorConfig',
    ],
  );
  return {
    consecutive5xx: num(o.consecutive5xx, 5),
    consecutiveGatewayFailure: num(o.consecutiveGatewayFailure, 5),
    consecutiveLocalOriginFailure: num(o.consecutiveLocalOriginFailure, 5),
    intervalMs: num(o.interval, 10_000),
    baseEjectionTimeMs: num(o.baseEjectionTime, 30_000),
    maxEjectionTimeMs: num(o.maxEjectionTime, 300_000),
    maxEjectionPercent: num(o.maxEjectionPercent, 10),
    enforcingConsecutive5xx: num(o.enforcingConsecutive5xx, 100),
    enforcingConsecutiveGatewayFailure: num(o.enforcingConsecutiveGatewayFailure, 0),
    enforcingSuccessRate: num(o.enforcingSuccessRate, 100),
    successRateMinimumHosts: num(o.successRateMinimumHosts, 5),
    successRateRequestVolume: num(o.successRateRequestVolume, 100),
    successRateStdevFactor: num(o.successRateStdevFactor, 1900),
    failurePercentageThreshold: num(o.failurePercentageThreshold, 85),
    enforcingFailurePercentage: num(o.enforcingFailurePercentage, 0),
    failurePercentageMinimumHosts: num(o.failurePercentageMinimumHosts, 5),
    failurePercentageRequestVolume: num(o.failurePercentageRequestVolume, 50),
    splitExternalLocalOriginErrors: bool(o.splitExternalLocalOriginErrors),
  };
}

function healthCheck(o: JsonObject, issues: IssueList, path: string): HealthCheck | undefined {
  only(
    o,
    issues,
    path,
    [
      'timeout',
      'interval',
      'intervalJitter',
      'unhealthyThreshold',
      'healthyThreshold',
      'noTrafficInterval',
      'unhealthyInterval',
      'healthyEdgeInterval',
      'unhealthyEdgeInterval',
      'httpHealthCheck',
      'tcpHealthCheck',
      'grpcHealthCheck',
    ],
    [
      'eventLogPath',
      'eventLogger',
      'alwaysLogHealthCheckFailures',
      'alwaysLogHealthCheckSuccess',
      'reuseConnection',
      'initialJitter',
      'intervalJitterPercent',
      'noTrafficHealthyInterval',
      'altPort',
      'transportSocketMatchCriteria',
    ],
  );
  const h: Mutable<HealthCheck> = {
    timeoutMs: num(o.timeout, 1000),
    intervalMs: num(o.interval, 10_000),
    intervalJitterMs: num(o.intervalJitter, 0),
    unhealthyThreshold: num(o.unhealthyThreshold, 1),
    healthyThreshold: num(o.healthyThreshold, 1),
    noTrafficIntervalMs: num(o.noTrafficInterval, 60_000),
  };
  put(h, 'unhealthyIntervalMs', optNum(o.unhealthyInterval));
  put(h, 'healthyEdgeIntervalMs', optNum(o.healthyEdgeInterval));
  put(h, 'unhealthyEdgeIntervalMs', optNum(o.unhealthyEdgeInterval));
  if (has(o, 'httpHealthCheck')) {
    const x = obj(o.httpHealthCheck);
    const here = field(path, 'http_health_check');
    only(
      x,
      issues,
      here,
      ['host', 'path', 'expectedStatuses', 'requestHeadersToAdd', 'codecClientType'],
      ['requestHeadersToRemove', 'retriableStatuses', 'serviceNameMatcher', 'method'],
    );
    if (has(x, 'send') || has(x, 'receive'))
      issues.error(here, 'payload checks on HTTP health checks are not supported');
    const statuses = list(x.expectedStatuses).map((r) => ({
      start: num(r.start, 200),
      end: num(r.end, 201),
    }));
    h.http = {
      host: str(x.host),
      path: str(x.path, '/'),
      expectedStatuses: statuses.length ? statuses : [{ start: 200, end: 201 }],
      requestHeadersToAdd: headerValueOptions(
        x.requestHeadersToAdd,
        issues,
        field(here, 'request_headers_to_add'),
      ),
      codecClientType: x.codecClientType === 'HTTP2' ? 'HTTP2' : 'HTTP1',
    };
  } else if (has(o, 'tcpHealthCheck')) {
    const x = obj(o.tcpHealthCheck);
    const payload = (p: Json | undefined): string | undefined => {
      const po = obj(p);
      if (has(po, 'text')) return str(po.text);
      if (has(po, 'binary')) return Buffer.from(str(po.binary), 'base64').toString('hex');
      return undefined;
    };
    const tcp: { send?: string; receive: string[] } = {
      receive: list(x.receive).flatMap((r) => payload(r) ?? []),
    };
    put(tcp, 'send', payload(x.send));
    h.tcp = tcp;
  } else if (has(o, 'grpcHealthCheck')) {
    const x = obj(o.grpcHealthCheck);
    h.grpc = { serviceName: str(x.serviceName), authority: str(x.authority) };
  } else {
    issues.error(path, 'a health check needs one of http_health_check, tcp_health_check, grpc_health_check');
    return undefined;
  }
  return h;
}

function common(o: JsonObject, issues: IssueList, path: string): CommonHttpProtocolOptions {
  only(
    o,
    issues,
    path,
    [
      'idleTimeout',
      'maxConnectionDuration',
      'maxHeadersCount',
      'maxStreamDuration',
      'maxRequestsPerConnection',
      'headersWithUnderscoresAction',
    ],
    ['maxResponseHeadersKb'],
  );
  const out: Mutable<CommonHttpProtocolOptions> = {
    headersWithUnderscoresAction: str(
      o.headersWithUnderscoresAction,
      'ALLOW',
    ) as CommonHttpProtocolOptions['headersWithUnderscoresAction'],
  };
  put(out, 'idleTimeoutMs', optNum(o.idleTimeout));
  put(out, 'maxConnectionDurationMs', optNum(o.maxConnectionDuration));
  put(out, 'maxHeadersCount', optNum(o.maxHeadersCount));
  put(out, 'maxStreamDurationMs', optNum(o.maxStreamDuration));
  put(out, 'maxRequestsPerConnection', optNum(o.maxRequestsPerConnection));
  return out;
}
export { common as commonHttpProtocolOptions };

export function http2(o: JsonObject, issues: IssueList, path: string): Http2ProtocolOptions {
  only(
    o,
    issues,
    path,
    ['maxConcurrentStreams', 'initialStreamWindowSize', 'initialConnectionWindowSize'],
    [
      'hpackTableSize',
      'allowConnect',
      'allowMetadata',
      'maxOutboundFrames',
      'maxOutboundControlFrames',
      'maxConsecutiveInboundFramesWithEmptyPayload',
      'maxInboundPriorityFramesPerStream',
      'maxInboundWindowUpdateFramesPerDataFrameSent',
      'streamErrorOnInvalidHttpMessaging',
      'overrideStreamErrorOnInvalidHttpMessage',
      'connectionKeepalive',
    ],
  );
  const out: Mutable<Http2ProtocolOptions> = {};
  put(out, 'maxConcurrentStreams', optNum(o.maxConcurrentStreams));
  put(out, 'initialStreamWindowSize', optNum(o.initialStreamWindowSize));
  put(out, 'initialConnectionWindowSize', optNum(o.initialConnectionWindowSize));
  return out;
}

function upstreamProtocol(o: JsonObject, issues: IssueList, path: string): UpstreamHttpProtocolOptions {
  const out: Mutable<UpstreamHttpProtocolOptions> = {
    protocol: 'http1',
    commonHttpProtocolOptions: common(
      obj(o.commonHttpProtocolOptions),
      issues,
      field(path, 'common_http_protocol_options'),
    ),
    autoSni: false,
  };
  if (has(o, 'http2ProtocolOptions')) {
    out.protocol = 'http2';
    out.http2ProtocolOptions = http2(
      obj(o.http2ProtocolOptions),
      issues,
      field(path, 'http2_protocol_options'),
    );
  }
  if (o.protocolSelection === 'USE_DOWNSTREAM_PROTOCOL') out.protocol = 'downstream';
  const teo = obj(o.typedExtensionProtocolOptions);
  for (const name of Object.keys(teo)) {
    const here = key(field(path, 'typed_extension_protocol_options'), name);
    const opts = obj(teo[name]);
    if (str(opts['@type']) !== TYPE_URLS.httpProtocolOptions) {
      issues.error(here, `protocol options of type ${str(opts['@type'])} are not supported`);
      continue;
    }
    only(
      opts,
      issues,
      here,
      [
        'commonHttpProtocolOptions',
        'explicitHttpConfig',
        'useDownstreamProtocolConfig',
        'autoConfig',
        'upstreamHttpProtocolOptions',
      ],
      ['httpFilters', 'headerValidationConfig'],
    );
    if (has(opts, 'commonHttpProtocolOptions'))
      out.commonHttpProtocolOptions = common(
        obj(opts.commonHttpProtocolOptions),
        issues,
        field(here, 'common_http_protocol_options'),
      );
    const pick = (cfg: JsonObject, p: string): void => {
      if (has(cfg, 'http2ProtocolOptions'))
        out.http2ProtocolOptions = http2(
          obj(cfg.http2ProtocolOptions),
          issues,
          field(p, 'http2_protocol_options'),
        );
      if (has(cfg, 'http3ProtocolOptions'))
        issues.error(field(p, 'http3_protocol_options'), 'HTTP/3 upstreams are not supported');
    };
    if (has(opts, 'explicitHttpConfig')) {
      const e = obj(opts.explicitHttpConfig);
      out.protocol = has(e, 'http2ProtocolOptions') ? 'http2' : 'http1';
      pick(e, field(here, 'explicit_http_config'));
    } else if (has(opts, 'useDownstreamProtocolConfig')) {
      out.protocol = 'downstream';
      pick(obj(opts.useDownstreamProtocolConfig), field(here, 'use_downstream_protocol_config'));
    } else if (has(opts, 'autoConfig')) {
      out.protocol = 'auto';
      pick(obj(opts.autoConfig), field(here, 'auto_config'));
    }
    out.autoSni = bool(obj(opts.upstreamHttpProtocolOptions).autoSni);
  }
  return out;
}
