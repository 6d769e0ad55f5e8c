// Compiles a config snapshot's listeners into what the listeners run: filter chains with their
// connection managers (route tables, filter chains, router filter) or their network filter's
// handler (`tcp_proxy`, `rpc_proxy`), TLS contexts, limits, and protocol inspection.
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
  DEFAULT_LISTENER_FILTERS_TIMEOUT_MS,
  type ChainTls,
  type ProtocolInspection,
  type ServerLimits,
} from '../listener/filter-chains.js';
import { compileRpcProxy } from '../rpc/index.js';
import { compileTcpProxy } from '../tcp/index.js';
import type {
  ClusterManager,
  ConnectionHandler,
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

function checkMatch(
  match: model.FilterChainMatch,
  hasTls: boolean,
  inspected: ReadonlySet<string> | null,
  where: string,
): void {
  const unsupported: string[] = [];
  if (match.destinationPort !== undefined) unsupported.push('destination_port');
  if (match.prefixRanges.length > 0) unsupported.push('prefix_ranges');
  if (match.sourceType !== 'ANY') unsupported.push('source_type');
  if (match.sourcePrefixRanges.length > 0) unsupported.push('source_prefix_ranges');
  if (match.directSourcePrefixRanges.length > 0) unsupported.push('direct_source_prefix_ranges');
  if (match.sourcePorts.length > 0) unsupported.push('source_ports');
  if (unsupported.length > 0) {
    throw new ConfigError(
      `${where}: filter_chain_match.${unsupported.join(', ')} not supported (only server_names, transport_protocol and application_protocols)`,
    );
  }
  // On TLS the ALPN decides; on cleartext a listener filter must name what it may sniff.
  if (!hasTls && match.applicationProtocols.length > 0) {
    const unknown = match.applicationProtocols.filter((p) => inspected?.has(p) !== true);
    if (unknown.length > 0) {
      throw new ConfigError(
        inspected === null
          ? `${where}: filter_chain_match.application_protocols on a cleartext chain needs an http_inspector or protocol_inspector listener filter`
          : `${where}: filter_chain_match.application_protocols ${unknown.map((p) => `"${p}"`).join(', ')}: no listener filter of this listener recognises it (known: ${[...inspected].join(', ')})`,
      );
    }
  }
  if (match.transportProtocol === 'tls' && !hasTls) {
    throw new ConfigError(`${where}: transport_protocol "tls" on a chain without TLS termination`);
  }
  if (match.transportProtocol === 'raw_buffer' && hasTls) {
    throw new ConfigError(`${where}: transport_protocol "raw_buffer" on a chain with TLS termination`);
  }
}

/** A network chain's terminal filter, compiled: its handler, and the chain's one observer. */
function compileNetworkChain(
  filter: model.TcpProxyFilter | model.RpcProxyFilter,
  chain: model.FilterChain,
  listenerName: string,
  ctx: CompileContext,
  tlsConfig: ChainTls | null,
): CompiledFilterChain {
  const observer = ctx.observer({
    listenerName,
    chainName: chain.name,
    kind: filter.kind === 'tcp_proxy' ? 'tcp' : 'rpc',
    statPrefix: filter.config.statPrefix,
    filter,
  });
  // The handler asks for its chain's observer too (for its streams): it gets this same one.
  const handlerCtx: CompileContext = { ...ctx, observer: () => observer };
  const names = { listenerName, chainName: chain.name };
  const handler: ConnectionHandler =
    filter.kind === 'tcp_proxy'
      ? compileTcpProxy(filter, names, handlerCtx)
      : compileRpcProxy(filter, names, handlerCtx);
  return new CompiledFilterChain(
    chain.name,
    chain.filterChainMatch.serverNames,
    { handler, observer },
    'AUTO',
    NETWORK_LIMITS,
    tlsConfig,
    chain.filterChainMatch.applicationProtocols,
  );
}

/** Network chains run no node:http server: these limits are never read. */
export const NETWORK_LIMITS: ServerLimits = {
  maxHeaderSize: 0,
  requestTimeoutMs: 0,
  headersTimeoutMs: 0,
  idleTimeoutMs: 0,
  streamIdleTimeoutMs: 0,
  maxHeadersCount: 0,
  maxRequestsPerConnection: 0,
  maxConcurrentStreams: undefined,
  initialStreamWindowSize: undefined,
  initialConnectionWindowSize: undefined,
};

function compileChain(
  chain: model.FilterChain,
  listenerName: string,
  ctx: CompileContext,
  routeConfigs: ReadonlyMap<string, model.RouteConfiguration>,
  inspected: ReadonlySet<string> | null,
): CompiledFilterChain {
  const where = `listener "${listenerName}" filter_chain "${chain.name}"`;
  const tlsConfig = chain.tls === undefined ? null : compileTls(chain.tls, where);
  checkMatch(chain.filterChainMatch, tlsConfig !== null, inspected, where);
  const last = chain.filters[chain.filters.length - 1];
  if (chain.filters.length !== 1 || last === undefined) {
    const kinds = chain.filters.map((f) => f.kind).join(', ') || 'none';
    throw new ConfigError(
      `${where}: @meshlet/proxy serves one terminal network filter per filter chain: http_connection_manager, tcp_proxy or rpc_proxy (got: ${kinds})`,
    );
  }
  if (last.kind !== 'http_connection_manager') {
    return compileNetworkChain(last, chain, listenerName, ctx, tlsConfig);
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
    chain.filterChainMatch.applicationProtocols,
  );
}

/**
 * The protocol inspection the listener filters ask for (`http_inspector`, `protocol_inspector`),
 * `null` without them; with the application protocols they can name.
 */
function inspectionOf(
  listener: model.Listener,
  ctx: CompileContext,
  where: string,
): { inspection: ProtocolInspection | null; names: ReadonlySet<string> | null } {
  let http = false;
  let protocols: model.ListenerFilter['protocols'] | 'none' = 'none';
  for (const f of listener.listenerFilters) {
    if (f.kind === 'http_inspector') http = true;
    else if (f.kind === 'protocol_inspector') {
      http = true;
      protocols = f.protocols;
    }
  }
  if (!http) return { inspection: null, names: null };
  const chosen =
    protocols === 'none'
      ? []
      : protocols === undefined
        ? [...ctx.protocols.values()]
        : protocols.map((name) => {
            const protocol = ctx.protocols.get(name);
            if (protocol === undefined) {
              throw new ConfigError(
                `${where}: protocol_inspector names protocol "${name}", which the proxy does not know (known: ${[...ctx.protocols.keys()].join(', ')})`,
              );
            }
            return protocol;
          });
  const timeoutMs = listener.listenerFiltersTimeoutMs ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS;
  return {
    inspection: {
      protocols: chosen,
      timeoutMs,
      continueOnTimeout: listener.continueOnListenerFiltersTimeout ?? false,
    },
    names: new Set(['http/1.1', 'h2c', ...chosen.map((p) => p.name)]),
  };
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
    // TLS inspection is built in (SNI callback, ALPN); HTTP and protocol inspection sniff.
    if (f.kind === 'original_dst')
      throw new ConfigError(`${where}: listener filter "${f.name}" (original_dst) is not supported`);
  }
  const { inspection, names } = inspectionOf(listener, ctx, where);
  const chains = listener.filterChains.map((c) => compileChain(c, listener.name, ctx, routeConfigs, names));
  const defaultChain =
    listener.defaultFilterChain === undefined
      ? null
      : compileChain(listener.defaultFilterChain, listener.name, ctx, routeConfigs, names);
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
  return new CompiledListener(
    listener.name,
    address,
    port,
    withTls !== 0,
    chains,
    defaultChain,
    withTls !== 0 ? null : inspection,
    listener.perConnectionBufferLimitBytes,
  );
}
