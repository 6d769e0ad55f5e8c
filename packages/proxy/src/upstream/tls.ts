// Upstream TLS (Envoy's UpstreamTlsContext) as node:tls connect options, built once per cluster.
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import type { buildConnector } from 'undici';
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import { compileStringMatcher, envoyMatcherErrors } from '../matchers/string-matcher.js';

/** What `tls.connect` gets for every connection of a cluster. */
export interface UpstreamTlsOptions {
  /** Fixed SNI (`sni`), or undefined: undici then sends the request's host (auto SNI) if it is a name. */
  readonly servername: string | undefined;
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  /** Envoy verifies the peer only when a validation context is given. */
  readonly rejectUnauthorized: boolean;
  readonly checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

/** Reads a DataSource: a file (read now, at config time), an inline string or inline base64 bytes. */
export function readDataSource(source: model.DataSource, field: string): string {
  if ('filename' in source) {
    try {
      return readFileSync(source.filename, 'utf8');
    } catch (err) {
      throw new ConfigError(`${field}: cannot read ${source.filename}`, { cause: err });
    }
  }
  if ('inlineString' in source) return source.inlineString;
  return Buffer.from(source.inlineBytes, 'base64').toString('utf8');
}

/** The subject alternative names of a certificate: DNS names, URIs and IP addresses. */
function subjectAltNames(cert: PeerCertificate): string[] {
  const out: string[] = [];
  const raw = cert.subjectaltname;
  if (!raw) return out;
  for (const part of raw.split(', ')) {
    const colon = part.indexOf(':');
    if (colon > 0) out.push(part.slice(colon + 1));
  }
  return out;
}

const ACCEPT = (): undefined => undefined;

/**
 * Compiles a cluster's TLS settings. As in Envoy: without a validation context the peer's
 * certificate is not verified; with `trusted_ca` the chain must verify; with
 * `match_subject_alt_names` one SAN must match one matcher. The server name is not compared with
 * the certificate (Envoy does not either; SAN matchers are how you pin the identity).
 */
export function compileUpstreamTls(cluster: string, tls: model.UpstreamTls): UpstreamTlsOptions {
  const field = `cluster ${JSON.stringify(cluster)} › transport_socket`;
  if (tls.certificates.length > 1) {
    throw new ConfigError(`${field} › tls_certificates: at most one client certificate is supported`);
  }
  const first = tls.certificates[0];
  const cert = first ? readDataSource(first.certificateChain, `${field} › certificate_chain`) : undefined;
  const key = first ? readDataSource(first.privateKey, `${field} › private_key`) : undefined;
  const validation = tls.validation;
  const ca = validation?.trustedCa
    ? readDataSource(validation.trustedCa, `${field} › validation_context.trusted_ca`)
    : undefined;
  const matchers = (validation?.matchSubjectAltNames ?? []).map((m, i) =>
    compileStringMatcher(
      envoyMatcherErrors,
      m,
      `${field} › validation_context.match_subject_alt_names[${i}]`,
    ),
  );
  const checkServerIdentity =
    matchers.length === 0
      ? ACCEPT
      : (_host: string, peer: PeerCertificate): Error | undefined => {
          const names = subjectAltNames(peer);
          for (const name of names) for (const m of matchers) if (m.match(name)) return undefined;
          return new Error(
            `upstream certificate SANs [${names.join(', ')}] match none of match_subject_alt_names`,
          );
        };
  return {
    servername: tls.sni === '' ? undefined : tls.sni,
    ca,
    cert,
    key,
    // With SAN matchers but no trusted_ca, the chain is verified against Node's default CAs.
    rejectUnauthorized: validation !== undefined,
    checkServerIdentity,
  };
}

/**
 * undici `connect` options for a cluster's TLS: verification, client certificate, CA, SNI; with
 * `h2`, HTTP/2 is offered first by ALPN and HTTP/1.1 taken if that is what the server picks.
 * Shared by the host pools and the health checkers' clients.
 */
export function tlsConnectOptions(tls: UpstreamTlsOptions, h2: boolean): buildConnector.BuildOptions {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    checkServerIdentity: tls.checkServerIdentity,
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    ...(h2 ? { preferH2: true } : {}),
  };
}
