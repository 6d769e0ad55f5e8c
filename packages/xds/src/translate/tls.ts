// TLS transport sockets (upstream and downstream) to the model. Secrets by SDS are not supported:
// meshlet reads certificates inline or from files.
import { type IssueList, field, index } from '../issues.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  CertificateValidation,
  DownstreamTls,
  StringMatcher,
  TlsCertificate,
  UpstreamTls,
} from '../types.js';
import {
  type JsonObject,
  bool,
  dataSource,
  has,
  list,
  obj,
  only,
  str,
  stringMatcher,
  strings,
} from './common.js';

function commonTls(
  o: JsonObject,
  issues: IssueList,
  path: string,
): { certificates: TlsCertificate[]; alpn: string[]; validation?: CertificateValidation } {
  only(
    o,
    issues,
    path,
    [
      'tlsCertificates',
      'alpnProtocols',
      'validationContext',
      'combinedValidationContext',
      'tlsCertificateSdsSecretConfigs',
      'validationContextSdsSecretConfig',
    ],
    ['tlsParams'],
  );
  if (has(o, 'tlsCertificateSdsSecretConfigs') || has(o, 'validationContextSdsSecretConfig'))
    issues.error(path, 'SDS secrets are not supported; give certificates inline or by file');
  const certificates: TlsCertificate[] = [];
  list(o.tlsCertificates).forEach((c, i) => {
    const here = index(field(path, 'tls_certificates'), i);
    const chain = dataSource(obj(c.certificateChain), issues, field(here, 'certificate_chain'));
    const key = dataSource(obj(c.privateKey), issues, field(here, 'private_key'));
    if (chain && key) certificates.push({ certificateChain: chain, privateKey: key });
  });
  const out: { certificates: TlsCertificate[]; alpn: string[]; validation?: CertificateValidation } = {
    certificates,
    alpn: strings(o.alpnProtocols),
  };
  let vc = obj(o.validationContext);
  let vcPath = field(path, 'validation_context');
  if (has(o, 'combinedValidationContext')) {
    vcPath = field(path, 'combined_validation_context');
    const c = obj(o.combinedValidationContext);
    if (has(c, 'validationContextSdsSecretConfig'))
      issues.error(field(vcPath, 'validation_context_sds_secret_config'), 'SDS secrets are not supported');
    vc = obj(c.defaultValidationContext);
  }
  if (has(o, 'validationContext') || has(o, 'combinedValidationContext')) {
    const matchers: StringMatcher[] = [];
    list(vc.matchSubjectAltNames).forEach((m, i) => {
      const s = stringMatcher(m, issues, index(field(vcPath, 'match_subject_alt_names'), i));
      if (s) matchers.push(s);
    });
    list(vc.matchTypedSubjectAltNames).forEach((m, i) => {
      const s = stringMatcher(
        obj(m.matcher),
        issues,
        index(field(vcPath, 'match_typed_subject_alt_names'), i),
      );
      if (s) matchers.push(s);
    });
    const validation: {
      trustedCa?: NonNullable<CertificateValidation['trustedCa']>;
      matchSubjectAltNames: StringMatcher[];
    } = { matchSubjectAltNames: matchers };
    if (has(vc, 'trustedCa')) {
      const ca = dataSource(obj(vc.trustedCa), issues, field(vcPath, 'trusted_ca'));
      if (ca) validation.trustedCa = ca;
    }
    out.validation = validation;
  }
  return out;
}

/** A transport_socket of a cluster: only TLS (and raw buffer) are known. */
export function upstreamTransportSocket(
  o: JsonObject,
  issues: IssueList,
  path: string,
): UpstreamTls | undefined | null {
  const tc = obj(o.typedConfig);
  const url = str(tc['@type']);
  if (!has(o, 'typedConfig') || url.endsWith('raw_buffer.v3.RawBuffer')) return null;
  if (url !== TYPE_URLS.upstreamTlsContext) {
    issues.error(field(path, 'typed_config'), `transport socket ${url} is not supported`);
    return undefined;
  }
  const here = field(path, 'typed_config');
  only(tc, issues, here, ['commonTlsContext', 'sni'], ['allowRenegotiation', 'maxSessionKeys']);
  const common = commonTls(obj(tc.commonTlsContext), issues, field(here, 'common_tls_context'));
  const out: { -readonly [K in keyof UpstreamTls]: UpstreamTls[K] } = {
    sni: str(tc.sni),
    alpnProtocols: common.alpn,
    certificates: common.certificates,
  };
  if (common.validation) out.validation = common.validation;
  return out;
}

/** A filter chain's transport_socket. */
export function downstreamTransportSocket(
  o: JsonObject,
  issues: IssueList,
  path: string,
): DownstreamTls | undefined | null {
  const tc = obj(o.typedConfig);
  const url = str(tc['@type']);
  if (!has(o, 'typedConfig') || url.endsWith('raw_buffer.v3.RawBuffer')) return null;
  if (url !== TYPE_URLS.downstreamTlsContext) {
    issues.error(field(path, 'typed_config'), `transport socket ${url} is not supported`);
    return undefined;
  }
  const here = field(path, 'typed_config');
  only(
    tc,
    issues,
    here,
    ['commonTlsContext', 'requireClientCertificate'],
    ['sessionTimeout', 'disableStatelessSessionResumption', 'requireSni', 'fullScanCertsOnSniMismatch'],
  );
  const common = commonTls(obj(tc.commonTlsContext), issues, field(here, 'common_tls_context'));
  const out: { -readonly [K in keyof DownstreamTls]: DownstreamTls[K] } = {
    certificates: common.certificates,
    alpnProtocols: common.alpn,
    requireClientCertificate: bool(tc.requireClientCertificate),
  };
  if (common.validation) out.validation = common.validation;
  return out;
}
