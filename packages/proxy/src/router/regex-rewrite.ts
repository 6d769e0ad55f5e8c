// Envoy's `regex_rewrite`: RE2::GlobalReplace of every match of a pattern in the path (without
// its query), with a substitution where `\1`..`\9` are capture groups, `\0` the whole match and
// `\\` a backslash (RE2's rewrite syntax, checked at config time as RE2::CheckRewriteString does).
import type { Regex } from './matchers.js';
import { regexOrThrow } from './matchers.js';
import { at, configError } from './where.js';

/** A compiled pattern and substitution. */
export class RegexRewrite {
  readonly regex: Regex;
  /** Literal text and group numbers, in order. */
  readonly parts: readonly (string | number)[];

  constructor(config: { readonly pattern: string; readonly substitution: string }, where: string) {
    this.regex = regexOrThrow(config.pattern, at(where, 'pattern'));
    const groups = this.regex.groupCount();
    const parts: (string | number)[] = [];
    let text = '';
    const s = config.substitution;
    for (let i = 0; i < s.length; i++) {
      const c = s[i] as string;
      if (c !== '\\') {
        text += c;
        continue;
      }
      const next = s[i + 1];
      i++;
      if (next === '\\') text += '\\';
      else if (next !== undefined && next >= '0' && next <= '9') {
        const group = next.charCodeAt(0) - 48;
        if (group > groups)
          throw configError(
            at(where, 'substitution'),
            `\\${group} refers to a capture group the pattern does not have (it has ${groups})`,
          );
        if (text !== '') parts.push(text);
        text = '';
        parts.push(group);
      } else
        throw configError(
          at(where, 'substitution'),
          `invalid rewrite escape ${JSON.stringify(`\\${next ?? ''}`)}: use \\0-\\9 or \\\\`,
        );
    }
    if (text !== '') parts.push(text);
    this.parts = parts;
  }

  /** `input` with every match replaced; `input` itself when nothing matches. */
  replaceAll(input: string): string {
    const m = this.regex.matcher(input);
    let out = '';
    let pos = 0;
    let lastEnd = -1;
    let replaced = false;
    while (m.find()) {
      const start = m.start();
      const end = m.end();
      // RE2 does not allow an empty match right where the previous match ended.
      if (start === end && start === lastEnd) continue;
      out += input.slice(pos, start);
      for (const part of this.parts) out += typeof part === 'string' ? part : (m.group(part) ?? '');
      pos = end;
      lastEnd = end;
      replaced = true;
    }
    return replaced ? out + input.slice(pos) : input;
  }
}
