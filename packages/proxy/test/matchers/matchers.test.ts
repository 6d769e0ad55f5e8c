import { ConfigError } from '@meshlet/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigReader } from '../../src/filters/config-reader.js';
import {
  CompiledHeaderMatcher,
  compileHeaderMatchers,
  matchAllHeaders,
} from '../../src/matchers/header-matcher.js';
import { cachedRegex } from '../../src/matchers/regex-cache.js';
import { compileStringMatcher, envoyMatcherErrors } from '../../src/matchers/string-matcher.js';
import type { RequestHead } from '../../src/types.js';
import { headerMatcherCases } from './header-cases.js';

const reader = new ConfigReader({ filterName: 'm' });
const sm = (config: unknown) => compileStringMatcher(reader, config, 'm');
const hm = (config: unknown) => new CompiledHeaderMatcher(reader, config, 'h');
const request = (headers: RequestHead['headers'] = {}): RequestHead => ({
  method: 'GET',
  scheme: 'https',
  authority: 'api.example.com',
  path: '/a?b=c',
  headers,
});

describe('string matcher', () => {
  it('exact, prefix, suffix, contains, with and without ignoreCase', () => {
    expect(sm({ exact: 'Abc', ignoreCase: false }).match('Abc')).toBe(true);
    expect(sm({ exact: 'Abc', ignoreCase: false }).match('abc')).toBe(false);
    expect(sm({ exact: 'Abc', ignoreCase: true }).match('aBC')).toBe(true);
    expect(sm({ prefix: '/API', ignoreCase: true }).match('/api/x')).toBe(true);
    expect(sm({ suffix: '.COM', ignoreCase: false }).match('x.com')).toBe(false);
    expect(sm({ contains: 'Bot', ignoreCase: true }).match('GoogleBOT')).toBe(true);
    expect(sm({ exact: '', ignoreCase: false }).match('')).toBe(true);
    expect(sm({ exact: 'a' }).match('a')).toBe(true);
  });

  it('safeRegex matches the whole value (RE2), ignoreCase has no effect on it', () => {
    const m = sm({ safeRegex: '[a-z]+', ignoreCase: true });
    expect(m.match('abc')).toBe(true);
    expect(m.match('abc1')).toBe(false);
    expect(m.match('ABC')).toBe(false);
  });

  it('agrees with plain string operations (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.boolean(), (input, operand, ignoreCase) => {
        const fold = (s: string) => (ignoreCase ? s.toLowerCase() : s);
        expect(sm({ prefix: operand, ignoreCase }).match(input)).toBe(fold(input).startsWith(fold(operand)));
        expect(sm({ suffix: operand, ignoreCase }).match(input)).toBe(fold(input).endsWith(fold(operand)));
        expect(sm({ contains: operand, ignoreCase }).match(input)).toBe(fold(input).includes(fold(operand)));
        expect(sm({ exact: operand, ignoreCase }).match(input)).toBe(fold(input) === fold(operand));
      }),
    );
  });

  it('rejects what Envoy rejects, naming the field as a filter does', () => {
    expect(() => sm({ ignoreCase: false })).toThrow(ConfigError);
    expect(() => sm({ exact: 'a', prefix: 'b', ignoreCase: false })).toThrow(
      'm: m needs exactly one of exact, prefix, suffix, contains, safeRegex',
    );
    expect(() => sm({ prefix: '', ignoreCase: false })).toThrow('m: m.prefix must not be empty');
    expect(() => sm({ suffix: '', ignoreCase: false })).toThrow('m: m.suffix must not be empty');
    expect(() => sm({ contains: '', ignoreCase: false })).toThrow('m: m.contains must not be empty');
    expect(() => sm({ safeRegex: '(a)\\1', ignoreCase: false })).toThrow('m: m.safeRegex invalid RE2 regex');
    expect(() => sm({ exact: 3, ignoreCase: false })).toThrow('m: m.exact must be a string');
    expect(() => sm({ exact: 'a', ignoreCase: 'yes' })).toThrow('m: m.ignoreCase must be a boolean');
    expect(() => sm('exact')).toThrow('m: m must be an object');
  });

  it("names the field in Envoy's spelling for xDS config", () => {
    const envoy = (config: unknown) => compileStringMatcher(envoyMatcherErrors, config, 'san[0]');
    expect(() => envoy({ safeRegex: '(' })).toThrow(/^san\[0\]\.safe_regex: invalid RE2 regex/);
    expect(() => envoy({ exact: 'a', safeRegex: 'b' })).toThrow(
      'san[0]: needs exactly one of exact, prefix, suffix, contains, safe_regex',
    );
    expect(() => envoy({ prefix: '' })).toThrow('san[0].prefix: must not be empty');
    expect(() => envoy({ ignoreCase: 1, exact: 'a' })).toThrow('san[0].ignore_case: must be a boolean');
  });

  it('shares compiled patterns: a pattern seen before is not compiled again', () => {
    const a = cachedRegex('shared-[0-9]+');
    expect(typeof a).not.toBe('string');
    expect(cachedRegex('shared-[0-9]+')).toBe(a);
    expect(sm({ safeRegex: 'shared-[0-9]+' }).regex).toBe(a);
    expect(cachedRegex('(')).toMatch(/invalid RE2 regex/);
  });
});

