// A listener's filter chains for one config version, and how a connection picks one (Envoy's
// FilterChainMatch, server names then application protocols): the SNI server name (exact, then
// the longest `*.suffix` wildcard, then chains without server names); among the chains of that
// most specific server name, the one listing the connection's application protocol (sniffed by
// a listener filter on cleartext, the ALPN on TLS), then one listing none; else the default chain.
import type { SecureContext, SecureContextOptions } from 'node:tls';
import type { Protocol } from '@meshlet/codec';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import type { ConnectionHandler, StreamObserver } from '../types.js';

/** The node:http / node:http2 server settings of a filter chain's connection manager. */
export interface ServerLimits {
  /** `maxRequestHeadersKb` in bytes (node's `maxHeaderSize`). */
  readonly maxHeaderSize: number;
  /** `requestTimeoutMs`: the whole request must arrive within it; 0 = off. */
  readonly requestTimeoutMs: number;
  /** `requestHeadersTimeoutMs` (slowloris): the head must arrive within it. */
  readonly headersTimeoutMs: number;
  /** `commonHttpProtocolOptions.idleTimeoutMs`: a connection without requests closes. */
  readonly idleTimeoutMs: number;
  /** `streamIdleTimeoutMs`: a stream without activity either way is reset; 0 = off. */
  readonly streamIdleTimeoutMs: number;
  /** `commonHttpProtocolOptions.maxHeadersCount`. */
  readonly maxHeadersCount: number;
  /** `commonHttpProtocolOptions.maxRequestsPerConnection` (HTTP/1: then `Connection: close`); 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly maxConcurrentStreams: number | undefined;
  readonly initialStreamWindowSize: number | undefined;
  readonly initialConnectionWindowSize: number | undefined;
}

/** TLS termination of a filter chain. */
export interface ChainTls {
  readonly context: SecureContext;
  /** The options the context was made from (a listener's default context is set from them). */
  readonly options: SecureContextOptions;
  /** ALPN protocols this chain accepts (empty: any). */
  readonly alpnProtocols: readonly string[];
  readonly requireClientCertificate: boolean;
}

/**
 * One filter chain, compiled: either HTTP (its connection manager, codec and limits) or a
 * network filter (`tcp_proxy`, `rpc_proxy`: its connection handler); and its TLS.
 */
export class CompiledFilterChain {
  readonly name: string;
  readonly serverNames: readonly string[];
  /** `filter_chain_match.application_protocols` (empty: any). */
  readonly applicationProtocols: readonly string[];
  /** The connection manager of an HTTP chain, `null` for a network chain. */
  readonly manager: HttpConnectionManager | null;
  /** The handler of a network chain, `null` for an HTTP chain. */
  readonly handler: ConnectionHandler | null;
  readonly codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  readonly limits: ServerLimits;
  /** Chains with equal limits share node servers. */
  readonly limitsKey: string;
  readonly tls: ChainTls | null;
  /** Stats, access logs and tracing of this chain: sees its connections open and close. */
  readonly observer: StreamObserver;

  constructor(
    name: string,
    serverNames: readonly string[],
    terminal:
      HttpConnectionManager | { readonly handler: ConnectionHandler; readonly observer: StreamObserver },
    codec: 'AUTO' | 'HTTP1' | 'HTTP2',
    limits: ServerLimits,
    tls: ChainTls | null,
    applicationProtocols: readonly string[] = [],
  ) {
    this.observer = terminal.observer;
    this.name = name;
    this.serverNames = serverNames;
    this.applicationProtocols = applicationProtocols;
    if ('handler' in terminal) {
      this.manager = null;
      this.handler = terminal.handler;
    } else {
      this.manager = terminal;
      this.handler = null;
    }
    this.codec = codec;
    this.limits = limits;
    this.limitsKey = JSON.stringify(limits);
    this.tls = tls;
  }

