import { ConfigError } from '@meshlet/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompiledHeaderMatcher,
  ConfigReader,
  builtinHttpFilters,
  compileStringMatcher,
} from '../../src/filters/index.js';
import type { RequestHead } from '../../src/types.js';
import { TestContext, TestEnv } from './context.js';

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

  it('rejects what Envoy rejects', () => {
    expect(() => sm({ ignoreCase: false })).toThrow(ConfigError);
    expect(() => sm({ exact: 'a', prefix: 'b', ignoreCase: false })).toThrow('m needs exactly one of');
    expect(() => sm({ prefix: '', ignoreCase: false })).toThrow('m: m.prefix must not be empty');
    expect(() => sm({ safeRegex: '(a)\\1', ignoreCase: false })).toThrow('m: m.safeRegex is not usable');
    expect(() => sm({ exact: 3, ignoreCase: false })).toThrow('m: m.exact must be a string');
  });
});

describe('header matcher', () => {
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
      hm({ name: 'Host', stringMatch: { exact: 'api.example.com', ignoreCase: false } }).matches(request()),
    ).toBe(true);
    expect(hm({ name: ':unknown', presentMatch: true }).matches(request())).toBe(false);
  });

  it('absent headers: fail value matchers (even inverted) unless treated as empty', () => {
    const exact = { exact: 'x', ignoreCase: false };
    expect(hm({ name: 'a', stringMatch: exact }).matches(request())).toBe(false);
    expect(hm({ name: 'a', stringMatch: exact, invertMatch: true }).matches(request())).toBe(false);
    expect(
      hm({ name: 'a', stringMatch: exact, invertMatch: true, treatMissingHeaderAsEmpty: true }).matches(
        request(),
      ),
    ).toBe(true);
    expect(
      hm({
        name: 'a',
        stringMatch: { exact: '', ignoreCase: false },
        treatMissingHeaderAsEmpty: true,
      }).matches(request()),
    ).toBe(true);
    expect(hm({ name: 'a', presentMatch: false }).matches(request())).toBe(true);
    expect(hm({ name: 'a', presentMatch: false }).matches(request({ a: '' }))).toBe(false);
    expect(hm({ name: 'a' }).matches(request({ a: 'v' }))).toBe(true);
  });

  it('range: integers only, start inclusive, end exclusive; inverted', () => {
    const r = hm({ name: 'n', rangeMatch: { start: -10, end: 10 } });
    expect(['-10', '0', ' 9 ', '+9'].map((v) => r.matches(request({ n: v })))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['10', '-11', '1.5', 'x', '', '9a'].map((v) => r.matches(request({ n: v })))).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(
      hm({ name: 'n', rangeMatch: { start: 0, end: 5 }, invertMatch: true }).matches(request({ n: '7' })),
    ).toBe(true);
  });

  it('several values are joined with ","', () => {
    expect(
      hm({ name: 'a', stringMatch: { exact: 'x,y', ignoreCase: false } }).matches(request({ a: ['x', 'y'] })),
    ).toBe(true);
  });

  it('rejects bad matchers with the field', () => {
    expect(() => hm({ name: '' })).toThrow('m: h.name must not be empty');
    expect(() => hm({ name: 'a', presentMatch: true, rangeMatch: { start: 0, end: 1 } })).toThrow(
      'm: h takes only one of',
    );
    expect(() => hm({ name: 'a', rangeMatch: { start: 5, end: 5 } })).toThrow(
      'm: h.rangeMatch [5, 5) is empty',
    );
  });
});

describe('builtinHttpFilters', () => {
  const configs: Record<string, unknown> = {
    fault: { type: 'fault', headers: [], upstreamCluster: '', downstreamNodes: [] },
    local_rate_limit: {
      type: 'local_rate_limit',
      statPrefix: 'x',
      status: 429,
      responseHeadersToAdd: [],
      descriptors: [],
      localRateLimitPerDownstreamConnection: false,
    },
    rbac: { type: 'rbac' },
    header_mutation: { type: 'header_mutation', requestMutations: [], responseMutations: [] },
    cors: { type: 'cors' },
  };

  it('holds the five filters by their model type names', () => {
    expect(builtinHttpFilters.map((f) => f.name)).toEqual([
      'fault',
      'local_rate_limit',
      'rbac',
      'header_mutation',
      'cors',
    ]);
    expect(Object.isFrozen(builtinHttpFilters)).toBe(true);
  });

  it('hooks work called detached (no `this`), as a chain may hold them', async () => {
    /* eslint-disable @typescript-eslint/unbound-method -- detached calls are what this test checks */
    for (const f of builtinHttpFilters) {
      const config: unknown = Reflect.apply(f.configure, undefined, [configs[f.name], new TestEnv(f.name)]);
      const ctx = new TestContext({ headers: { origin: 'https://a.b' } });
      for (const hook of [f.onRequest, f.onResponse, f.onComplete]) {
        if (hook !== undefined) await Reflect.apply(hook, undefined, [ctx, config]);
      }
      expect(ctx.replied, f.name).toBe(false);
    }
    /* eslint-enable @typescript-eslint/unbound-method */
  });
});
