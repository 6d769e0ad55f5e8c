// The HTTP connection manager (Envoy's HCM) of one filter chain and config version: it turns a
// node:http request or node:http2 stream into an HttpStream, applies the connection manager's
// header rules, matches the route, runs the filter chain and hands the stream to the router filter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type * as model from '@meshlet/xds';
import type { FilterChainPlan } from '../filters/chain.js';
import type { OverloadState } from '../overload/overload-state.js';
import type { DownstreamConnection, ConnectionInfoImpl } from '../listener/connection.js';
import type { HeaderMap, RouteTable, RouterFilter, StreamObserver } from '../types.js';
import { H1Stream, H1UpgradeStream } from './h1-stream.js';
import { FastH1Stream, type ArrivingBody, type FastH1Output } from './h1-fast-stream.js';
import { H2Stream } from './h2-stream.js';
import {
  forwardableRequestHeaders,
  isHopByHop,
  isInternalRequest,
  sanitizeExternal,
  stripHopByHop,
  trustedClientAddress,
} from './headers.js';
import { RequestHeadImpl, type StreamInfoImpl } from './stream-info.js';
import type { HttpStream } from './stream.js';

/** Clock, randomness, ids and error reporting for streams. */
export interface ConnectionManagerEnv {
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** Milliseconds since the epoch. */
  readonly wallNow: () => number;
  /** A float in [0, 1). */
  readonly random: () => number;
  /** A new `x-request-id`. */
  readonly requestId: () => string;
  /** A filter or the router failed: the stream got a 500 or a reset; this reports why. */
  readonly onError: (error: unknown, where: string) => void;
  /** The overload manager's state, when one is configured. */
  readonly overload?: OverloadState;
}

/** Envoy's local reply to a request shed by `stop_accepting_requests`. */
const OVERLOADED: HeaderMap = Object.freeze({ 'x-envoy-overloaded': 'true', 'content-type': 'text/plain' });

/** Envoy's default `max_headers_count`. */
export const DEFAULT_MAX_HEADERS_COUNT = 100;

/** The parts of a connection manager, compiled by the config layer. */
export interface ConnectionManagerParts {
  readonly name: string;
  readonly config: model.HttpConnectionManager;
  readonly routeTable: RouteTable;
  readonly plan: FilterChainPlan;
  readonly router: RouterFilter;
  readonly env: ConnectionManagerEnv;
  /** Stats, access logs and tracing of this chain. */
  readonly observer: StreamObserver;
}

/** One connection manager: a filter chain's HTTP handling for one config version. */
export class HttpConnectionManager {
  readonly name: string;
  readonly config: model.HttpConnectionManager;
  readonly routeTable: RouteTable;
  readonly plan: FilterChainPlan;
  readonly router: RouterFilter;
  readonly env: ConnectionManagerEnv;
  readonly observer: StreamObserver;
  readonly serverName: string;
  readonly maxHeadersCount: number;
  /** HTTP/1 requests a connection serves before it is closed; 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  /** Streams begun and not yet complete. */
  activeStreams = 0;
  private readonly upgrades: ReadonlyMap<string, boolean>;
  private readonly underscores: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';

  constructor(parts: ConnectionManagerParts) {
    this.name = parts.name;
    this.config = parts.config;
    this.routeTable = parts.routeTable;
    this.plan = parts.plan;
    this.router = parts.router;
    this.env = parts.env;
    this.observer = parts.observer;
    this.serverName = parts.config.serverName;
    this.maxHeadersCount =
      parts.config.commonHttpProtocolOptions.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT;
    this.underscores = parts.config.commonHttpProtocolOptions.headersWithUnderscoresAction;
    this.maxRequestsPerConnection = parts.config.commonHttpProtocolOptions.maxRequestsPerConnection ?? 0;
    const upgrades = new Map<string, boolean>();
    for (const u of parts.config.upgradeConfigs) upgrades.set(u.upgradeType.toLowerCase(), u.enabled);
    this.upgrades = upgrades;
  }

  /** An HTTP/1 request from node:http. */
  handleH1(req: IncomingMessage, res: ServerResponse, downstream: DownstreamConnection): void {
    downstream.requests++;
    if (req.rawHeaders.length / 2 > this.maxHeadersCount) {
      rejectH1(res, 431);
      return;
    }
    if (hasSecondHost(req.rawHeaders)) {
      rejectH1(res, 400);
      return;
    }
    const request = this.h1Request(req.method, req.url, req.headers, downstream.info, false);
    if (request === null) {
      rejectH1(res, 400);
      return;
    }
    const headers = req.headers;
    const length = headers['content-length'];
    const hasBody = length !== undefined ? length !== '0' : headers['transfer-encoding'] !== undefined;
    // disable_http_keepalive: this response closes its connection (`Connection: close`).
    if (this.env.overload?.closeConnection(this.env.random) === true) res.shouldKeepAlive = false;
    const stream = new H1Stream(this, downstream, req, res, request, hasBody);
    this.begin(stream);
  }

