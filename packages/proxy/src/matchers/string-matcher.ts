// Envoy's StringMatcher, compiled once per config version, for every part of the proxy that
// matches strings: route and retry header matchers, query parameters, the built-in filters
// (fault `headers`, RBAC `header` / `url_path` / `requested_server_name`, CORS origins) and the
// upstream TLS subject-alt-name matchers. A matcher is one class whose kind is fixed at compile
// time, so every call site sees one shape.
import { ConfigError } from '@meshlet/errors';
import type { StringMatcher } from '@meshlet/xds';
import type { MatcherConfigErrors } from '../types.js';
import { type Regex, cachedRegex } from './regex-cache.js';

const EXACT = 0;
const PREFIX = 1;
const SUFFIX = 2;
const CONTAINS = 3;
const REGEX = 4;

const KINDS: readonly (keyof StringMatcher)[] = ['exact', 'prefix', 'suffix', 'contains', 'safeRegex'];

/**
 * A compiled Envoy StringMatcher: exact, prefix, suffix, contains (each optionally case-blind) or
 * an RE2 `safe_regex` matched against the whole value in linear time (`ignore_case` has no effect
 * on it, as in Envoy).
 */
export class CompiledStringMatcher {
  /** Which of exact, prefix, suffix, contains, safeRegex (0 to 4). */
  readonly kind: number;
  /** The operand, lower-cased when `ignoreCase`. */
  readonly value: string;
  readonly ignoreCase: boolean;
  readonly regex: Regex | null;

  constructor(kind: number, value: string, ignoreCase: boolean, regex: Regex | null) {
    this.kind = kind;
    this.value = ignoreCase ? value.toLowerCase() : value;
    this.ignoreCase = ignoreCase;
    this.regex = regex;
  }

  /** Whether `input` matches. */
  match(input: string): boolean {
    const s = this.ignoreCase ? input.toLowerCase() : input;
    switch (this.kind) {
      case EXACT:
        return s === this.value;
      case PREFIX:
        return s.startsWith(this.value);
      case SUFFIX:
        return s.endsWith(this.value);
      case CONTAINS:
        return s.includes(this.value);
      default:
        return (this.regex as Regex).testExact(s);
    }
  }
}

/**
 * Compiles a StringMatcher (a model object, or untrusted config of that shape), or throws the
 * error `errors` makes for the field at fault below `field`.
 *
 * @example
 * const m = compileStringMatcher(new ConfigReader({ filterName: 'acme' }), { prefix: '/api' }, 'paths[0]');
 * m.match('/api/users'); // true
 */
export function compileStringMatcher(
  errors: MatcherConfigErrors,
  config: unknown,
  field: string,
): CompiledStringMatcher {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw errors.error(field, 'must be an object');
  const m = config as Partial<Record<keyof StringMatcher, unknown>>;
  const ignoreCase = m.ignoreCase ?? false;
  if (typeof ignoreCase !== 'boolean')
    throw errors.error(fieldOf(errors, field, 'ignoreCase'), 'must be a boolean');
  let kind = -1;
  let count = 0;
  for (let k = 0; k < KINDS.length; k++) {
    if (m[KINDS[k] as keyof StringMatcher] === undefined) continue;
    count++;
    kind = k;
  }
  if (count !== 1)
    throw errors.error(field, `needs exactly one of ${KINDS.map((k) => keyOf(errors, k)).join(', ')}`);
  const here = fieldOf(errors, field, KINDS[kind] as string);
  const value = m[KINDS[kind] as keyof StringMatcher];
  if (typeof value !== 'string') throw errors.error(here, 'must be a string');
  if (kind === REGEX) {
    const regex = cachedRegex(value);
    if (typeof regex === 'string') throw errors.error(here, regex);
    return new CompiledStringMatcher(REGEX, value, false, regex);
  }
  // Envoy validates prefix, suffix and contains as non-empty strings (proto validation: min_len 1).
  if (value === '' && kind !== EXACT) throw errors.error(here, 'must not be empty');
  return new CompiledStringMatcher(kind, value, ignoreCase, null);
}

/** `parent.key`, the key spelled as the caller names fields. */
export function fieldOf(errors: MatcherConfigErrors, parent: string, key: string): string {
  return `${parent}.${keyOf(errors, key)}`;
}

/** `key` spelled as the caller names fields. */
export function keyOf(errors: MatcherConfigErrors, key: string): string {
  return errors.key === undefined ? key : errors.key(key);
}

/**
 * Matcher errors in Envoy's spelling, for config that comes from xDS (routes, clusters):
 * `<field>.string_match.safe_regex: <message>`.
 */
export const envoyMatcherErrors: MatcherConfigErrors = {
  error: (field: string, message: string): ConfigError => new ConfigError(`${field}: ${message}`),
  key: (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
};
