// Envoy's HeaderMatcher over a request as the filters see it: header values joined with ","
// (Envoy's getAllOfHeaderAsString), the pseudo-headers `:method`, `:path`, `:authority` (also
// `host`) and `:scheme` read from the request head.
import type { HeaderMatcher } from '@meshlet/xds';
import type { HeaderMap, RequestHead } from '../types.js';
import type { ConfigReader } from './config-reader.js';
import { type CompiledStringMatcher, compileStringMatcher } from './string-matcher.js';

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

/** A compiled Envoy HeaderMatcher. */
export class CompiledHeaderMatcher {
  readonly name: string;
  readonly source: number;
  readonly kind: number;
  readonly string: CompiledStringMatcher | null;
  readonly present: boolean;
  readonly start: number;
  readonly end: number;
  readonly invert: boolean;
  readonly missingAsEmpty: boolean;

  constructor(reader: ConfigReader, config: unknown, field: string) {
    const m = reader.object(config, field) as Partial<Record<keyof HeaderMatcher, unknown>>;
    const name = reader.string(m.name, `${field}.name`).toLowerCase();
    if (name === '') throw reader.error(`${field}.name`, 'must not be empty');
    this.name = name;
    this.source = sourceOf(name);
    this.invert = reader.boolean(m.invertMatch, `${field}.invertMatch`, false);
    this.missingAsEmpty = reader.boolean(
      m.treatMissingHeaderAsEmpty,
      `${field}.treatMissingHeaderAsEmpty`,
      false,
    );
    const given =
      Number(m.stringMatch !== undefined) +
      Number(m.presentMatch !== undefined) +
      Number(m.rangeMatch !== undefined);
    if (given > 1) throw reader.error(field, 'takes only one of stringMatch, presentMatch, rangeMatch');
    this.string = null;
    this.present = true;
    this.start = 0;
    this.end = 0;
    if (m.stringMatch !== undefined) {
      this.kind = MATCH_STRING;
      this.string = compileStringMatcher(reader, m.stringMatch, `${field}.stringMatch`);
    } else if (m.rangeMatch !== undefined) {
      this.kind = MATCH_RANGE;
      const r = reader.object(m.rangeMatch, `${field}.rangeMatch`);
      this.start = reader.integer(
        r.start,
        `${field}.rangeMatch.start`,
        Number.MIN_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      );
      this.end = reader.integer(
        r.end,
        `${field}.rangeMatch.end`,
        Number.MIN_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      );
      if (this.end <= this.start)
        throw reader.error(`${field}.rangeMatch`, `[${this.start}, ${this.end}) is empty`);
    } else {
      // No specifier at all is a presence match, as in Envoy.
      this.kind = MATCH_PRESENT;
      this.present = reader.boolean(m.presentMatch, `${field}.presentMatch`, true);
    }
  }

  /** Whether the request's header (or pseudo-header) satisfies this matcher. */
  matches(request: RequestHead): boolean {
    let value: string | undefined;
    switch (this.source) {
      case FROM_HEADERS:
        value = joinedHeader(request.headers, this.name);
        break;
      case FROM_METHOD:
        value = request.method;
        break;
      case FROM_PATH:
        value = request.path;
        break;
      case FROM_AUTHORITY:
        value = request.authority;
        break;
      case FROM_SCHEME:
        value = request.scheme;
        break;
      default:
        value = undefined;
    }
    return this.matchValue(value);
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

/** Compiles a list of HeaderMatchers. */
export function compileHeaderMatchers(
  reader: ConfigReader,
  value: unknown,
  field: string,
): CompiledHeaderMatcher[] {
  return reader.list(value, field).map((m, i) => new CompiledHeaderMatcher(reader, m, `${field}[${i}]`));
}

function sourceOf(name: string): number {
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
