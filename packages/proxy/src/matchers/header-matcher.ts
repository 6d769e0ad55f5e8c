// Envoy's HeaderMatcher over a request as the proxy sees it: header values joined with ","
// (Envoy's getAllOfHeaderAsString), the pseudo-headers `:method`, `:path`, `:authority` (also
// `host`, which the connection manager moves there) and `:scheme` read from the request head.
// One implementation for route matching, retriable headers and the built-in filters.
import type { HeaderMatcher } from '@meshlet/xds';
import type { HeaderMap, MatcherConfigErrors, RequestHead } from '../types.js';
import { type CompiledStringMatcher, compileStringMatcher, fieldOf, keyOf } from './string-matcher.js';

const FROM_HEADERS = 0;
const FROM_METHOD = 1;
const FROM_PATH = 2;
const FROM_AUTHORITY = 3;
const FROM_SCHEME = 4;
const FROM_NOTHING = 5;

const MATCH_STRING = 0;
const MATCH_PRESENT = 1;
const MATCH_RANGE = 2;

// absl::SimpleAtoi, as Envoy parses a range-matched value: optional blanks and sign, digits.
const DECIMAL = /^\s*[+-]?\d+\s*$/;

/** A header's value as Envoy's matchers see it: several values joined with ",", `undefined` when absent. */
export function joinedHeader(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined || typeof v === 'string') return v;
  if (v.length === 0) return undefined;
  return v.length === 1 ? v[0] : v.join(',');
}

/** Where a (lower-case) header name is read from: a header, or one of the request's pseudo-headers. */
export function headerSource(name: string): number {
  switch (name) {
    case ':method':
      return FROM_METHOD;
    case ':path':
      return FROM_PATH;
    case ':authority':
    case 'host':
      return FROM_AUTHORITY;
    case ':scheme':
      return FROM_SCHEME;
    default:
      return name.startsWith(':') ? FROM_NOTHING : FROM_HEADERS;
  }
}

/** The value of a request's (pseudo-)header, `source` from `headerSource(name)`; `undefined` when absent. */
export function requestValue(request: RequestHead, source: number, name: string): string | undefined {
  switch (source) {
    case FROM_HEADERS:
      return joinedHeader(request.headers, name);
    case FROM_METHOD:
      return request.method;
    case FROM_PATH:
      return request.path;
    case FROM_AUTHORITY:
      return request.authority;
    case FROM_SCHEME:
      return request.scheme;
    default:
      return undefined;
  }
}

/** A compiled Envoy HeaderMatcher (string, presence or range match, optionally inverted). */
export class CompiledHeaderMatcher {
  /** The header name, lower-cased. */
  readonly name: string;
  readonly source: number;
  readonly kind: number;
  readonly string: CompiledStringMatcher | null;
  readonly present: boolean;
  readonly start: number;
  readonly end: number;
  readonly invert: boolean;
  readonly missingAsEmpty: boolean;

  /** Compiles `config` (a model HeaderMatcher, or untrusted config of that shape) or throws the error `errors` makes. */
  constructor(errors: MatcherConfigErrors, config: unknown, field: string) {
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw errors.error(field, 'must be an object');
    const m = config as Partial<Record<keyof HeaderMatcher, unknown>>;
    const at = (key: string): string => fieldOf(errors, field, key);
    if (typeof m.name !== 'string') throw errors.error(at('name'), 'must be a string');
    if (m.name === '') throw errors.error(at('name'), 'must not be empty');
    this.name = m.name.toLowerCase();
    this.source = headerSource(this.name);
    this.invert = flag(errors, m.invertMatch, at('invertMatch'), false);
    this.missingAsEmpty = flag(errors, m.treatMissingHeaderAsEmpty, at('treatMissingHeaderAsEmpty'), false);
    const given =
      Number(m.stringMatch !== undefined) +
      Number(m.presentMatch !== undefined) +
      Number(m.rangeMatch !== undefined);
    if (given > 1)
      throw errors.error(
        field,
        `takes only one of ${keyOf(errors, 'stringMatch')}, ${keyOf(errors, 'presentMatch')}, ${keyOf(errors, 'rangeMatch')}`,
      );
    this.string = null;
    this.present = true;
    this.start = 0;
    this.end = 0;
    if (m.stringMatch !== undefined) {
      this.kind = MATCH_STRING;
      this.string = compileStringMatcher(errors, m.stringMatch, at('stringMatch'));
    } else if (m.rangeMatch !== undefined) {
      this.kind = MATCH_RANGE;
      const here = at('rangeMatch');
      const r: Partial<Record<'start' | 'end', unknown>> =
        typeof m.rangeMatch === 'object' && m.rangeMatch !== null ? m.rangeMatch : {};
      const { start, end } = r;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (end as number) <= (start as number))
        throw errors.error(
          here,
          `[${String(start)}, ${String(end)}) is not a range of integers with start < end`,
        );
      this.start = start as number;
      this.end = end as number;
    } else {
      // No specifier at all is a presence match, as in Envoy.
      this.kind = MATCH_PRESENT;
      this.present = flag(errors, m.presentMatch, at('presentMatch'), true);
    }
  }

  /** Whether the request's header (or pseudo-header) satisfies this matcher. */
  matches(request: RequestHead): boolean {
    return this.matchValue(requestValue(request, this.source, this.name));
  }

  /** Whether a response's header, or its `:status`, satisfies this matcher (retriable headers). */
  matchResponse(headers: HeaderMap, status: number): boolean {
    return this.matchValue(this.name === ':status' ? String(status) : joinedHeader(headers, this.name));
  }

  /** Whether a value (`undefined`: the header is absent) satisfies this matcher. */
  matchValue(value: string | undefined): boolean {
    if (value === undefined) {
      // Envoy: an absent header fails every value matcher, inverted or not, unless
      // treat_missing_header_as_empty; a presence matcher compares presence.
      if (this.kind === MATCH_PRESENT) return !this.present !== this.invert;
      if (!this.missingAsEmpty) return false;
      value = '';
    }
    let hit: boolean;
    if (this.kind === MATCH_STRING) hit = (this.string as CompiledStringMatcher).match(value);
    else if (this.kind === MATCH_RANGE) {
      const n = DECIMAL.test(value) ? Number(value) : NaN;
      hit = n >= this.start && n < this.end;
    } else hit = this.present;
    return hit !== this.invert;
  }
}

/** Whether every matcher matches (Envoy's `matchHeaders`: an empty list matches). */
export function matchAllHeaders(matchers: readonly CompiledHeaderMatcher[], request: RequestHead): boolean {
  for (const m of matchers) if (!m.matches(request)) return false;
  return true;
}

/** Compiles a list of HeaderMatchers (`undefined` is an empty list). */
export function compileHeaderMatchers(
  errors: MatcherConfigErrors,
  value: unknown,
  field: string,
): CompiledHeaderMatcher[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw errors.error(field, 'must be a list');
  return value.map((m, i) => new CompiledHeaderMatcher(errors, m, `${field}[${i}]`));
}

function flag(errors: MatcherConfigErrors, value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw errors.error(field, 'must be a boolean');
  return value;
}
