// Envoy bootstrap files (YAML or JSON, snake_case or camelCase) to the model.
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { parseYaml } from './yaml.js';
import { messageType } from './descriptor.js';
import { BootstrapError, XdsTranslationError } from './errors.js';
import { IssueList, field, index } from './issues.js';
import { canonicalize } from './proto/canonical.js';
import { cluster } from './translate/cluster.js';
import { type JsonObject, address, has, list, locality, obj, only, optNum, str } from './translate/common.js';
import { listener } from './translate/listener.js';
import { overloadManager } from './translate/overload.js';
import type { AdsConfig, Bootstrap, Cluster, Issue, Listener, Node } from './types.js';

/** A bootstrap and the warnings its translation produced. */
export interface LoadedBootstrap {
  readonly bootstrap: Bootstrap;
  readonly warnings: readonly Issue[];
}

/**
 * Reads an Envoy bootstrap file (YAML or JSON): `node`, `admin`, `static_resources`,
 * `dynamic_resources.ads_config` and `overload_manager`. Throws a {@link BootstrapError} if the file cannot be read or
 * parsed, an {@link XdsTranslationError} listing every problem if it cannot be applied.
 *
 * @example
 * ```ts
 * const { bootstrap } = loadBootstrap('/etc/meshlet/bootstrap.yaml');
 * const ads = bootstrap.dynamicResources?.ads; // { apiType: 'GRPC', clusterName: 'xds' }
 * ```
 */
export function loadBootstrap(path: string): LoadedBootstrap {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new BootstrapError(`cannot read bootstrap file ${path}: ${(err as Error).message}`, { cause: err });
  }
  // Decoding as 'utf8' would turn invalid bytes into U+FFFD silently, and a name or a header
  // value would differ from the file's without a word; Envoy refuses such a file too.
  if (!isUtf8(bytes)) {
    throw new BootstrapError(
      `bootstrap file ${path} is not valid UTF-8 (line ${firstInvalidUtf8Line(bytes)})`,
    );
  }
  return parseBootstrap(utf8.decode(bytes), path);
}

const utf8 = new TextDecoder('utf-8');

/** The 1-based line holding the first byte that is not UTF-8 (a line feed never sits inside a UTF-8 sequence). */
function firstInvalidUtf8Line(bytes: Buffer): number {
  let line = 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (!isUtf8(bytes.subarray(start, end < 0 ? bytes.length : end))) return line;
    if (end < 0) return line;
    start = end + 1;
    line++;
  }
}

