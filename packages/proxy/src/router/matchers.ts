// Envoy's value matchers compiled once per config version: StringMatcher, HeaderMatcher and
// QueryParameterMatcher. Each compiles to a small class with one `match` method that switches on
// a kind fixed at compile time, so a route's matchers keep one shape whatever they match.
import { compileRegex } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import type { HeaderMap, RequestHead } from '../types.js';
import { configError } from './where.js';

/** A compiled RE2 pattern (re2js: linear time). */
export type Regex = Exclude<ReturnType<typeof compileRegex>, string>;

/** Patterns compiled by earlier route tables: a config update recompiles only new patterns. */
const compiled = new Map<string, Regex>();

/** At most this many patterns are kept; the cache starts over when full. */
const REGEX_CACHE_SIZE = 4096;

/**
 * Compiles an RE2 pattern or throws a `ConfigError` naming `where`. A compiled pattern holds no
 * per-match state (each match gets its own matcher), so tables of successive config versions
 * share it.
 */
export function regexOrThrow(pattern: string, where: string): Regex {
  let regex = compiled.get(pattern);
  if (regex !== undefined) return regex;
  const result = compileRegex(pattern);
  if (typeof result === 'string') throw configError(where, result);
  regex = result;
  if (compiled.size >= REGEX_CACHE_SIZE) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}

const EXACT = 0;
const PREFIX = 1;
const SUFFIX = 2;
const CONTAINS = 3;
const REGEX = 4;

/** Envoy's StringMatcher: `ignoreCase` applies to every kind but the regex, as in Envoy. */
export class StringMatch {
  readonly kind: number;
  /** Lower-cased when `ignoreCase`. */
  readonly value: string;
  readonly ignoreCase: boolean;
  readonly regex: Regex | null;

  constructor(config: model.StringMatcher, where: string) {
    const set = [config.exact, config.prefix, config.suffix, config.contains, config.safeRegex].filter(
      (v) => v !== undefined,
    ).length;
    if (set !== 1)
      throw configError(
        where,
        'a string matcher needs exactly one of exact, prefix, suffix, contains, safe_regex',
      );
    this.ignoreCase = config.ignoreCase && config.safeRegex === undefined;
    this.regex = null;
    let value: string;
    if (config.exact !== undefined) {
      this.kind = EXACT;
      value = config.exact;
    } else if (config.prefix !== undefined) {
      this.kind = PREFIX;
      value = config.prefix;
    } else if (config.suffix !== undefined) {
      this.kind = SUFFIX;
      value = config.suffix;
    } else if (config.contains !== undefined) {
      this.kind = CONTAINS;
      value = config.contains;
    } else {
      this.kind = REGEX;
      value = config.safeRegex as string;
      this.regex = regexOrThrow(value, `${where}.safe_regex`);
    }
    // Envoy requires a non-empty prefix, suffix and contains (proto validation: min_len 1).
    if (value === '' && (this.kind === PREFIX || this.kind === SUFFIX || this.kind === CONTAINS))
      throw configError(where, 'prefix, suffix and contains must not be empty');
    this.value = this.ignoreCase ? value.toLowerCase() : value;
  }

  match(input: string): boolean {
    const value = this.ignoreCase ? input.toLowerCase() : input;
    switch (this.kind) {
      case EXACT:
        return value === this.value;
      case PREFIX:
        return value.startsWith(this.value);
      case SUFFIX:
        return value.endsWith(this.value);
      case CONTAINS:
        return value.includes(this.value);
      default:
        return (this.regex as Regex).testExact(value);
    }
  }
}

const HEADER = 0;
const METHOD = 1;
const AUTHORITY = 2;
const PATH = 3;
const SCHEME = 4;
const NONE = 5;

/** Where a header matcher reads its value: a header, or one of the request's pseudo-headers. */
export function headerSource(name: string): number {
  switch (name) {
    case ':method':
      return METHOD;
    case ':authority':
      return AUTHORITY;
    case ':path':
      return PATH;
    case ':scheme':
      return SCHEME;
    default:
      return name.startsWith(':') ? NONE : HEADER;
  }
}

/**
 * A header's value as Envoy's matchers see it: several values joined with `,`
 * (`getAllOfHeaderAsString`), `undefined` when absent.
 */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return value;
  if (value.length === 0) return undefined;
  return value.length === 1 ? value[0] : value.join(',');
}

/** The value of a (pseudo-)header of a request for a header matcher. */
export function requestValue(request: RequestHead, source: number, name: string): string | undefined {
  switch (source) {
    case HEADER:
      return headerValue(request.headers, name);
    case METHOD:
      return request.method;
    case AUTHORITY:
      return request.authority;
    case PATH:
      return request.path;
    case SCHEME:
      return request.scheme;
    default:
      return undefined;
  }
}

const STRING = 0;
const PRESENT = 1;
const RANGE = 2;

// absl::SimpleAtoi: optional surrounding whitespace, an optional sign, decimal digits.
const INTEGER = /^\s*[+-]?\d+\s*$/;

/** Envoy's HeaderMatcher (route match, retriable headers). */
export class HeaderMatch {
  readonly name: string;
  readonly source: number;
  readonly kind: number;
  readonly string: StringMatch | null;
  readonly present: boolean;
  readonly start: number;
  readonly end: number;
  readonly invert: boolean;
  readonly treatMissingAsEmpty: boolean;

