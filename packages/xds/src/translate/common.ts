// Readers shared by the translators: canonical JSON (see proto/canonical.ts) to model pieces.
import type { Json, JsonObject } from '../proto/canonical.js';
import { type IssueList, field, index, snake } from '../issues.js';
import { compileRegex } from '../regex.js';
import { envoyRoot } from '../descriptor.js';
import type {
  Address,
  CidrRange,
  DataSource,
  FractionalPercent,
  HeaderMatcher,
  HeaderValueOption,
  Locality,
  Metadata,
  QueryParameterMatcher,
  StringMatcher,
} from '../types.js';

export type { Json, JsonObject };

const EMPTY: JsonObject = Object.freeze({});

export function obj(v: Json | undefined): JsonObject {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : EMPTY;
}
export function has(o: JsonObject, k: string): boolean {
  return o[k] !== undefined;
}
export function list(v: Json | undefined): JsonObject[] {
  return Array.isArray(v)
    ? (v.filter((x) => x && typeof x === 'object' && !Array.isArray(x)) as JsonObject[])
    : [];
}
export function strings(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
export function str(v: Json | undefined, def = ''): string {
  return typeof v === 'string' ? v : def;
}
export function num(v: Json | undefined, def: number): number {
  return typeof v === 'number' ? v : def;
}
export function optNum(v: Json | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
export function bool(v: Json | undefined, def = false): boolean {
  return typeof v === 'boolean' ? v : def;
}

/**
 * Rejects every field of `o` that is neither handled nor known to be harmless to ignore: a field
 * meshlet would silently not apply is an error naming it, never a surprise in production.
 */
export function only(
  o: JsonObject,
  issues: IssueList,
  path: string,
  handled: readonly string[],
  ignored: readonly string[] = [],
): void {
  for (const k of Object.keys(o)) {
    if (k === '@type' || handled.includes(k) || ignored.includes(k)) continue;
    issues.error(field(path, snake(k)), 'not supported by meshlet');
  }
}

/** Sets `target[k]` only when `v` is defined (exactOptionalPropertyTypes-friendly). */
export function put<T extends object, K extends keyof T>(target: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) target[k] = v;
}

export function regex(pattern: string, issues: IssueList, path: string): string | undefined {
  const r = compileRegex(pattern);
  if (typeof r === 'string') {
    issues.error(path, r);
    return undefined;
  }
  return pattern;
}

/** Envoy's RegexMatcher ({google_re2, regex}) to a pattern. */
export function regexMatcher(o: JsonObject, issues: IssueList, path: string): string | undefined {
  only(o, issues, path, ['regex'], ['googleRe2']);
  return regex(str(o.regex), issues, field(path, 'regex'));
}

export function stringMatcher(o: JsonObject, issues: IssueList, path: string): StringMatcher | undefined {
  only(o, issues, path, ['exact', 'prefix', 'suffix', 'contains', 'safeRegex', 'ignoreCase']);
  const m: { -readonly [K in keyof StringMatcher]: StringMatcher[K] } = { ignoreCase: bool(o.ignoreCase) };
  if (has(o, 'exact')) m.exact = str(o.exact);
  else if (has(o, 'prefix')) m.prefix = str(o.prefix);
  else if (has(o, 'suffix')) m.suffix = str(o.suffix);
  else if (has(o, 'contains')) m.contains = str(o.contains);
  else if (has(o, 'safeRegex')) {
    const r = regexMatcher(obj(o.safeRegex), issues, field(path, 'safe_regex'));
    if (r === undefined) return undefined;
    m.safeRegex = r;
  } else m.exact = ''; // Envoy: an empty matcher matches the empty string
  return m;
}

export function headerMatcher(o: JsonObject, issues: IssueList, path: string): HeaderMatcher | undefined {
  only(o, issues, path, [
    'name',
    'exactMatch',
    'safeRegexMatch',
    'rangeMatch',
    'presentMatch',
    'prefixMatch',
    'suffixMatch',
    'containsMatch',
    'stringMatch',
    'invertMatch',
    'treatMissingHeaderAsEmpty',
  ]);
  const m: { -readonly [K in keyof HeaderMatcher]: HeaderMatcher[K] } = {
    name: str(o.name).toLowerCase(),
    invertMatch: bool(o.invertMatch),
    treatMissingHeaderAsEmpty: bool(o.treatMissingHeaderAsEmpty),
  };
  if (!m.name) issues.error(field(path, 'name'), 'a header matcher needs a name');
  if (has(o, 'stringMatch')) {
    const s = stringMatcher(obj(o.stringMatch), issues, field(path, 'string_match'));
    if (!s) return undefined;
    m.stringMatch = s;
  } else if (has(o, 'exactMatch')) m.stringMatch = { exact: str(o.exactMatch), ignoreCase: false };
  else if (has(o, 'prefixMatch')) m.stringMatch = { prefix: str(o.prefixMatch), ignoreCase: false };
  else if (has(o, 'suffixMatch')) m.stringMatch = { suffix: str(o.suffixMatch), ignoreCase: false };
  else if (has(o, 'containsMatch')) m.stringMatch = { contains: str(o.containsMatch), ignoreCase: false };
  else if (has(o, 'safeRegexMatch')) {
    const r = regexMatcher(obj(o.safeRegexMatch), issues, field(path, 'safe_regex_match'));
    if (r === undefined) return undefined;
    m.stringMatch = { safeRegex: r, ignoreCase: false };
  } else if (has(o, 'rangeMatch')) {
    const r = obj(o.rangeMatch);
    m.rangeMatch = { start: num(r.start, 0), end: num(r.end, 0) };
  } else m.presentMatch = bool(o.presentMatch, true);
  return m;
}

export function queryParameterMatcher(
  o: JsonObject,
  issues: IssueList,
  path: string,
): QueryParameterMatcher | undefined {
  only(o, issues, path, ['name', 'stringMatch', 'presentMatch']);
  const m: { -readonly [K in keyof QueryParameterMatcher]: QueryParameterMatcher[K] } = { name: str(o.name) };
  if (has(o, 'stringMatch')) {
    const s = stringMatcher(obj(o.stringMatch), issues, field(path, 'string_match'));
    if (!s) return undefined;
    m.stringMatch = s;
  } else m.presentMatch = bool(o.presentMatch, true);
  return m;
}

export function headerValueOptions(
  v: Json | undefined,
  issues: IssueList,
  path: string,
): HeaderValueOption[] {
  const out: HeaderValueOption[] = [];
  list(v).forEach((o, i) => {
    const here = index(path, i);
    only(o, issues, here, ['header', 'append', 'appendAction', 'keepEmptyValue']);
    const h = obj(o.header);
    only(h, issues, field(here, 'header'), ['key', 'value'], []);
    const append = o.append;
    const action =
      typeof o.appendAction === 'string'
        ? (o.appendAction as HeaderValueOption['appendAction'])
        : append === false
          ? 'OVERWRITE_IF_EXISTS_OR_ADD'
          : 'APPEND_IF_EXISTS_OR_ADD';
    out.push({
      header: { key: str(h.key).toLowerCase(), value: str(h.value) },
      appendAction: action,
      keepEmptyValue: bool(o.keepEmptyValue),
    });
  });
  return out;
}

export function headerChanges(
  o: JsonObject,
  issues: IssueList,
  path: string,
): {
  requestHeadersToAdd: HeaderValueOption[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: HeaderValueOption[];
  responseHeadersToRemove: string[];
} {
  return {
    requestHeadersToAdd: headerValueOptions(
      o.requestHeadersToAdd,
      issues,
      field(path, 'request_headers_to_add'),
    ),
    requestHeadersToRemove: strings(o.requestHeadersToRemove).map((s) => s.toLowerCase()),
    responseHeadersToAdd: headerValueOptions(
      o.responseHeadersToAdd,
      issues,
      field(path, 'response_headers_to_add'),
    ),
    responseHeadersToRemove: strings(o.responseHeadersToRemove).map((s) => s.toLowerCase()),
  };
}
export const HEADER_CHANGE_FIELDS = [
  'requestHeadersToAdd',
  'requestHeadersToRemove',
  'responseHeadersToAdd',
  'responseHeadersToRemove',
] as const;

export function address(o: JsonObject, issues: IssueList, path: string): Address | undefined {
  if (has(o, 'socketAddress')) {
    const s = obj(o.socketAddress);
    const here = field(path, 'socket_address');
    only(s, issues, here, ['address', 'portValue', 'protocol', 'ipv4Compat'], ['resolverName']);
    if (has(s, 'namedPort'))
      issues.error(field(here, 'named_port'), 'named ports are not supported; use port_value');
    const port = num(s.portValue, 0);
    if (port < 0 || port > 65535) issues.error(field(here, 'port_value'), `port ${port} is out of range`);
    return {
      socketAddress: { address: str(s.address), port, protocol: s.protocol === 'UDP' ? 'UDP' : 'TCP' },
    };
  }
  if (has(o, 'pipe')) return { pipe: { path: str(obj(o.pipe).path) } };
  issues.error(
    path,
    has(o, 'envoyInternalAddress')
      ? 'internal addresses are not supported'
      : 'an address needs socket_address or pipe',
  );
  return undefined;
}

export function cidr(o: JsonObject): CidrRange {
  return { addressPrefix: str(o.addressPrefix), prefixLen: num(o.prefixLen, 0) };
}

export function metadata(v: Json | undefined): Metadata {
  const out: Metadata = {};
  const fm = obj(obj(v).filterMetadata);
  for (const k of Object.keys(fm)) out[k] = obj(fm[k]);
  return out;
}

export function locality(v: Json | undefined): Locality {
  const o = obj(v);
  return { region: str(o.region), zone: str(o.zone), subZone: str(o.subZone) };
}

const DENOMINATORS: Record<string, FractionalPercent['denominator']> = {
  HUNDRED: 100,
  TEN_THOUSAND: 10_000,
  MILLION: 1_000_000,
};

export function fractionalPercent(v: Json | undefined): FractionalPercent {
  const o = obj(v);
  return { numerator: num(o.numerator, 0), denominator: DENOMINATORS[str(o.denominator, 'HUNDRED')] ?? 100 };
}

/** A RuntimeFractionalPercent: the runtime key is ignored (meshlet has no runtime layer). */
export function runtimeFraction(v: Json | undefined): FractionalPercent {
  return fractionalPercent(obj(v).defaultValue);
}

export function dataSource(o: JsonObject, issues: IssueList, path: string): DataSource | undefined {
  if (has(o, 'filename')) return { filename: str(o.filename) };
  if (has(o, 'inlineString')) return { inlineString: str(o.inlineString) };
  if (has(o, 'inlineBytes')) return { inlineBytes: str(o.inlineBytes) };
  issues.error(
    path,
    has(o, 'environmentVariable')
      ? 'environment_variable data sources are not supported'
      : 'empty data source',
  );
  return undefined;
}

/**
 * A Struct-carried config (a TypedStruct's `value`) with its keys in camelCase: a Struct is plain
 * JSON, so nothing canonicalized it, and users write snake_case or camelCase there too.
 */
export function camelKeys(v: Json | undefined): Json {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v === undefined || v === null || typeof v !== 'object') return v ?? null;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v))
    out[k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())] = camelKeys(x);
  return out;
}

/** An `envoy.type.v3.HttpStatus` (its `code` is an enum named after the status) as a number. */
export function httpStatus(v: Json | undefined, def: number): number {
  const code = obj(v).code;
  if (typeof code === 'number') return code;
  if (typeof code !== 'string') return def;
  return envoyRoot().lookupEnum('envoy.type.v3.StatusCode').values[code] ?? def;
}