/** Like {@link loadBootstrap}, from the text of a file (YAML or JSON) or a parsed object. */
export function parseBootstrap(source: string | object, name = 'bootstrap'): LoadedBootstrap {
  let data: unknown = source;
  if (typeof source === 'string') {
    try {
      data = parseYaml(source, 100);
    } catch (err) {
      throw new BootstrapError(`${name} is not valid YAML or JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new BootstrapError(`${name} does not hold an object`);
  const issues = new IssueList('bootstrap');
  const json = canonicalize(messageType('envoy.config.bootstrap.v3.Bootstrap'), data, issues);
  if (!json || issues.errors.length) throw new XdsTranslationError(issues.errors);
  const bootstrap = translateBootstrap(json, issues);
  if (issues.errors.length) throw new XdsTranslationError(issues.errors);
  return { bootstrap, warnings: issues.warnings };
}

function translateBootstrap(o: JsonObject, issues: IssueList): Bootstrap {
  only(
    o,
    issues,
    '',
    ['node', 'admin', 'staticResources', 'dynamicResources', 'overloadManager'],
    [
      'statsSinks',
      'statsConfig',
      'statsFlushInterval',
      'statsFlushOnAdmin',
      'watchdog',
      'watchdogs',
      'tracing',
      'layeredRuntime',
      'enableDispatcherStats',
      'headerPrefix',
      'statsServerVersionOverride',
      'useTcpForDnsLookups',
      'dnsResolutionConfig',
      'typedDnsResolverConfig',
      'bootstrapExtensions',
      'fatalActions',
      'configSources',
      'defaultConfigSource',
      'defaultSocketInterface',
      'certificateProviderInstances',
      'inlineHeaders',
      'perfTracingFilePath',
      'defaultRegexEngine',
      'xdsDelegateExtension',
      'xdsConfigTrackerExtension',
      'listenerManager',
      'applicationLogConfig',
      'gracefulShutdown',
      'clusterManager',
      'hdsConfig',
      'flagsPath',
      'nodeContextParams',
    ],
  );
  const n = obj(o.node);
  const node: { -readonly [K in keyof Node]: Node[K] } = {
    id: str(n.id),
    cluster: str(n.cluster),
    metadata: obj(n.metadata),
    userAgentName: str(n.userAgentName, 'meshlet'),
  };
  if (has(n, 'locality')) node.locality = locality(n.locality);
  const s = obj(o.staticResources);
  only(s, issues, 'static_resources', ['listeners', 'clusters']);
  if (list(s.secrets).length)
    issues.error(
      'static_resources.secrets',
      'static secrets are not supported; give certificates inline or by file',
    );
  const listeners: Listener[] = [];
  list(s.listeners).forEach((l, i) => {
    const sub = new IssueList(`listener ${JSON.stringify(str(l.name))}`);
    listeners.push(listener(l, sub, index('static_resources.listeners', i)));
    merge(issues, sub);
  });
  const clusters: Cluster[] = [];
  list(s.clusters).forEach((c, i) => {
    const sub = new IssueList(`cluster ${JSON.stringify(str(c.name))}`);
    clusters.push(cluster(c, sub, index('static_resources.clusters', i)));
    merge(issues, sub);
  });
  const out: { -readonly [K in keyof Bootstrap]: Bootstrap[K] } = {
    node,
    staticResources: { listeners, clusters },
  };
  if (has(o, 'admin')) {
    const a = obj(o.admin);
    const addr = has(a, 'address') ? address(obj(a.address), issues, 'admin.address') : undefined;
    out.admin = addr ? { address: addr } : {};
  }
  if (has(o, 'dynamicResources')) {
    const d = obj(o.dynamicResources);
    only(
      d,
      issues,
      'dynamic_resources',
      ['ldsConfig', 'cdsConfig', 'adsConfig'],
      ['ldsResourcesLocator', 'cdsResourcesLocator'],
    );
    const viaAds = (v: JsonObject, p: string): boolean => {
      if (!Object.keys(v).length) return false;
      if (has(v, 'ads')) return true;
      issues.error(p, 'only ADS config sources are supported (ads: {})');
      return false;
    };
    const lds = viaAds(obj(d.ldsConfig), 'dynamic_resources.lds_config');
    const cds = viaAds(obj(d.cdsConfig), 'dynamic_resources.cds_config');
    const dyn: {
      -readonly [K in keyof NonNullable<Bootstrap['dynamicResources']>]: NonNullable<
        Bootstrap['dynamicResources']
      >[K];
    } = {
      lds,
      cds,
      initialFetchTimeoutMs: optNum(obj(d.ldsConfig).initialFetchTimeout) ?? 15_000,
    };
    if (has(d, 'adsConfig')) {
      const ads = adsConfig(obj(d.adsConfig), issues, 'dynamic_resources.ads_config');
      if (ads) {
        dyn.ads = ads;
        if (ads.clusterName !== undefined && !clusters.some((c) => c.name === ads.clusterName))
          issues.error(
            'dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name',
            `unknown static cluster "${ads.clusterName}"`,
          );
      }
    } else if (lds || cds)
      issues.error('dynamic_resources', 'lds_config or cds_config use ADS but there is no ads_config');
    out.dynamicResources = dyn;
  }
  if (has(o, 'overloadManager'))
    out.overloadManager = overloadManager(obj(o.overloadManager), issues, 'overload_manager');
  return out;
}

function adsConfig(o: JsonObject, issues: IssueList, path: string): AdsConfig | undefined {
  only(
    o,
    issues,
    path,
    ['apiType', 'grpcServices', 'transportApiVersion'],
    ['setNodeOnFirstMessageOnly', 'rateLimitSettings', 'requestTimeout', 'refreshDelay'],
  );
  const apiType = str(o.apiType, 'GRPC');
  if (apiType !== 'GRPC' && apiType !== 'DELTA_GRPC') {
    issues.error(field(path, 'api_type'), `api_type ${apiType} is not supported (GRPC or DELTA_GRPC)`);
    return undefined;
  }
  if (apiType === 'DELTA_GRPC')
    issues.error(field(path, 'api_type'), 'delta xDS is not supported yet; use GRPC');
  const services = list(o.grpcServices);
  const first = services[0];
  if (!first) {
    issues.error(field(path, 'grpc_services'), 'an ADS config needs one gRPC service');
    return undefined;
  }
  const sp = index(field(path, 'grpc_services'), 0);
  const out: { -readonly [K in keyof AdsConfig]: AdsConfig[K] } = { apiType };
  if (has(first, 'envoyGrpc')) out.clusterName = str(obj(first.envoyGrpc).clusterName);
  else if (has(first, 'googleGrpc')) out.targetUri = str(obj(first.googleGrpc).targetUri);
  else issues.error(sp, 'a gRPC service needs envoy_grpc or google_grpc');
  const t = optNum(first.timeout);
  if (t !== undefined) out.timeoutMs = t;
  return out;
}

function merge(into: IssueList, from: IssueList): void {
  into.errors.push(...from.errors);
  into.warnings.push(...from.warnings);
}

/**
 * The `host:port` of the ADS server a bootstrap names: its `target_uri`, or the first endpoint of
 * the static cluster named by `envoy_grpc.cluster_name`. Undefined when it names none.
 */
export function adsServerAddress(bootstrap: Bootstrap): string | undefined {
  const ads = bootstrap.dynamicResources?.ads;
  if (!ads) return undefined;
  if (ads.targetUri) return ads.targetUri;
  const c = bootstrap.staticResources.clusters.find((x) => x.name === ads.clusterName);
  const ep = c?.loadAssignment?.endpoints[0]?.lbEndpoints[0];
  if (!ep || !('socketAddress' in ep.address)) return undefined;
  const { address: host, port } = ep.address.socketAddress;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