  /**
   * An HTTP/1 request from the llhttp fast path (`http1-fast.ts`): the head already parsed,
   * `headers` merged as node:http merges them. Returns the stream, or `null` when the request was
   * refused here (the status to answer with is then in `refusal`).
   */
  handleFastH1(
    method: string,
    url: string,
    headers: HeaderMap,
    headerCount: number,
    versionMinor: number,
    body: ArrivingBody | null,
    downstream: DownstreamConnection,
    out: FastH1Output,
  ): FastH1Stream | number {
    downstream.requests++;
    if (headerCount > this.maxHeadersCount) return 431;
    const request = this.h1Request(method, url, headers, downstream.info, false);
    if (request === null) return 400;
    const stream = new FastH1Stream(
      this,
      downstream,
      versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
      request,
      body,
      out,
    );
    // disable_http_keepalive, as on node:http's path above.
    if (this.env.overload?.closeConnection(this.env.random) === true) stream.closeAfterResponse();
    this.begin(stream);
    return stream;
  }

  /** An HTTP/1.1 `Upgrade` request from node:http's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, downstream: DownstreamConnection): void {
    if (hasSecondHost(req.rawHeaders)) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.handleRawUpgrade(
      req.method,
      req.url,
      req.headers,
      req.rawHeaders.length / 2,
      req.httpVersionMinor,
      socket,
      head,
      downstream,
    );
  }

  /** An HTTP/1.1 `Upgrade` request, its head parsed (node:http or the fast path). */
  handleRawUpgrade(
    method: string | undefined,
    url: string | undefined,
    headers: HeaderMap,
    headerCount: number,
    versionMinor: number,
    socket: Duplex,
    head: Buffer,
    downstream: DownstreamConnection,
  ): void {
    if (headerCount > this.maxHeadersCount) {
      socket.end(
        'HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
      );
      return;
    }
    const request = this.h1Request(method, url, headers, downstream.info, true);
    if (request === null) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const protocol = versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
    this.begin(new H1UpgradeStream(this, downstream, protocol, socket, head, request));
  }

  /** An HTTP/2 stream from node:http2. */
  handleH2(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, connection: ConnectionInfoImpl): void {
    const map: HeaderMap = {};
    let count = 0;
    for (const name in headers) {
      if (name.charCodeAt(0) === 58 /* ':' */) continue;
      map[name] = headers[name];
      count++;
    }
    if (count > this.maxHeadersCount) {
      rejectH2(stream, 431);
      return;
    }
    const method = headers[':method'];
    const path = headers[':path'];
    const authority = headers[':authority'] ?? headers.host;
    if (
      typeof method !== 'string' ||
      typeof authority !== 'string' ||
      (typeof path !== 'string' && method !== 'CONNECT')
    ) {
      rejectH2(stream, 400);
      return;
    }
    if (map.host !== undefined) delete map.host;
    const scheme = connection.tls ? 'https' : 'http';
    const request = new RequestHeadImpl(method, scheme, authority, path ?? '', map);
    // disable_http_keepalive on HTTP/2: GOAWAY, the connection closes once its streams are done.
    if (this.env.overload?.closeConnection(this.env.random) === true) stream.session?.close();
    this.begin(new H2Stream(this, connection, stream, request));
  }

  private h1Request(
    method: string | undefined,
    url: string | undefined,
    headers: HeaderMap,
    connection: ConnectionInfoImpl,
    upgrade: boolean,
  ): RequestHeadImpl | null {
    let authority = headers.host;
    let path = url ?? '/';
    if (path.charCodeAt(0) !== 47 /* '/' */ && path !== '*') {
      // Absolute form (`GET http://host/path`): the authority comes from the target.
      const match = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(path);
      if (match === null) return null;
      authority = match[1];
      path = match[2] === '' ? '/' : (match[2] as string);
    }
    if (typeof authority !== 'string') return null;
    return new RequestHeadImpl(
      method ?? 'GET',
      connection.tls ? 'https' : 'http',
      authority,
      path,
      forwardableRequestHeaders(headers, upgrade),
    );
  }

  /** Runs a new stream: observed, header checks, then the filter chain (listeners and the egress). */
  begin(stream: HttpStream): void {
    this.activeStreams++;
    this.observer.streamStarted(stream);
    if (this.env.overload?.stopAcceptingRequests === true) {
      stream.info.responseFlags.add('OL');
      stream.info.responseCodeDetails = 'overload';
      stream.reply(503, 'envoy overloaded', OVERLOADED);
      return;
    }
    if (this.underscores !== 'ALLOW' && this.rejectsUnderscores(stream.request.headers)) {
      stream.info.responseCodeDetails = 'http1.unexpected_underscore';
      stream.reply(400);
      return;
    }
    stream.start();
  }

