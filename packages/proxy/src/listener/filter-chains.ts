// A listener's filter chains for one config version, and how a connection picks one: by the
// SNI server name (exact, then the longest `*.suffix` wildcard), then a chain without server
// names, then the default chain (Envoy's FilterChainMatch, server names part).
import type { SecureContext, SecureContextOptions } from 'node:tls';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import type { StreamObserver } from '../types.js';

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

/** One filter chain, compiled: its connection manager, codec, limits and TLS. */
export class CompiledFilterChain {
  readonly name: string;
  readonly serverNames: readonly string[];
  readonly manager: HttpConnectionManager;
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
    manager: HttpConnectionManager,
    codec: 'AUTO' | 'HTTP1' | 'HTTP2',
    limits: ServerLimits,
    tls: ChainTls | null,
  ) {
    this.observer = manager.observer;
    this.name = name;
    this.serverNames = serverNames;
    this.manager = manager;
    this.codec = codec;
    this.limits = limits;
    this.limitsKey = JSON.stringify(limits);
    this.tls = tls;
  }

  /** The ALPN protocol to agree on among the client's, or `undefined` to refuse. */
  chooseAlpn(offered: readonly string[]): string | undefined {
    const accepted = this.tls?.alpnProtocols ?? [];
    const allowed = (p: string): boolean => accepted.length === 0 || accepted.includes(p);
    if (this.codec !== 'HTTP1' && offered.includes('h2') && allowed('h2')) return 'h2';
    if (this.codec !== 'HTTP2' && offered.includes('http/1.1') && allowed('http/1.1')) return 'http/1.1';
    return undefined;
  }
}

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
  private readonly exact = new Map<string, CompiledFilterChain>();
  private readonly wildcard = new Map<string, CompiledFilterChain>();
  private readonly catchAll: CompiledFilterChain | null;

  constructor(
    name: string,
    host: string,
    port: number,
    tls: boolean,
    chains: readonly CompiledFilterChain[],
    defaultChain: CompiledFilterChain | null,
  ) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.tls = tls;
    this.key = `${host}:${port}|${tls ? 'tls' : 'tcp'}`;
    this.chains = chains;
    this.requestClientCertificate = chains.some((c) => c.tls?.requireClientCertificate === true);
    let catchAll: CompiledFilterChain | null = null;
    for (const chain of chains) {
      if (chain.serverNames.length === 0) catchAll ??= chain;
      for (const name of chain.serverNames) {
        if (name.startsWith('*.')) {
          if (!this.wildcard.has(name.slice(1))) this.wildcard.set(name.slice(1), chain);
        } else if (!this.exact.has(name)) this.exact.set(name, chain);
      }
    }
    this.catchAll = catchAll ?? defaultChain;
  }

  /** The chain for a connection that asked for `serverName` (SNI), or `null` when none takes it. */
  select(serverName: string | undefined): CompiledFilterChain | null {
    if (serverName !== undefined && serverName !== '') {
      const name = serverName.toLowerCase();
      const exact = this.exact.get(name);
      if (exact !== undefined) return exact;
      // Most specific wildcard first: a.b.example.com tries .b.example.com, then .example.com.
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
        const chain = this.wildcard.get(name.slice(dot));
        if (chain !== undefined) return chain;
      }
    }
    return this.catchAll;
  }

  /** The chain whose certificate serves clients that send no SNI. */
  get defaultTlsChain(): CompiledFilterChain | null {
    return this.catchAll?.tls ? this.catchAll : (this.chains.find((c) => c.tls !== null) ?? null);
  }
}
