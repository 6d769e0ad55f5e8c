// The route table's side of Envoy's value matchers: the shared StringMatcher and HeaderMatcher
// (src/matchers/) with errors in Envoy's field names, and QueryParameterMatcher with the query
// parsing it needs.
import type * as model from '@meshlet/xds';
import { CompiledHeaderMatcher } from '../matchers/header-matcher.js';
import { type Regex, cachedRegex } from '../matchers/regex-cache.js';
import {
  type CompiledStringMatcher,
  compileStringMatcher,
  envoyMatcherErrors,
} from '../matchers/string-matcher.js';
import { configError } from './where.js';

export type { Regex } from '../matchers/regex-cache.js';

/**
 * Compiles an RE2 pattern or throws a `ConfigError` naming `where`. Compiled patterns are shared
 * by the tables of successive config versions, so an update recompiles only new patterns.
 */
export function regexOrThrow(pattern: string, where: string): Regex {
  const regex = cachedRegex(pattern);
  if (typeof regex === 'string') throw configError(where, regex);
  return regex;
}

/** A HeaderMatcher of a route or a retry policy; errors name `where`. */
export function headerMatch(config: model.HeaderMatcher, where: string): CompiledHeaderMatcher {
  return new CompiledHeaderMatcher(envoyMatcherErrors, config, where);
}

/** Envoy's QueryParameterMatcher: the first value of a parameter, percent-decoded. */
export class QueryMatch {
  readonly name: string;
  readonly string: CompiledStringMatcher | null;
  /** `present_match`: -1 not given, 0 must be absent, 1 must be present. */
  readonly present: number;

  constructor(config: model.QueryParameterMatcher, where: string) {
    if (typeof config.name !== 'string' || config.name === '')
      throw configError(where, 'a query parameter matcher needs a name');
    this.name = config.name;
    this.string = config.stringMatch
      ? compileStringMatcher(envoyMatcherErrors, config.stringMatch, `${where}.string_match`)
      : null;
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