  constructor(config: model.HeaderMatcher, where: string) {
    if (typeof config.name !== 'string' || config.name === '')
      throw configError(where, 'a header matcher needs a name');
    this.name = config.name.toLowerCase();
    this.source = headerSource(this.name);
    this.invert = config.invertMatch;
    this.treatMissingAsEmpty = config.treatMissingHeaderAsEmpty;
    this.string = null;
    this.present = true;
    this.start = 0;
    this.end = 0;
    const set = [config.stringMatch, config.presentMatch, config.rangeMatch].filter(
      (v) => v !== undefined,
    ).length;
    if (set > 1)
      throw configError(where, 'a header matcher takes one of string_match, present_match, range_match');
    if (config.stringMatch) {
      this.kind = STRING;
      this.string = new StringMatch(config.stringMatch, `${where}.string_match`);
    } else if (config.rangeMatch) {
      this.kind = RANGE;
      const { start, end } = config.rangeMatch;
      if (!Number.isInteger(start) || !Number.isInteger(end) || end <= start)
        throw configError(
          `${where}.range_match`,
          `[${start}, ${end}) is not a range of integers with start < end`,
        );
      this.start = start;
      this.end = end;
    } else {
      // No specifier at all is a presence match in Envoy.
      this.kind = PRESENT;
      this.present = config.presentMatch ?? true;
    }
  }

  /** Whether `value` (the header's, `undefined` when absent) satisfies this matcher. */
  matchValue(value: string | undefined): boolean {
    if (value === undefined) {
      if (this.kind === PRESENT || !this.treatMissingAsEmpty) {
        // Envoy: an absent header matches only `present_match: false`, or `present_match: true`
        // inverted; every value matcher fails on it, inverted or not.
        return this.kind === PRESENT && this.present === this.invert;
      }
      value = '';
    }
    let match: boolean;
    switch (this.kind) {
      case STRING:
        match = (this.string as StringMatch).match(value);
        break;
      case RANGE: {
        if (!INTEGER.test(value)) {
          match = false;
          break;
        }
        const n = Number(value);
        match = n >= this.start && n < this.end;
        break;
      }
      default:
        match = this.present;
    }
    return match !== this.invert;
  }

  /** Matches a request's (pseudo-)header. */
  matchRequest(request: RequestHead): boolean {
    return this.matchValue(requestValue(request, this.source, this.name));
  }

  /** Matches a response's header, or its `:status`. */
  matchResponse(headers: HeaderMap, status: number): boolean {
    return this.matchValue(this.name === ':status' ? String(status) : headerValue(headers, this.name));
  }
}

/** Envoy's QueryParameterMatcher: the first value of a parameter, percent-decoded. */
export class QueryMatch {
  readonly name: string;
  readonly string: StringMatch | null;
  /** `present_match`: -1 not given, 0 must be absent, 1 must be present. */
  readonly present: number;

  constructor(config: model.QueryParameterMatcher, where: string) {
    if (typeof config.name !== 'string' || config.name === '')
      throw configError(where, 'a query parameter matcher needs a name');
    this.name = config.name;
    this.string = config.stringMatch ? new StringMatch(config.stringMatch, `${where}.string_match`) : null;
    this.present = config.presentMatch === undefined ? -1 : config.presentMatch ? 1 : 0;
    if (this.string && this.present !== -1)
      throw configError(where, 'a query parameter matcher takes one of string_match, present_match');
  }

  match(params: ReadonlyMap<string, string>): boolean {
    const value = params.get(this.name);
    if (this.present !== -1) return (value !== undefined) === (this.present === 1);
    if (value === undefined) return false;
    return this.string === null || this.string.match(value);
  }
}

const PERCENT = /%[0-9A-Fa-f]{2}/;

/** Envoy's PercentEncoding::decode: valid `%XX` escapes decoded as UTF-8 bytes, anything else kept. */
export function percentDecode(value: string): string {
  if (!PERCENT.test(value)) return value;
  const parts: Buffer[] = [];
  let last = 0;
  let i = value.indexOf('%');
  while (i >= 0 && i + 2 < value.length) {
    if (isHex(value.charCodeAt(i + 1)) && isHex(value.charCodeAt(i + 2))) {
      if (i > last) parts.push(Buffer.from(value.slice(last, i), 'utf8'));
      parts.push(Buffer.of(parseInt(value.slice(i + 1, i + 3), 16)));
      last = i + 3;
      i = value.indexOf('%', last);
    } else i = value.indexOf('%', i + 1);
  }
  if (last < value.length) parts.push(Buffer.from(value.slice(last), 'utf8'));
  return Buffer.concat(parts).toString('utf8');
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * The query parameters of a path as Envoy's route matching sees them
 * (`parseAndDecodeQueryString`): `&`-separated, names and values percent-decoded, the first value
 * of each name kept, a parameter without `=` has the value "".
 */
export function parseQuery(path: string): Map<string, string> {
  const params = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return params;
  let start = q + 1;
  const hash = path.indexOf('#', start);
  const stop = hash < 0 ? path.length : hash;
  while (start < stop) {
    let end = path.indexOf('&', start);
    if (end < 0 || end > stop) end = stop;
    const eq = path.indexOf('=', start);
    let name: string;
    let value: string;
    if (eq >= 0 && eq < end) {
      name = percentDecode(path.slice(start, eq));
      value = percentDecode(path.slice(eq + 1, end));
    } else {
      name = percentDecode(path.slice(start, end));
      value = '';
    }
    if (!params.has(name)) params.set(name, value);
    start = end + 1;
  }
  return params;
}
