// Envoy's redirect (`Http::Utility::newUri` after the route's path rewrite): scheme, host, port
// and path of the `location`, each taken from the redirect config or kept from the request.
import type * as model from '@meshlet/xds';
import type { RequestHead } from '../types.js';
import type { PathMatch } from './path-match.js';
import { RegexRewrite } from './regex-rewrite.js';
import { rewritePath } from './route-action.js';
import { at, configError } from './where.js';

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: ':80', https: ':443' };

/** Where a host's port starts (`:` included), or -1; IPv6 literals are in brackets. */
export function portStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return -1;
  const bracket = host.lastIndexOf(']');
  return bracket < 0 || bracket < colon ? colon : -1;
}

/** A compiled RedirectAction. */
export class Redirect {
  readonly status: number;
  private readonly scheme: string | undefined;
  private readonly host: string | undefined;
  /** `:port`, or '' when the port is not redirected. */
  private readonly port: string;
  private readonly path: string | undefined;
  private readonly pathHasQuery: boolean;
  private readonly prefixRewrite: string | undefined;
  private readonly regexRewrite: RegexRewrite | null;
  private readonly stripQuery: boolean;
  private readonly matcher: PathMatch;

  constructor(config: model.RedirectAction, matcher: PathMatch, where: string) {
    this.matcher = matcher;
    const codes = [301, 302, 303, 307, 308];
    if (!codes.includes(config.responseCode))
      throw configError(
        at(where, 'response_code'),
        `${config.responseCode} is not one of ${codes.join(', ')}`,
      );
    this.status = config.responseCode;
    if (config.httpsRedirect && config.schemeRedirect !== undefined)
      throw configError(where, 'https_redirect and scheme_redirect cannot both be set');
    const scheme = config.schemeRedirect?.toLowerCase() ?? (config.httpsRedirect ? 'https' : undefined);
    if (scheme !== undefined && !/^[a-z][a-z0-9+.-]*$/.test(scheme))
      throw configError(at(where, 'scheme_redirect'), `${JSON.stringify(scheme)} is not a URI scheme`);
    this.scheme = scheme;
    const rewrites = [config.pathRedirect, config.prefixRewrite, config.regexRewrite].filter(
      (v) => v !== undefined,
    ).length;
    if (rewrites > 1)
      throw configError(where, 'only one of path_redirect, prefix_rewrite, regex_rewrite may be set');
    if (
      config.portRedirect !== undefined &&
      (!Number.isInteger(config.portRedirect) || config.portRedirect < 1 || config.portRedirect > 65535)
    )
      throw configError(at(where, 'port_redirect'), `${config.portRedirect} is not a port`);
    const port = config.portRedirect === undefined ? '' : `:${config.portRedirect}`;
    let host = config.hostRedirect;
    if (host === '') throw configError(at(where, 'host_redirect'), 'must not be empty');
    // A redirected port replaces one written in host_redirect.
    if (host !== undefined && port !== '') {
      const p = portStart(host);
      if (p >= 0) host = host.slice(0, p);
    }
    this.host = host;
    this.port = port;
    this.path = config.pathRedirect;
    this.pathHasQuery = config.pathRedirect?.includes('?') ?? false;
    this.prefixRewrite = config.prefixRewrite;
    this.regexRewrite = config.regexRewrite
      ? new RegexRewrite(config.regexRewrite, at(where, 'regex_rewrite'))
      : null;
    this.stripQuery = config.stripQuery;
  }

  /** The redirect for one request. */
  build(request: RequestHead): { status: number; location: string } {
    const scheme = this.scheme ?? request.scheme;
    let port = this.port;
    let host: string;
    if (this.host !== undefined) host = this.host;
    else {
      host = request.authority;
      const p = portStart(host);
      if (p >= 0) {
        const requestPort = host.slice(p);
        // Envoy's processRequestHost: drop the request's port when the port is redirected, or
        // when the scheme changes and the port was the default of the old scheme.
        if (port !== '' || (scheme !== request.scheme && DEFAULT_PORT[request.scheme] === requestPort))
          host = host.slice(0, p);
      }
    }
    if (port !== '' && DEFAULT_PORT[scheme] === port) port = '';
    let path: string;
    if (this.path !== undefined) {
      // path_redirect's own query wins; otherwise the request's query is kept.
      if (this.pathHasQuery) path = this.path;
      else {
        const q = request.path.indexOf('?');
        path = q < 0 ? this.path : this.path + request.path.slice(q);
      }
    } else
      path = rewritePath(request.path, this.matcher, this.prefixRewrite, this.regexRewrite) ?? request.path;
    if (!path.startsWith('/')) path = `/${path}`;
    if (this.stripQuery && !this.pathHasQuery) {
      const q = path.indexOf('?');
      if (q >= 0) path = path.slice(0, q);
    }
    return { status: this.status, location: `${scheme}://${host}${port}${path}` };
  }
}