  /** `headersWithUnderscoresAction`: true to reject the request; drops the headers otherwise. */
  private rejectsUnderscores(headers: HeaderMap): boolean {
    for (const name in headers) {
      if (!name.includes('_')) continue;
      if (this.underscores === 'REJECT_REQUEST') return true;
      Reflect.deleteProperty(headers, name);
    }
    return false;
  }

  /**
   * The connection manager's header rules on a new request, in place: hop-by-hop headers out,
   * x-forwarded-for / x-forwarded-proto, x-request-id. Returns the request id.
   */
  prepareRequest(
    request: RequestHeadImpl,
    connection: ConnectionInfoImpl,
    info: StreamInfoImpl,
    upgrade: boolean,
  ): string {
    const headers = request.headers;
    stripHopByHop(headers, upgrade);
    const config = this.config;
    if (config.normalizePath || config.mergeSlashes) request.path = normalizedPath(request.path, config);
    const peer = connection.remoteAddress;
    const xff = headers['x-forwarded-for'];
    // Envoy's default `forward_client_cert_details: SANITIZE`, for every request: a client's
    // x-forwarded-client-cert would claim a TLS client identity to the upstream it never proved.
    if (headers['x-forwarded-client-cert'] !== undefined)
      Reflect.deleteProperty(headers, 'x-forwarded-client-cert');
    // Envoy's header sanitizing: an external client cannot set what only a trusted hop may.
    if (isInternalRequest(xff, peer, config.useRemoteAddress)) {
      if (config.useRemoteAddress) headers['x-envoy-internal'] = 'true';
    } else sanitizeExternal(headers);
    info.downstreamRemoteAddress = trustedClientAddress(
      xff,
      peer,
      config.useRemoteAddress,
      config.xffNumTrustedHops,
    );
    if (config.useRemoteAddress) {
      headers['x-forwarded-for'] =
        xff === undefined ? peer : `${typeof xff === 'string' ? xff : xff.join(', ')}, ${peer}`;
      headers['x-forwarded-proto'] = request.scheme;
    } else {
      const xfp = headers['x-forwarded-proto'];
      if (xfp === 'http' || xfp === 'https') request.scheme = xfp;
      else headers['x-forwarded-proto'] = request.scheme;
    }
    const id = headers['x-request-id'];
    if (typeof id === 'string' && id !== '') return id;
    if (!config.generateRequestId) return '';
    const generated = this.env.requestId();
    headers['x-request-id'] = generated;
    return generated;
  }

  /** Whether the upgrade a stream asks for is enabled on its route, else on this connection manager. */
  upgradeAllowed(stream: HttpStream): boolean {
    const type = stream.request.headers.upgrade;
    if (typeof type !== 'string') return false;
    const name = type.toLowerCase();
    const onRoute = stream.route?.action?.upgrades.get(name);
    return onRoute ?? this.upgrades.get(name) ?? false;
  }

  /** Response headers never sent downstream: hop-by-hop ones. */
  isHopByHopResponseHeader(name: string): boolean {
    return isHopByHop(name);
  }

  /** A stream completed. */
  streamDone(stream: HttpStream): void {
    this.activeStreams--;
    this.observer.streamEnded(stream);
  }
}

/**
 * `normalize_path` (RFC 3986 dot segments removed, as WHATWG URL parsing does) and
 * `merge_slashes`, on the path without its query.
 */
export function normalizedPath(
  path: string,
  config: { normalizePath: boolean; mergeSlashes: boolean },
): string {
  if (path.charCodeAt(0) !== 47 /* '/' */) return path;
  const q = path.indexOf('?');
  let p = q === -1 ? path : path.slice(0, q);
  const query = q === -1 ? '' : path.slice(q);
  if (config.mergeSlashes) p = p.replace(/\/{2,}/g, '/');
  // Parsed after an origin, so that a leading `//` is a path, never an authority (`new URL('//x',
  // base)` would read `x` as a host, and throw on `//`).
  if (config.normalizePath && !isNormalPath(p)) p = new URL(`http://normalize.invalid${p}`).pathname;
  return q === -1 ? p : p + query;
}

/**
 * Characters WHATWG URL parsing leaves as they are in a path (RFC 3986 unreserved, sub-delims,
 * `:` `@` `/`); not `%` (`%2e` is a dot segment) nor `\` (a slash to the parser).
 */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/**
 * Whether URL parsing would give `path` back unchanged: plain characters and no dot segment.
 * Most paths are: they skip `new URL`.
 */
function isNormalPath(path: string): boolean {
  return PLAIN_PATH.test(path) && !path.includes('/.');
}

/**
 * Whether the head carries more than one `Host` (RFC 9112 §3.2: a 400). node:http keeps the first
 * and drops the others, so a proxy and an upstream that keeps the last would route differently.
 */
export function hasSecondHost(raw: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

function rejectH1(res: ServerResponse, status: number): void {
  res.shouldKeepAlive = false;
  res.writeHead(status, ['content-length', '0', 'connection', 'close']);
  res.end();
}

function rejectH2(stream: ServerHttp2Stream, status: number): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': status, 'content-length': '0' }, { endStream: true });
}
