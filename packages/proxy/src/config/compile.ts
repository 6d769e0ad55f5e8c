// Compiles a config snapshot's listeners into what the listeners run: filter chains with their
// connection managers (route tables, filter chains, router filter), TLS contexts and limits.
// Pure: nothing is bound or swapped here, so a ConfigError leaves the running proxy untouched.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { SecureContextOptions } from 'node:tls';
import type { TimerWheel } from '@meshlet/breaker';
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import { FilterChainPlan, type FilterConfigTransaction } from '../filters/chain.js';
import {
  HttpConnectionManager,
  DEFAULT_MAX_HEADERS_COUNT,
  type ConnectionManagerEnv,
} from '../http/connection-manager.js';
import {
  CompiledFilterChain,
  CompiledListener,
  type ChainTls,
  type ServerLimits,
} from '../listener/filter-chains.js';
import type {
  ClusterManager,
  HttpFilter,
  ObservedChain,
  ProtocolRegistry,
  RouterFilter,
  RouteTable,
  StreamObserver,
} from '../types.js';
import type { RpcUpstreams } from '../rpc/types.js';

/** Envoy's default `max_request_headers_kb`. */
export const DEFAULT_MAX_REQUEST_HEADERS_KB = 60;
/** Envoy's default connection idle timeout (1 h). */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;
/** Envoy's default stream idle timeout (5 min). */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
/**
 * Headers timeout when the config sets none. Envoy's default is none; node's (60 s) is kept so a
 * slowloris client cannot hold a connection forever. `requestHeadersTimeoutMs: 0` turns it off.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

/** What compiling a config version needs from the proxy. */
export interface CompileContext {
  readonly registry: ReadonlyMap<string, HttpFilter>;
  readonly filters: FilterConfigTransaction;
  readonly env: ConnectionManagerEnv;
  /** The route table of a route configuration (compiled, or reused when unchanged). */
  routeTable(config: model.RouteConfiguration): RouteTable;
  /** The router filter for a router config (shared by connection managers with the same one). */
  routerFilter(config: model.RouterConfig): RouterFilter;
  /** The clusters of the version being compiled (their config is applied before any connection sees it). */
  readonly clusters: ClusterManager;
  /** The proxy's timer wheel, for request deadlines (coarse, 10 ms ticks). */
  readonly timers: TimerWheel;
  /** The RPC protocols the proxy knows (built-in and user), by name. */
  readonly protocols: ProtocolRegistry;
  /** The proxy's upstream RPC connections, shared by every `rpc_proxy` and config version. */
  readonly rpcUpstreams: RpcUpstreams;
  /** The observer (stats, access logs, tracing) of a filter chain; the no-op one when none watches. */
  observer(chain: ObservedChain): StreamObserver;
}

