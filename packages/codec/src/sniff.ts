import { InvalidArgumentError } from '@meshlet/errors';
import { bolt } from './bolt/bolt.js';
import { dubbo } from './dubbo/dubbo.js';
import type { MatchResult, Protocol } from './types.js';

/** What {@link sniff} recognised. */
export type SniffResult =
  | { readonly outcome: 'http1' | 'h2c' | 'tls' }
  | { readonly outcome: 'protocol'; readonly protocol: Protocol }
  | { readonly outcome: 'need-more' | 'unknown' };

/** Options of {@link sniff}. */
export interface SniffOptions {
  /** Stop waiting for bytes after this many and answer 'unknown' (default 64). */
  readonly maxBytes?: number;
}

const HTTP1: SniffResult = Object.freeze({ outcome: 'http1' });
const H2C: SniffResult = Object.freeze({ outcome: 'h2c' });
const TLS: SniffResult = Object.freeze({ outcome: 'tls' });
const NEED_MORE: SniffResult = Object.freeze({ outcome: 'need-more' });
const UNKNOWN: SniffResult = Object.freeze({ outcome: 'unknown' });

const kH2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
// RFC 9110 methods plus WebDAV's common ones; each followed by a space.
const kMethods: readonly Buffer[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
].map((m) => Buffer.from(`${m} `, 'latin1'));

const kDefaultProtocols: readonly Protocol[] = [bolt, dubbo];
const protocolResults = new WeakMap<Protocol, SniffResult>();

/** 'yes' when `bytes` start with `prefix`, 'need-more' when they are a proper prefix of it. */
function prefixMatch(bytes: Uint8Array, prefix: Uint8Array): MatchResult {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return 'no';
  return bytes.length >= prefix.length ? 'yes' : 'need-more';
}

function matchHttp1(bytes: Uint8Array): MatchResult {
  let result: MatchResult = 'no';
  for (const method of kMethods) {
    const m = prefixMatch(bytes, method);
    if (m === 'yes') return 'yes';
    if (m === 'need-more') result = 'need-more';
  }
  return result;
}

// A TLS record of type handshake (22), version 3.x, whose first message is a ClientHello (1).
function matchTls(bytes: Uint8Array): MatchResult {
  const n = bytes.length;
  if (n >= 1 && bytes[0] !== 0x16) return 'no';
  if (n >= 2 && bytes[1] !== 0x03) return 'no';
  if (n >= 3 && (bytes[2] as number) > 0x04) return 'no';
  if (n >= 6) return bytes[5] === 0x01 ? 'yes' : 'no';
  return 'need-more';
}

/**
 * Recognises the protocol of a connection from its first bytes: HTTP/1.x, the HTTP/2 preface
 * (h2c with prior knowledge), a TLS ClientHello, or one of `protocols` (default: Bolt and
 * Dubbo), in that order. Answers 'need-more' while the bytes are a prefix of something it
 * knows, until `maxBytes` have arrived; then 'unknown'.
 *
 * @example
 * ```ts
 * const seen = sniff(firstChunk, [bolt, dubbo, myProtocol]);
 * if (seen.outcome === 'protocol') serveRpc(socket, seen.protocol.createCodec());
 * ```
 */
export function sniff(
  bytes: Uint8Array,
  protocols: readonly Protocol[] = kDefaultProtocols,
  options?: SniffOptions,
): SniffResult {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('sniff: bytes must be a Uint8Array');
  const maxBytes = options?.maxBytes ?? 64;
  let needMore = false;
  // The h2 preface starts with "PRI ", which no HTTP/1 method does: check it first.
  const h2 = prefixMatch(bytes, kH2Preface);
  if (h2 === 'yes') return H2C;
  if (h2 === 'need-more') needMore = true;
  const http1 = matchHttp1(bytes);
  if (http1 === 'yes') return HTTP1;
  if (http1 === 'need-more') needMore = true;
  const tls = matchTls(bytes);
  if (tls === 'yes') return TLS;
  if (tls === 'need-more') needMore = true;
  for (const protocol of protocols) {
    const m = protocol.match(bytes);
    if (m === 'yes') {
      let result = protocolResults.get(protocol);
      if (result === undefined) {
        result = Object.freeze({ outcome: 'protocol', protocol });
        protocolResults.set(protocol, result);
      }
      return result;
    }
    if (m === 'need-more' && bytes.length < protocol.matchBytes) needMore = true;
  }
  return needMore && bytes.length < maxBytes ? NEED_MORE : UNKNOWN;
}
