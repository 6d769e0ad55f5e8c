// Header rules of the connection manager: hop-by-hop headers (RFC 9110 §7.6.1) never cross the
// proxy; x-forwarded-for / x-forwarded-proto follow Envoy's `use_remote_address` and
// `xff_num_trusted_hops`.
import type { HeaderMap } from '../types.js';

/** Connection-specific headers, dropped in both directions (HTTP/2 forbids them outright). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'http2-settings',
]);

/** Whether `name` (lower-case) is a hop-by-hop header. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

function joined(value: string | string[]): string {
  return typeof value === 'string' ? value : value.join(',');
}

/**
 * Removes hop-by-hop headers in place: the fixed list, and the headers the `Connection` header
 * names. `te` survives as `trailers` when the client asked for trailers (gRPC needs it); `upgrade`
 * survives when `keepUpgrade` (an upgrade the route allows).
 */
export function stripHopByHop(headers: HeaderMap, keepUpgrade: boolean): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of joined(connection).split(',')) {
      const name = token.trim().toLowerCase();
      // Never let Connection remove end-to-end headers the proxy itself relies on.
      if (name === '' || name === 'host' || name.startsWith(':')) continue;
      if (keepUpgrade && name === 'upgrade') continue;
      if (headers[name] !== undefined) Reflect.deleteProperty(headers, name);
    }
    delete headers.connection;
  }
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
  if (headers['http2-settings'] !== undefined) delete headers['http2-settings'];
  const te = headers.te;
  if (te !== undefined) {
    if (TE_TRAILERS.test(joined(te))) headers.te = 'trailers';
    else delete headers.te;
  }
  if (!keepUpgrade && headers.upgrade !== undefined) delete headers.upgrade;
}

const TE_TRAILERS = /(?:^|,)\s*trailers\s*(?:;|,|$)/i;

/**
 * The request headers to forward, copied in one pass: without `host` (the request's authority
 * carries it) and without hop-by-hop headers, by the rules of {@link stripHopByHop}. A copy rather
 * than `delete` on node's map: deleting turns an object into a slow dictionary for every later
 * read (route matching, filters, undici), and the copy keeps one hidden class per header set.
 */
export function forwardableRequestHeaders(headers: HeaderMap, keepUpgrade: boolean): HeaderMap {
  const connection = headers.connection;
  let named: string[] | null = null;
  if (connection !== undefined) {
    for (const token of joined(connection).split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '' || name === 'host' || name.startsWith(':')) continue;
      if (keepUpgrade && name === 'upgrade') continue;
      (named ??= []).push(name);
    }
  }
  const out: HeaderMap = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === 'host') continue;
    if (named?.includes(name) === true) continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te') {
        if (TE_TRAILERS.test(joined(value))) out.te = 'trailers';
      } else if (name === 'upgrade' && keepUpgrade) {
        out.upgrade = value;
      }
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** Parses an `x-forwarded-for` value into addresses, left to right. */
export function parseXff(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of joined(value).split(',')) {
    const address = part.trim();
    if (address !== '') out.push(address);
  }
  return out;
}

/**
 * The trusted client address, as Envoy computes it: with `useRemoteAddress` the peer unless
 * `trustedHops` > 0 (then the `trustedHops`-th address from the right of the incoming XFF);
 * without it, the (`trustedHops` + 1)-th from the right. The peer when XFF is too short.
 */
export function trustedClientAddress(
  xff: string | string[] | undefined,
  peer: string,
  useRemoteAddress: boolean,
  trustedHops: number,
): string {
  if (useRemoteAddress && trustedHops === 0) return peer;
  const list = parseXff(xff);
  const index = list.length - (useRemoteAddress ? trustedHops : trustedHops + 1);
  return index >= 0 && index < list.length ? (list[index] as string) : peer;
}

/**
 * Headers only a trusted hop may set (Envoy's header sanitizing): removed from external
 * requests, so a client cannot pose as internal (`x-envoy-internal` lifts a virtual host's
 * `require_tls: EXTERNAL_ONLY`) or steer the proxy's retries and timeouts.
 */
const SANITIZED: ReadonlySet<string> = new Set([
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-external-address',
  'x-envoy-force-trace',
  'x-envoy-internal',
  'x-envoy-ip-tags',
  'x-envoy-max-retries',
  'x-envoy-retry-grpc-on',
  'x-envoy-retry-on',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-stream-duration-ms',
]);

/** Removes the headers only a trusted hop may set (see {@link SANITIZED}); one pass, no allocation. */
export function sanitizeExternal(headers: HeaderMap): void {
  for (const name in headers) {
    if (name.charCodeAt(0) === 120 /* 'x' */ && SANITIZED.has(name)) Reflect.deleteProperty(headers, name);
  }
}

/**
 * An internal address, as Envoy's default `internal_address_config`: RFC 1918 (10/8, 172.16/12,
 * 192.168/16), RFC 4193 (fc00::/7) and loopback (127/8, ::1).
 */
export function isInternalAddress(address: string): boolean {
  if (address === '::1') return true;
  const first = address.charCodeAt(0);
  if (address.includes(':')) {
    // fc00::/7: the first byte is fc or fd.
    const lower = address.slice(0, 2).toLowerCase();
    return (lower === 'fc' || lower === 'fd') && address.indexOf(':') === 4;
  }
  if (first < 48 || first > 57) return false;
  const parts = address.split('.');
  if (parts.length !== 4) return false;
  const a = Number(parts[0]);
  const b = Number(parts[1]);
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/**
 * Whether a request is internal, as Envoy decides it from `x-forwarded-for`: with
 * `use_remote_address`, when the client sent no XFF and its address is internal; without, when
 * XFF holds exactly one address and it is internal.
 */
export function isInternalRequest(
  xff: string | string[] | undefined,
  peer: string,
  useRemoteAddress: boolean,
): boolean {
  if (useRemoteAddress) return xff === undefined && isInternalAddress(peer);
  const list = parseXff(xff);
  return list.length === 1 && isInternalAddress(list[0] as string);
}

/** An IPv4-mapped IPv6 address as its IPv4 form (`::ffff:127.0.0.1` → `127.0.0.1`). */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