function readSource(source: model.DataSource, where: string): Buffer {
  if ('filename' in source) {
    try {
      return readFileSync(source.filename);
    } catch (error) {
      throw new ConfigError(`${where}: cannot read ${source.filename}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if ('inlineString' in source) return Buffer.from(source.inlineString, 'utf8');
  return Buffer.from(source.inlineBytes, 'base64');
}

function compileTls(config: model.DownstreamTls, where: string): ChainTls {
  if (config.certificates.length === 0) throw new ConfigError(`${where}: TLS needs at least one certificate`);
  if (config.validation !== undefined && config.validation.matchSubjectAltNames.length > 0) {
    throw new ConfigError(`${where}: validation_context.match_subject_alt_names is not supported downstream`);
  }
  const options: SecureContextOptions = {
    cert: config.certificates.map((c) => readSource(c.certificateChain, `${where} certificate_chain`)),
    key: config.certificates.map((c) => readSource(c.privateKey, `${where} private_key`)),
  };
  if (config.validation?.trustedCa !== undefined) {
    options.ca = readSource(config.validation.trustedCa, `${where} trusted_ca`);
  }
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(options);
  } catch (error) {
    throw new ConfigError(`${where}: bad certificate or key: ${(error as Error).message}`, { cause: error });
  }
  return {
    context,
    options,
    alpnProtocols: config.alpnProtocols,
    requireClientCertificate: config.requireClientCertificate,
  };
}

function limitsOf(hcm: model.HttpConnectionManager): ServerLimits {
  const common = hcm.commonHttpProtocolOptions;
  return {
    maxHeaderSize: (hcm.maxRequestHeadersKb ?? DEFAULT_MAX_REQUEST_HEADERS_KB) * 1024,
    requestTimeoutMs: hcm.requestTimeoutMs ?? 0,
    headersTimeoutMs: hcm.requestHeadersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: common.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    streamIdleTimeoutMs: hcm.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    maxHeadersCount: common.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT,
    maxRequestsPerConnection: common.maxRequestsPerConnection ?? 0,
    maxConcurrentStreams: hcm.http2ProtocolOptions?.maxConcurrentStreams,
    initialStreamWindowSize: hcm.http2ProtocolOptions?.initialStreamWindowSize,
    initialConnectionWindowSize: hcm.http2ProtocolOptions?.initialConnectionWindowSize,
  };
}

function checkMatch(match: model.FilterChainMatch, hasTls: boolean, where: string): void {
  const unsupported: string[] = [];
  if (match.destinationPort !== undefined) unsupported.push('destination_port');
  if (match.prefixRanges.length > 0) unsupported.push('prefix_ranges');
  if (match.sourceType !== 'ANY') unsupported.push('source_type');
  if (match.sourcePrefixRanges.length > 0) unsupported.push('source_prefix_ranges');
  if (match.directSourcePrefixRanges.length > 0) unsupported.push('direct_source_prefix_ranges');
  if (match.sourcePorts.length > 0) unsupported.push('source_ports');
  if (match.applicationProtocols.length > 0) unsupported.push('application_protocols');
  if (unsupported.length > 0) {
    throw new ConfigError(
      `${where}: filter_chain_match.${unsupported.join(', ')} not supported (only server_names)`,
    );
  }
  if (match.transportProtocol === 'tls' && !hasTls) {
    throw new ConfigError(`${where}: transport_protocol "tls" on a chain without TLS termination`);
  }
  if (match.transportProtocol === 'raw_buffer' && hasTls) {
    throw new ConfigError(`${where}: transport_protocol "raw_buffer" on a chain with TLS termination`);
  }
}

function compileChain(
  chain: model.FilterChain,
  listenerName: string,
  ctx: CompileContext,
  routeConfigs: ReadonlyMap<string, model.RouteConfiguration>,
): CompiledFilterChain {
  const where = `listener "${listenerName}" filter_chain "${chain.name}"`;
  const tlsConfig = chain.tls === undefined ? null : compileTls(chain.tls, where);
  checkMatch(chain.filterChainMatch, tlsConfig !== null, where);
  const last = chain.filters[chain.filters.length - 1];
  if (chain.filters.length !== 1 || last?.kind !== 'http_connection_manager') {
    const kinds = chain.filters.map((f) => f.kind).join(', ') || 'none';
    throw new ConfigError(
      `${where}: @meshlet/proxy serves one http_connection_manager per filter chain (got: ${kinds})`,
    );
  }
  const hcm = last.config;
  let routeConfig: model.RouteConfiguration;
  if (hcm.routeConfig !== undefined) routeConfig = hcm.routeConfig;
  else if (hcm.rds !== undefined) {
    const found = routeConfigs.get(hcm.rds.routeConfigName);
    if (found === undefined) {
      throw new ConfigError(
        `${where}: rds names route configuration "${hcm.rds.routeConfigName}", which the snapshot lacks`,
      );
    }
    routeConfig = found;
  } else throw new ConfigError(`${where}: the http_connection_manager has neither route_config nor rds`);
  let routeTable: RouteTable;
  try {
    routeTable = ctx.routeTable(routeConfig);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${where}: ${error.message}`, { cause: error });
    throw error;
  }
  const plan = FilterChainPlan.compile(hcm.httpFilters, ctx.registry, [routeConfig], ctx.filters, where);
  const manager = new HttpConnectionManager({
    name: `${listenerName}/${chain.name}`,
    config: hcm,
    routeTable,
    plan,
    router: ctx.routerFilter(plan.router),
    env: ctx.env,
    observer: ctx.observer({
      listenerName,
      chainName: chain.name,
      kind: 'http',
      statPrefix: hcm.statPrefix,
      filter: last,
    }),
  });
  return new CompiledFilterChain(
    chain.name,
    chain.filterChainMatch.serverNames,
    manager,
    hcm.codecType,
    limitsOf(hcm),
    tlsConfig,
  );
}

/** Compiles one listener. */
export function compileListener(
  listener: model.Listener,
  ctx: CompileContext,
  routeConfigs: ReadonlyMap<string, model.RouteConfiguration>,
): CompiledListener {
  const where = `listener "${listener.name}"`;
  if (!('socketAddress' in listener.address))
    throw new ConfigError(`${where}: pipe addresses are not supported`);
  const { address, port, protocol } = listener.address.socketAddress;
  if (protocol !== 'TCP') throw new ConfigError(`${where}: only TCP listeners are supported`);
  for (const f of listener.listenerFilters) {
    // TLS and HTTP inspection are built in (SNI callback, ALPN, preface sniffing).
    if (f.kind === 'original_dst')
      throw new ConfigError(`${where}: listener filter "${f.name}" (original_dst) is not supported`);
  }
  const chains = listener.filterChains.map((c) => compileChain(c, listener.name, ctx, routeConfigs));
  const defaultChain =
    listener.defaultFilterChain === undefined
      ? null
      : compileChain(listener.defaultFilterChain, listener.name, ctx, routeConfigs);
  const all = defaultChain === null ? chains : [...chains, defaultChain];
  if (all.length === 0) throw new ConfigError(`${where}: no filter chains`);
  const withTls = all.filter((c) => c.tls !== null).length;
  if (withTls !== 0 && withTls !== all.length) {
    throw new ConfigError(`${where}: mixes TLS and cleartext filter chains, which is not supported`);
  }
  const requireCert = all.map((c) => c.tls?.requireClientCertificate ?? false);
  if (requireCert.some((r) => r !== requireCert[0])) {
    throw new ConfigError(`${where}: filter chains disagree on require_client_certificate`);
  }
  return new CompiledListener(listener.name, address, port, withTls !== 0, chains, defaultChain);
}