  /** The ALPN protocol to agree on among the client's, or `undefined` to refuse. */
  chooseAlpn(offered: readonly string[]): string | undefined {
    const accepted = this.tls?.alpnProtocols ?? [];
    const allowed = (p: string): boolean => accepted.length === 0 || accepted.includes(p);
    if (this.handler !== null) {
      // A network chain speaks what it was configured for; with no opinion, the client's first.
      const wanted = accepted.length > 0 ? accepted : this.applicationProtocols;
      if (wanted.length === 0) return offered[0];
      return offered.find((p) => wanted.includes(p));
    }
    if (this.codec !== 'HTTP1' && offered.includes('h2') && allowed('h2')) return 'h2';
    if (this.codec !== 'HTTP2' && offered.includes('http/1.1') && allowed('http/1.1')) return 'http/1.1';
    return undefined;
  }
}

/**
 * How a cleartext listener learns a connection's application protocol before picking its chain:
 * Envoy's `http_inspector` (`http/1.1`, `h2c`) and meshlet's `protocol_inspector` (those, plus
 * the name of an RPC protocol recognised by its `match`), reading the first bytes.
 */
export interface ProtocolInspection {
  /** RPC protocols to recognise (empty for `http_inspector` alone). */
  readonly protocols: readonly Protocol[];
  /** Give up waiting for enough bytes after this long (`listener_filters_timeout`); 0 = never. */
  readonly timeoutMs: number;
  /** On that timeout, pick a chain without an application protocol instead of closing. */
  readonly continueOnTimeout: boolean;
}

/** Envoy's default `listener_filters_timeout` (15 s). */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

/** A listener's address and filter chains for one config version. */
export class CompiledListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `host:port|tls`: an update keeps the bound server when this is unchanged. */
  readonly key: string;
  readonly tls: boolean;
  readonly requestClientCertificate: boolean;
  readonly chains: readonly CompiledFilterChain[];
  /** Sniffing of cleartext connections (listener filters), `null` when none is configured. */
  readonly inspection: ProtocolInspection | null;
  /** `per_connection_buffer_limit_bytes`: the downstream sockets' buffer bound, if set. */
  readonly bufferLimitBytes: number | undefined;
  private readonly exact = new Map<string, CompiledFilterChain[]>();
  private readonly wildcard = new Map<string, CompiledFilterChain[]>();
  private readonly catchAll: CompiledFilterChain[] = [];
  private readonly defaultChain: CompiledFilterChain | null;

  constructor(
    name: string,
    host: string,
    port: number,
    tls: boolean,
    chains: readonly CompiledFilterChain[],
    defaultChain: CompiledFilterChain | null,
    inspection: ProtocolInspection | null = null,
    bufferLimitBytes?: number,
  ) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.tls = tls;
    this.key = `${host}:${port}|${tls ? 'tls' : 'tcp'}`;
    this.chains = chains;
    this.inspection = inspection;
    this.bufferLimitBytes = bufferLimitBytes;
    this.defaultChain = defaultChain;
    this.requestClientCertificate = chains.some((c) => c.tls?.requireClientCertificate === true);
    for (const chain of chains) {
      if (chain.serverNames.length === 0) this.catchAll.push(chain);
      for (const name of chain.serverNames) {
        const map = name.startsWith('*.') ? this.wildcard : this.exact;
        const key = name.startsWith('*.') ? name.slice(1) : name;
        const group = map.get(key);
        if (group === undefined) map.set(key, [chain]);
        else group.push(chain);
      }
    }
  }

  /**
   * The chain for a connection that asked for `serverName` (SNI) and speaks `protocol` (sniffed,
   * or the ALPN), or `null` when none takes it.
   */
  select(serverName: string | undefined, protocol?: string): CompiledFilterChain | null {
    return byProtocol(this.serverNameGroup(serverName), protocol) ?? this.defaultChain;
  }

  /** The chain for a TLS client offering these ALPN protocols (Envoy matches any of them). */
  selectOffered(serverName: string | undefined, offered: readonly string[]): CompiledFilterChain | null {
    const group = this.serverNameGroup(serverName);
    for (const chain of group) {
      if (chain.applicationProtocols.some((p) => offered.includes(p))) return chain;
    }
    return byProtocol(group, undefined) ?? this.defaultChain;
  }

  private serverNameGroup(serverName: string | undefined): readonly CompiledFilterChain[] {
    if (serverName !== undefined && serverName !== '') {
      const name = serverName.toLowerCase();
      const exact = this.exact.get(name);
      if (exact !== undefined) return exact;
      // Most specific wildcard first: a.b.example.com tries .b.example.com, then .example.com.
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
        const group = this.wildcard.get(name.slice(dot));
        if (group !== undefined) return group;
      }
    }
    return this.catchAll;
  }

  /** The chain whose certificate serves a client asking for `serverName` (before ALPN is known). */
  certificateChain(serverName: string | undefined): CompiledFilterChain | null {
    return this.select(serverName) ?? this.serverNameGroup(serverName)[0] ?? this.defaultTlsChain;
  }

  /** The chain whose certificate serves clients that send no SNI. */
  get defaultTlsChain(): CompiledFilterChain | null {
    const first = this.catchAll[0] ?? this.defaultChain;
    return first?.tls ? first : (this.chains.find((c) => c.tls !== null) ?? null);
  }
}

/** The chain of `group` listing `protocol`, else the first listing none. */
function byProtocol(
  group: readonly CompiledFilterChain[],
  protocol: string | undefined,
): CompiledFilterChain | undefined {
  let any: CompiledFilterChain | undefined;
  for (const chain of group) {
    if (chain.applicationProtocols.length === 0) any ??= chain;
    else if (protocol !== undefined && chain.applicationProtocols.includes(protocol)) return chain;
  }
  return any;
}
