// Local replies as Envoy sends them: a plain-text body with its length, or for gRPC requests a
// trailers-only response whose grpc-status is mapped from the HTTP status.
import type { HeaderMap } from '../types.js';

/**
 * Envoy's (and gRPC's) HTTP status → gRPC status mapping for local replies
 * (`Grpc::Utility::httpToGrpcStatus`, grpc/doc/http-grpc-status-mapping.md).
 */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** Percent-encodes a grpc-message as the gRPC spec asks (printable ASCII except `%` stays). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The head and body of a local reply. */
export interface LocalReply {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Buffer | null;
}

/**
 * Builds a local reply. `headers` given by the caller win over the defaults; on a gRPC request
 * the reply is trailers-only (status 200, `grpc-status` from the HTTP status unless the caller
 * set one, `grpc-message` from the body).
 */
export function buildLocalReply(
  status: number,
  body: string | Buffer | undefined,
  headers: HeaderMap | undefined,
  grpc: boolean,
): LocalReply {
  const out: HeaderMap = {};
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined) out[name.toLowerCase()] = value;
    }
  }
  if (grpc) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : body.toString('utf8');
    out['content-type'] = 'application/grpc';
    out['grpc-status'] ??= String(httpToGrpcStatus(status));
    if (text !== '' && out['grpc-message'] === undefined) out['grpc-message'] = encodeGrpcMessage(text);
    return { status: 200, headers: out, body: null };
  }
  const bytes = body === undefined ? null : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const length = bytes === null ? 0 : bytes.length;
  if (length > 0) out['content-type'] ??= 'text/plain';
  out['content-length'] = String(length);
  return { status, headers: out, body: length > 0 ? bytes : null };
}
