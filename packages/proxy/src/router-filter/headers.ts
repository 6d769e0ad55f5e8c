import type { HeaderMap } from '../types.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) that never cross the proxy, plus the ones Envoy strips.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/**
 * An upstream response head's headers without hop-by-hop ones: the fixed list and every header
 * the `Connection` header names. The map itself when it has none, else a copy made in one pass
 * (`delete` would turn it into a slow dictionary for every later read and for the write out).
 */
export function withoutHopByHop(headers: HeaderMap): HeaderMap {
  const connection = headers.connection;
  let named: string[] | null = null;
  if (connection !== undefined) {
    const value = typeof connection === 'string' ? connection : connection.join(',');
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      // Never let a `Connection` value remove an end-to-end header the proxy relies on.
      if (name !== '' && name !== 'content-length' && name !== 'content-type') (named ??= []).push(name);
    }
  } else {
    let clean = true;
    for (const name of HOP_BY_HOP) {
      if (headers[name] !== undefined) {
        clean = false;
        break;
      }
    }
    if (clean) return headers;
  }
  const out: HeaderMap = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.includes(name) === true) continue;
    out[name] = headers[name];
  }
  return out;
}

// The request headers undici refuses in `dispatch` (it writes them itself, or not at all).
const UNDICI_FORBIDDEN = [
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
] as const;

/**
 * The request headers as undici takes them: the map itself when it holds nothing undici refuses
 * (the common case, no copy), else a copy without those headers. `te: trailers` is kept, alone,
 * for HTTP/2 (gRPC needs it).
 */
export function upstreamHeaders(headers: HeaderMap, http2: boolean): HeaderMap {
  let clean = true;
  for (const name of UNDICI_FORBIDDEN) {
    if (headers[name] !== undefined) {
      clean = false;
      break;
    }
  }
  if (clean) return headers;
  const copy: HeaderMap = {};
  for (const name in headers) {
    if ((UNDICI_FORBIDDEN as readonly string[]).includes(name)) continue;
    copy[name] = headers[name];
  }
  if (http2 && headers.te === 'trailers') copy.te = 'trailers';
  return copy;
}

const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/**
 * Parses a `grpc-timeout` header value (`10S`, `100m`, `5M`: at most 8 digits and one unit of
 * `H M S m u n`) into milliseconds, rounded up; `undefined` when malformed.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = GRPC_TIMEOUT.exec(value);
  if (match === null) return undefined;
  return Math.ceil(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}
