import { RE2JS } from 're2js';

/** Largest RE2 program accepted (Envoy's default `max_program_size` is 100; we allow more). */
export const MAX_REGEX_PROGRAM_SIZE = 1000;

/** Longest pattern accepted, in characters. */
export const MAX_REGEX_LENGTH = 4096;

/**
 * Compiles an Envoy `safe_regex` (RE2 syntax) with re2js, a linear-time engine: no pattern can
 * backtrack catastrophically, and backreferences or lookarounds are syntax errors, as in Envoy.
 * Returns the compiled pattern or the reason it is rejected.
 *
 * @example
 * ```ts
 * const r = compileRegex('^/api/v[0-9]+/.*');
 * if (typeof r === 'string') throw new Error(r); else r.matches('/api/v2/x'); // true
 * ```
 */
export function compileRegex(pattern: string): RE2JS | string {
  if (pattern.length > MAX_REGEX_LENGTH) return `regex longer than ${MAX_REGEX_LENGTH} characters`;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (err) {
    return `invalid RE2 regex ${JSON.stringify(pattern.length > 60 ? `${pattern.slice(0, 60)}…` : pattern)}: ${err instanceof Error ? err.message : String(err)}`;
  }
  const size = compiled.programSize();
  if (size > MAX_REGEX_PROGRAM_SIZE) return `regex program size ${size} exceeds ${MAX_REGEX_PROGRAM_SIZE}`;
  return compiled;
}
