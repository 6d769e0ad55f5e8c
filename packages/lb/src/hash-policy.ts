import { ConfigError } from '@meshlet/errors';
import { xxHash64 } from './xxhash64.js';

/**
 * One of Envoy's route hash policies (`RouteAction.HashPolicy`, in camelCase). `terminal: true`
 * stops at this policy when it (or one before it) produced a hash.
 */
export type HashPolicy =
  | { readonly header: { readonly headerName: string }; readonly terminal?: boolean }
  | { readonly cookie: { readonly name: string }; readonly terminal?: boolean }
  | { readonly connectionProperties: { readonly sourceIp: boolean }; readonly terminal?: boolean }
  | { readonly queryParameter: { readonly name: string }; readonly terminal?: boolean };

/** The parts of a request the hash policies read. Header names are lower case, as Node gives them. */
export interface HashableRequest {
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The downstream peer's IP address, without port. */
  readonly sourceIp?: string | undefined;
  /** The request target: path and query string (`/cart?user=42`). */
  readonly path?: string | undefined;
}

/** Computes a request's hash, or `null` when no policy found its input (the balancer then picks a random hash). */
export type RequestHasher = (request: HashableRequest) => bigint | null;

const MASK64 = (1n << 64n) - 1n;

const HEADER = 0;
const COOKIE = 1;
const SOURCE_IP = 2;
const QUERY = 3;

interface Compiled {
  readonly kind: number;
  readonly name: string;
  readonly terminal: boolean;
}

function headerValues(request: HashableRequest, name: string): readonly string[] | null {
  const value = request.headers?.[name];
  if (value === undefined) return null;
  if (typeof value === 'string') return [value];
  return Array.isArray(value) && value.length > 0 ? value : null;
}

/** Value of the first cookie called `name` in the request's Cookie header(s), unquoted (Envoy's parseCookieValue). */
export function cookieValue(request: HashableRequest, name: string): string | null {
  const headers = headerValues(request, 'cookie');
  if (!headers) return null;
  for (const header of headers) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
  }
  return null;
}

/** First value of query parameter `name` in `path`, undecoded as Envoy's parseQueryString gives it ("" when it has no `=`). */
export function queryParameter(path: string | undefined, name: string): string | null {
  if (path === undefined) return null;
  const q = path.indexOf('?');
  if (q < 0) return null;
  const hash = path.indexOf('#', q);
  const query = path.slice(q + 1, hash < 0 ? undefined : hash);
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key === name) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return null;
}

function evaluate(policy: Compiled, request: HashableRequest): bigint | null {
  switch (policy.kind) {
    case HEADER: {
      const values = headerValues(request, policy.name);
      if (!values) return null;
      // Envoy sorts the values, so their order does not change the hash, and feeds them to one
      // streaming XXH64: the hash of their concatenation.
      return xxHash64(values.length === 1 ? (values[0] as string) : [...values].sort().join(''));
    }
    case COOKIE: {
      const value = cookieValue(request, policy.name);
      return value === null ? null : xxHash64(value);
    }
    case SOURCE_IP:
      return typeof request.sourceIp === 'string' && request.sourceIp !== ''
        ? xxHash64(request.sourceIp)
        : null;
    default: {
      const value = queryParameter(request.path, policy.name);
      return value === null ? null : xxHash64(value);
    }
  }
}

function compile(policy: HashPolicy, i: number): Compiled {
  const where = `hashPolicy[${i}]`;
  if (typeof policy !== 'object' || (policy as unknown) === null)
    throw new ConfigError(`${where}: must be an object`);
  const terminal = policy.terminal === true;
  const kinds = ['header', 'cookie', 'connectionProperties', 'queryParameter'].filter((k) => k in policy);
  if (kinds.length !== 1) {
    throw new ConfigError(
      `${where}: must have exactly one of header, cookie, connectionProperties, queryParameter`,
    );
  }
  const name = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || value === '')
      throw new ConfigError(`${where}.${field}: must be a non-empty string`);
    return value;
  };
  if ('header' in policy)
    return {
      kind: HEADER,
      name: name(policy.header.headerName, 'header.headerName').toLowerCase(),
      terminal,
    };
  if ('cookie' in policy) return { kind: COOKIE, name: name(policy.cookie.name, 'cookie.name'), terminal };
  if ('queryParameter' in policy)
    return { kind: QUERY, name: name(policy.queryParameter.name, 'queryParameter.name'), terminal };
  const sourceIp: unknown = policy.connectionProperties.sourceIp;
  if (sourceIp !== true) {
    throw new ConfigError(`${where}.connectionProperties.sourceIp: must be true`);
  }
  return { kind: SOURCE_IP, name: '', terminal };
}

/**
 * Compiles Envoy route hash policies into a function from a request to its hash, for `pick({ hash })`
 * of `RING_HASH` and `MAGLEV`. Each policy that finds its input contributes `xxHash64(value)`;
 * several combine as Envoy does (`hash = rotl(hash, 1) ^ next`). A request where none finds its
 * input gets `null`, and the balancer then uses a random hash, never a constant one.
 *
 * @example
 * ```ts
 * const hashOf = createRequestHasher([{ header: { headerName: 'x-user' } }, { connectionProperties: { sourceIp: true } }]);
 * const host = lb.pick({ hash: hashOf({ headers: req.headers, sourceIp: req.socket.remoteAddress }) });
 * ```
 */
export function createRequestHasher(policies: readonly HashPolicy[]): RequestHasher {
  if (!Array.isArray(policies)) throw new ConfigError('hashPolicy: must be an array');
  const compiled = policies.map(compile);
  return (request: HashableRequest): bigint | null => {
    let hash: bigint | null = null;
    for (const policy of compiled) {
      const next = evaluate(policy, request);
      if (next !== null) {
        // Rotating the previous value keeps two identical rules from cancelling out.
        const previous: bigint = hash === null ? 0n : ((hash << 1n) | (hash >> 63n)) & MASK64;
        hash = previous ^ next;
      }
      if (policy.terminal && hash !== null) break;
    }
    return hash;
  };
}
