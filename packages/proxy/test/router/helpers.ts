// Builders of model objects with the defaults @meshlet/xds fills in, and of match inputs.
import type * as model from '@meshlet/xds';
import type { ConnectionInfo, HeaderMap, MatchInput, RequestHead } from '../../src/types.js';
import { action } from '../e2e/helpers.js';

export { action };

type Writable<T> = { -readonly [K in keyof T]: T[K] };

const NO_CHANGES: model.HeaderChanges = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};

export function routeMatch(match: Partial<model.RouteMatch> = {}): model.RouteMatch {
  const m: Writable<model.RouteMatch> = {
    caseSensitive: true,
    headers: [],
    queryParameters: [],
    grpc: false,
    ...match,
  };
  if (
    m.prefix === undefined &&
    m.path === undefined &&
    m.safeRegex === undefined &&
    m.pathSeparatedPrefix === undefined
  )
    m.prefix = '/';
  return m;
}

export function route(
  r: Partial<Omit<model.Route, 'match'>> & { match?: Partial<model.RouteMatch> } = {},
): model.Route {
  const { match, ...rest } = r;
  const out: Writable<model.Route> = {
    name: '',
    match: routeMatch(match),
    metadata: {},
    typedPerFilterConfig: {},
    ...NO_CHANGES,
    ...rest,
  };
  if (!out.route && !out.redirect && !out.directResponse) out.route = action({ cluster: 'default' });
  return out;
}

export function vhost(v: Partial<model.VirtualHost> = {}): model.VirtualHost {
  return {
    name: 'vh',
    domains: ['*'],
    routes: [route()],
    requireTls: 'NONE',
    typedPerFilterConfig: {},
    ...NO_CHANGES,
    ...v,
  };
}

export function routeConfig(c: Partial<model.RouteConfiguration> = {}): model.RouteConfiguration {
  return { name: 'main', virtualHosts: [vhost()], typedPerFilterConfig: {}, ...NO_CHANGES, ...c };
}

export function retryPolicy(p: Partial<model.RetryPolicy> = {}): model.RetryPolicy {
  return {
    retryOn: [],
    numRetries: 1,
    retriableStatusCodes: [],
    retriableHeaders: [],
    hostSelectionRetryMaxAttempts: 1,
    retryHostPredicates: [],
    ...p,
  };
}

export function header(
  name: string,
  value: string,
  appendAction: model.HeaderValueOption['appendAction'] = 'APPEND_IF_EXISTS_OR_ADD',
  keepEmptyValue = false,
): model.HeaderValueOption {
  return { header: { key: name, value }, appendAction, keepEmptyValue };
}

export function headerMatcher(m: Partial<model.HeaderMatcher> & { name: string }): model.HeaderMatcher {
  return { invertMatch: false, treatMissingHeaderAsEmpty: false, ...m };
}

export const connection: ConnectionInfo = {
  id: 1,
  listenerName: 'test',
  remoteAddress: '10.1.2.3',
  remotePort: 54321,
  localAddress: '10.0.0.1',
  localPort: 8080,
  tls: false,
  serverName: undefined,
  alpnProtocol: undefined,
};

export function request(r: Partial<RequestHead> & { headers?: HeaderMap } = {}): RequestHead {
  return { method: 'GET', scheme: 'http', authority: 'example.com', path: '/', headers: {}, ...r };
}

/** A match input with a fixed random value (or a sequence of them). */
export function input(
  r: Partial<RequestHead> & { headers?: HeaderMap } = {},
  random: number | (() => number) = 0.5,
): MatchInput {
  return { request: request(r), connection, random: typeof random === 'number' ? () => random : random };
}
