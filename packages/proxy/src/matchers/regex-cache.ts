// RE2 patterns compiled once and shared: by route tables of successive config versions, by the
// filters and by the upstream TLS matchers. A compiled pattern holds no per-match state (each
// match gets its own matcher), so sharing is safe.
import { compileRegex } from '@meshlet/xds';

/** A compiled RE2 pattern (re2js: linear time). */
export type Regex = Exclude<ReturnType<typeof compileRegex>, string>;

const compiled = new Map<string, Regex>();

/** At most this many patterns are kept; the cache starts over when full. */
const REGEX_CACHE_SIZE = 4096;

/** Compiles an RE2 pattern, or returns why it is not usable; a pattern seen before is not compiled again. */
export function cachedRegex(pattern: string): Regex | string {
  let regex = compiled.get(pattern);
  if (regex !== undefined) return regex;
  const result = compileRegex(pattern);
  if (typeof result === 'string') return result;
  regex = result;
  if (compiled.size >= REGEX_CACHE_SIZE) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}
