// Envoy's StringMatcher and HeaderMatcher, compiled once per config version for the built-in
// filters (fault `headers`, RBAC `header` / `url_path` / `requested_server_name`, CORS origins).
// A matcher is one class whose kind is fixed at compile time, so every call site sees one shape.
import { compileRegex } from '@meshlet/xds';
import type { StringMatcher } from '@meshlet/xds';
import type { ConfigReader } from './config-reader.js';

const EXACT = 0;
const PREFIX = 1;
const SUFFIX = 2;
const CONTAINS = 3;
const REGEX = 4;

type Regex = Exclude<ReturnType<typeof compileRegex>, string>;

/**
 * A compiled Envoy StringMatcher: exact, prefix, suffix, contains (each optionally case-blind) or
 * an RE2 `safe_regex` matched against the whole value in linear time (`ignore_case` has no effect
 * on it, as in Envoy).
 */
export class CompiledStringMatcher {
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

/** Compiles a StringMatcher, or throws a ConfigError naming `field`. */
export function compileStringMatcher(
  reader: ConfigReader,
  config: unknown,
  field: string,
): CompiledStringMatcher {
  const m = reader.object(config, field) as Partial<Record<keyof StringMatcher, unknown>>;
  const ignoreCase = reader.boolean(m.ignoreCase, `${field}.ignoreCase`, false);
  let kind = -1;
  let operand: unknown;
  let count = 0;
  for (const [k, name] of KINDS) {
    const v = m[name];
    if (v === undefined) continue;
    count++;
    kind = k;
    operand = v;
  }
  if (count !== 1) {
    throw reader.error(field, 'needs exactly one of exact, prefix, suffix, contains, safeRegex');
  }
  const name = (KINDS[kind] as readonly [number, keyof StringMatcher])[1];
  const value = reader.string(operand, `${field}.${name}`);
  if (kind === REGEX) {
    const regex = compileRegex(value);
    if (typeof regex === 'string') throw reader.error(`${field}.safeRegex`, `is not usable: ${regex}`);
    return new CompiledStringMatcher(REGEX, value, false, regex);
  }
  // Envoy validates prefix, suffix and contains as non-empty strings.
  if (value === '' && kind !== EXACT) throw reader.error(`${field}.${name}`, 'must not be empty');
  return new CompiledStringMatcher(kind, value, ignoreCase, null);
}

const KINDS: readonly (readonly [number, keyof StringMatcher])[] = [
  [EXACT, 'exact'],
  [PREFIX, 'prefix'],
  [SUFFIX, 'suffix'],
  [CONTAINS, 'contains'],
  [REGEX, 'safeRegex'],
];