describe('header matcher', () => {
  it.each(headerMatcherCases)('%s', (_, matcher, headers, expected) => {
    expect(hm(matcher).matches(request(headers))).toBe(expected);
    expect(new CompiledHeaderMatcher(envoyMatcherErrors, matcher, 'h').matches(request(headers))).toBe(
      expected,
    );
  });

  it('reads pseudo-headers from the request head; host is the authority', () => {
    expect(hm({ name: ':method', stringMatch: { exact: 'GET', ignoreCase: false } }).matches(request())).toBe(
      true,
    );
    expect(
      hm({ name: ':scheme', stringMatch: { exact: 'https', ignoreCase: false } }).matches(request()),
    ).toBe(true);
    expect(
      hm({ name: ':path', stringMatch: { exact: '/a?b=c', ignoreCase: false } }).matches(request()),
    ).toBe(true);
    expect(
      hm({ name: ':authority', stringMatch: { suffix: '.com', ignoreCase: false } }).matches(request()),
    ).toBe(true);
    expect(
      hm({ name: 'Host', stringMatch: { exact: 'api.example.com', ignoreCase: false } }).matches(request()),
    ).toBe(true);
    expect(hm({ name: ':unknown', presentMatch: true }).matches(request())).toBe(false);
  });

  it('matches a response header or its :status', () => {
    const status = hm({ name: ':status', stringMatch: { prefix: '50', ignoreCase: false } });
    expect(status.matchResponse({}, 503)).toBe(true);
    expect(status.matchResponse({}, 404)).toBe(false);
    const header = hm({ name: 'x-retry', presentMatch: true });
    expect(header.matchResponse({ 'x-retry': '1' }, 200)).toBe(true);
    expect(header.matchResponse({}, 200)).toBe(false);
  });

  it('a list matches when every matcher does; an empty list matches', () => {
    const list = compileHeaderMatchers(
      reader,
      [{ name: 'a' }, { name: 'b', presentMatch: false }],
      'headers',
    );
    expect(matchAllHeaders(list, request({ a: '1' }))).toBe(true);
    expect(matchAllHeaders(list, request({ a: '1', b: '2' }))).toBe(false);
    expect(matchAllHeaders(compileHeaderMatchers(reader, undefined, 'headers'), request())).toBe(true);
    expect(() => compileHeaderMatchers(reader, {}, 'headers')).toThrow('m: headers must be a list');
  });

  it('rejects bad matchers with the field', () => {
    expect(() => hm({ name: '' })).toThrow('m: h.name must not be empty');
    expect(() => hm({})).toThrow('m: h.name must be a string');
    expect(() => hm({ name: 'a', presentMatch: true, rangeMatch: { start: 0, end: 1 } })).toThrow(
      'm: h takes only one of stringMatch, presentMatch, rangeMatch',
    );
    expect(() => hm({ name: 'a', rangeMatch: { start: 5, end: 5 } })).toThrow(
      'm: h.rangeMatch [5, 5) is not a range of integers with start < end',
    );
    expect(() => hm({ name: 'a', rangeMatch: { start: 0.5, end: 5 } })).toThrow('m: h.rangeMatch [0.5, 5)');
    expect(() => hm({ name: 'a', invertMatch: 'no' })).toThrow('m: h.invertMatch must be a boolean');
    expect(() => hm({ name: 'a', stringMatch: { prefix: '' } })).toThrow(
      'm: h.stringMatch.prefix must not be empty',
    );
  });

  it("names the field in Envoy's spelling for xDS config", () => {
    const envoy = (config: unknown) => new CompiledHeaderMatcher(envoyMatcherErrors, config, 'headers[0]');
    expect(() => envoy({ name: 'a', presentMatch: true, rangeMatch: { start: 0, end: 1 } })).toThrow(
      'headers[0]: takes only one of string_match, present_match, range_match',
    );
    expect(() => envoy({ name: 'a', treatMissingHeaderAsEmpty: 1 })).toThrow(
      'headers[0].treat_missing_header_as_empty: must be a boolean',
    );
  });
});
