// A route's path matcher (prefix, exact path, RE2 regex, path-separated prefix) and the state one
// `match()` call shares among the routes it tries: the path without its query, its lower-case
// forms and its query parameters are computed at most once per call, and only when a route
// needs them.
import type * as model from '@meshlet/xds';
import type { MatchInput, RequestHead } from '../types.js';
import type { Regex } from './matchers.js';
import { parseQuery, regexOrThrow } from './matchers.js';
import type { IndexKey } from './route-index.js';
import { configError } from './where.js';

export const PREFIX = 0;
export const PATH = 1;
export const REGEX = 2;
export const SEPARATED_PREFIX = 3;

/** The path of a `:path` without its query and fragment (Envoy's removeQueryAndFragment). */
export function stripQuery(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return path.slice(0, i);
  }
  return path;
}

const SPECIAL = new Set(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$']);
const QUANTIFIER = new Set(['*', '?', '{']);

/**
 * The literal text every match of an RE2 pattern starts with ('' when it cannot tell): a cheap
 * `startsWith` that rules a regex route out before the regex runs. Conservative: any top-level
 * alternation, flag group or class at the start gives ''.
 */
export function literalPrefix(pattern: string): string {
  // A `|` outside groups and classes lets a match start with either side.
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[') {
      // Skip the class: `]` right after `[` or `[^` is a literal.
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return '';
  }
  let i = pattern.startsWith('^') ? 1 : 0;
  let prefix = '';
  while (i < pattern.length) {
    const c = pattern[i] as string;
    let literal: string;
    let next: number;
    if (c === '\\') {
      const e = pattern[i + 1];
      // Only escaped punctuation is a literal (`\d`, `\w`, `\Q`... are not).
      if (e === undefined || /[0-9A-Za-z]/.test(e)) break;
      literal = e;
      next = i + 2;
    } else if (SPECIAL.has(c)) break;
    else {
      // One code point (two UTF-16 units beyond the BMP), so a quantifier applies to all of it.
      next = i + ((pattern.codePointAt(i) as number) > 0xffff ? 2 : 1);
      literal = pattern.slice(i, next);
    }
    // A quantifier that may repeat zero times makes the last literal optional.
    if (QUANTIFIER.has(pattern[next] ?? '')) break;
    prefix += literal;
    i = next;
  }
  return prefix;
}

/** What one `match()` call knows about its request, computed lazily and at most once. */
export class MatchState {
  request: RequestHead;
  input: MatchInput;
  private noQuery: string | null;
  private lower: string | null;
  private lowerNoQuery: string | null;
  private params: Map<string, string> | null;
  private draw: number;

  constructor(input: MatchInput) {
    this.input = input;
    this.request = input.request;
    this.noQuery = null;
    this.lower = null;
    this.lowerNoQuery = null;
    this.params = null;
    this.draw = -1;
  }

  reset(input: MatchInput): void {
    this.input = input;
    this.request = input.request;
    this.noQuery = null;
    this.lower = null;
    this.lowerNoQuery = null;
    this.params = null;
    this.draw = -1;
  }

  /** Drops the references to the request once the match is over. */
  release(input: MatchInput): void {
    this.input = input;
    this.request = input.request;
    this.params = null;
  }

  pathNoQuery(): string {
    return (this.noQuery ??= stripQuery(this.request.path));
  }

  lowerPath(): string {
    return (this.lower ??= this.request.path.toLowerCase());
  }

  lowerPathNoQuery(): string {
    return (this.lowerNoQuery ??= this.pathNoQuery().toLowerCase());
  }

  query(): ReadonlyMap<string, string> {
    return (this.params ??= parseQuery(this.request.path));
  }

  /**
   * One draw per request for every runtime fraction, as Envoy uses one random value per stream
   * for all of them.
   */
  random(): number {
    if (this.draw < 0) this.draw = this.input.random();
    return this.draw;
  }
}

/** A route's path matcher. */
export class PathMatch {
  readonly kind: number;
  /** Lower-cased when matching is case-insensitive. */
  readonly value: string;
  readonly caseSensitive: boolean;
  readonly regex: Regex | null;
  /** For regexes: what every match starts with, checked before the regex runs. */
  readonly regexPrefix: string;

  constructor(match: model.RouteMatch, where: string) {
    const set = [match.prefix, match.path, match.safeRegex, match.pathSeparatedPrefix].filter(
      (v) => v !== undefined,
    ).length;
    if (set !== 1)
      throw configError(
        where,
        'a route match needs exactly one of prefix, path, safe_regex, path_separated_prefix',
      );
    this.caseSensitive = match.caseSensitive;
    this.regex = null;
    this.regexPrefix = '';
    let value: string;
    if (match.prefix !== undefined) {
      this.kind = PREFIX;
      value = match.prefix;
    } else if (match.path !== undefined) {
      this.kind = PATH;
      value = match.path;
    } else if (match.safeRegex !== undefined) {
      this.kind = REGEX;
      value = match.safeRegex;
      // case_sensitive does not apply to safe_regex (Envoy's documentation).
      this.caseSensitive = true;
      this.regex = regexOrThrow(value, `${where}.safe_regex`);
      this.regexPrefix = literalPrefix(value);
    } else {
      this.kind = SEPARATED_PREFIX;
      value = match.pathSeparatedPrefix as string;
      // Envoy's proto validation: `^[^?#]+[^?#/]$`.
      if (!/^[^?#]+[^?#/]$/.test(value))
        throw configError(
          `${where}.path_separated_prefix`,
          `${JSON.stringify(value)} must be at least 2 characters, without ? or #, not ending in /`,
        );
    }
    this.value = this.caseSensitive ? value : value.toLowerCase();
  }

  /** The literal text every path this matcher takes starts with, for the route index. */
  indexKey(): IndexKey {
    if (this.kind === REGEX) return { literal: this.regexPrefix, lowerCase: false };
    return { literal: this.value, lowerCase: !this.caseSensitive };
  }

  matches(state: MatchState): boolean {
    switch (this.kind) {
      case PREFIX:
        // Envoy matches a prefix against the whole :path, query included.
        return (this.caseSensitive ? state.request.path : state.lowerPath()).startsWith(this.value);
      case PATH:
        return (this.caseSensitive ? state.pathNoQuery() : state.lowerPathNoQuery()) === this.value;
      case REGEX: {
        const path = state.pathNoQuery();
        return path.startsWith(this.regexPrefix) && (this.regex as Regex).testExact(path);
      }
      default: {
        const path = this.caseSensitive ? state.pathNoQuery() : state.lowerPathNoQuery();
        return (
          path.startsWith(this.value) &&
          (path.length === this.value.length || path.charCodeAt(this.value.length) === 47)
        );
      }
    }
  }

  /**
   * Envoy's prefix_rewrite of `path`: the part this matcher matched (the prefix; the whole path
   * without query for exact paths and regexes) replaced by `replacement`. `null` when the path no
   * longer matches (a filter changed it without clearing the route cache).
   */
  rewritePrefix(path: string, replacement: string): string | null {
    if (this.kind === REGEX) {
      const noQuery = stripQuery(path);
      return replacement + path.slice(noQuery.length);
    }
    const head = path.slice(0, this.value.length);
    if ((this.caseSensitive ? head : head.toLowerCase()) !== this.value) return null;
    return replacement + path.slice(this.value.length);
  }
}
