import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRegex } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import { compileRouteTable } from '../../src/router/index.js';
import { literalPrefix } from '../../src/router/path-match.js';
import type { HeaderMap } from '../../src/types.js';
import { headerMatcherCases } from '../matchers/header-cases.js';
import { action, headerMatcher, input, route, routeConfig, vhost } from './helpers.js';

/** A table of one virtual host with these routes, each named. */
function table(...routes: model.Route[]) {
  return compileRouteTable(routeConfig({ virtualHosts: [vhost({ routes })] }));
}

function matched(
  t: ReturnType<typeof table>,
  path: string,
  headers: HeaderMap = {},
  random = 0.5,
): string | null {
  return t.match(input({ path, headers }, random))?.name ?? null;
}

describe('route matching: paths', () => {
  it('takes the first route that matches, in order', () => {
    const t = table(
      route({ name: 'exact', match: { path: '/api' } }),
      route({ name: 'api', match: { prefix: '/api' } }),
      route({ name: 'all', match: { prefix: '/' } }),
    );
    expect(matched(t, '/api')).toBe('exact');
    expect(matched(t, '/api?x=1')).toBe('exact');
    expect(matched(t, '/api/')).toBe('api');
    expect(matched(t, '/apix')).toBe('api');
    expect(matched(t, '/other')).toBe('all');
  });

  it('matches a prefix against the whole :path, query included, as Envoy', () => {
    const t = table(route({ name: 'q', match: { prefix: '/a?debug' } }), route({ name: 'rest' }));
    expect(matched(t, '/a?debug=1')).toBe('q');
    expect(matched(t, '/a?x')).toBe('rest');
  });

  it('matches an exact path without the query and fragment', () => {
    const t = table(route({ name: 'p', match: { path: '/login' } }));
    expect(matched(t, '/login')).toBe('p');
    expect(matched(t, '/login?next=/')).toBe('p');
    expect(matched(t, '/login#top')).toBe('p');
    expect(matched(t, '/login/')).toBeNull();
    expect(matched(t, '/Login')).toBeNull();
  });

  it('honours case_sensitive: false for prefix, path and path-separated prefix', () => {
    const t = table(
      route({ name: 'p', match: { path: '/Login', caseSensitive: false } }),
      route({ name: 'pre', match: { prefix: '/API/', caseSensitive: false } }),
      route({ name: 'sep', match: { pathSeparatedPrefix: '/Docs', caseSensitive: false } }),
    );
    expect(matched(t, '/LOGIN')).toBe('p');
    expect(matched(t, '/api/v1')).toBe('pre');
    expect(matched(t, '/docs/x')).toBe('sep');
    expect(matched(t, '/DOCS')).toBe('sep');
  });

  it('matches a regex (RE2) against the whole path without the query, ignoring case_sensitive', () => {
    const t = table(
      route({ name: 're', match: { safeRegex: '/users/[0-9]+', caseSensitive: false } }),
      route({ name: 'rest' }),
    );
    expect(matched(t, '/users/42')).toBe('re');
    expect(matched(t, '/users/42?full=1')).toBe('re');
    // Anchored to the whole path.
    expect(matched(t, '/users/42/orders')).toBe('rest');
    expect(matched(t, '/x/users/42')).toBe('rest');
    expect(matched(t, '/USERS/42')).toBe('rest');
  });

  it('shares compiled patterns between tables (a config update recompiles only new ones)', () => {
    const a = table(route({ name: 'a', match: { safeRegex: '/shared/[0-9]+' } }));
    const b = table(
      route({ name: 'b', match: { safeRegex: '/shared/[0-9]+' } }),
      route({ name: 'c', match: { safeRegex: '/other' } }),
    );
    expect(matched(a, '/shared/1')).toBe('a');
    expect(matched(b, '/shared/1')).toBe('b');
    expect(matched(b, '/other')).toBe('c');
    expect(matched(a, '/other')).toBeNull();
  });

  it('matches a path-separated prefix only at a segment boundary', () => {
    const t = table(route({ name: 'sep', match: { pathSeparatedPrefix: '/api' } }), route({ name: 'rest' }));
    expect(matched(t, '/api')).toBe('sep');
    expect(matched(t, '/api/v1')).toBe('sep');
    expect(matched(t, '/api?x=1')).toBe('sep');
    expect(matched(t, '/apiv1')).toBe('rest');
    expect(matched(t, '/ap')).toBe('rest');
  });

  // Property: a prefix route takes exactly the paths that start with its prefix, and an earlier
  // route always shadows a later one.
  it('prefix matching agrees with startsWith, first match wins (property)', () => {
    const seg = fc.stringMatching(/^[a-c/]{0,4}$/);
    fc.assert(
      fc.property(
        fc.array(
          seg.map((s) => `/${s}`),
          { minLength: 1, maxLength: 8 },
        ),
        seg,
        (prefixes, rest) => {
          const path = `/${rest}`;
          const t = table(...prefixes.map((p, i) => route({ name: String(i), match: { prefix: p } })));
          const expected = prefixes.findIndex((p) => path.startsWith(p));
          expect(matched(t, path)).toBe(expected < 0 ? null : String(expected));
          const ci = table(
            ...prefixes.map((p, i) =>
              route({ name: String(i), match: { prefix: p.toUpperCase(), caseSensitive: false } }),
            ),
          );
          expect(matched(ci, path.toUpperCase())).toBe(expected < 0 ? null : String(expected));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('route matching: headers', () => {
  const m = (h: Partial<model.HeaderMatcher> & { name: string }) =>
    table(route({ name: 'hit', match: { headers: [headerMatcher(h)] } }));

  // The same cases the matcher suite runs against CompiledHeaderMatcher, here through a route.
  it.each(headerMatcherCases)('%s', (_, matcher, headers, expected) => {
    expect(matched(m(matcher), '/', headers)).toBe(expected ? 'hit' : null);
  });

  it('matches the pseudo-headers :method, :authority, :path and :scheme', () => {
    const t = table(
      route({
        name: 'post',
        match: {
          headers: [
            headerMatcher({ name: ':method', stringMatch: { exact: 'POST', ignoreCase: false } }),
            headerMatcher({ name: ':scheme', stringMatch: { exact: 'http', ignoreCase: false } }),
            headerMatcher({ name: ':authority', stringMatch: { suffix: '.com', ignoreCase: false } }),
            headerMatcher({ name: ':path', stringMatch: { contains: 'q=', ignoreCase: false } }),
          ],
        },
      }),
    );
    expect(t.match(input({ method: 'POST', path: '/?q=1' }))?.name).toBe('post');
    expect(t.match(input({ method: 'GET', path: '/?q=1' }))).toBeNull();
    expect(t.match(input({ method: 'POST', path: '/' }))).toBeNull();
  });

  it('requires every header matcher to match', () => {
    const t = table(
      route({
        name: 'both',
        match: {
          headers: [
            headerMatcher({ name: 'a', presentMatch: true }),
            headerMatcher({ name: 'b', stringMatch: { exact: '1', ignoreCase: false } }),
          ],
        },
      }),
    );
    expect(matched(t, '/', { a: 'x', b: '1' })).toBe('both');
    expect(matched(t, '/', { a: 'x' })).toBeNull();
    expect(matched(t, '/', { b: '1' })).toBeNull();
  });
});

describe('route matching: query parameters, gRPC, runtime fraction', () => {
  it('matches query parameters by value (first one, percent-decoded) or presence', () => {
    const t = table(
      route({
        name: 'q',
        match: {
          queryParameters: [
            { name: 'user', stringMatch: { exact: 'a b', ignoreCase: false } },
            { name: 'debug', presentMatch: true },
          ],
        },
      }),
      route({ name: 'absent', match: { queryParameters: [{ name: 'debug', presentMatch: false }] } }),
    );
    expect(matched(t, '/x?user=a%20b&debug')).toBe('q');
    expect(matched(t, '/x?debug=0&user=a%20b')).toBe('q');
    // The first value counts.
    expect(matched(t, '/x?user=c&user=a%20b&debug')).toBeNull();
    expect(matched(t, '/x?user=a%20b')).toBe('absent');
    expect(matched(t, '/x')).toBe('absent');
    // Names are decoded too; a bad escape is kept as is.
    const n = table(
      route({
        name: 'n',
        match: { queryParameters: [{ name: 'a b', stringMatch: { exact: '%zz', ignoreCase: false } }] },
      }),
    );
    expect(matched(n, '/?a%20b=%zz')).toBe('n');
  });

  it('parses the query once per match, only when a route needs it', () => {
    const routes = Array.from({ length: 50 }, (_, i) =>
      route({
        name: `r${i}`,
        match: { queryParameters: [{ name: 'v', stringMatch: { exact: String(i), ignoreCase: false } }] },
      }),
    );
    const t = table(...routes);
    expect(matched(t, '/?v=49')).toBe('r49');
    expect(matched(t, '/?v=50')).toBeNull();
  });

  it('matches grpc: true only on gRPC requests', () => {
    const t = table(route({ name: 'grpc', match: { grpc: true } }), route({ name: 'http' }));
    expect(matched(t, '/pkg.Svc/Call', { 'content-type': 'application/grpc' })).toBe('grpc');
    expect(matched(t, '/pkg.Svc/Call', { 'content-type': 'application/grpc+proto' })).toBe('grpc');
    expect(matched(t, '/pkg.Svc/Call', { 'content-type': 'application/grpc;charset=utf-8' })).toBe('grpc');
    expect(matched(t, '/pkg.Svc/Call', { 'content-type': 'application/grpc-web' })).toBe('http');
    expect(matched(t, '/pkg.Svc/Call', { 'content-type': 'application/json' })).toBe('http');
    expect(matched(t, '/pkg.Svc/Call')).toBe('http');
  });

  it('takes a runtime fraction of the requests, one draw per request for every route', () => {
    const t = table(
      route({ name: 'ten', match: { runtimeFraction: { numerator: 10, denominator: 100 } } }),
      route({ name: 'half', match: { runtimeFraction: { numerator: 5000, denominator: 10_000 } } }),
      route({ name: 'rest' }),
    );
    expect(matched(t, '/', {}, 0.05)).toBe('ten');
    expect(matched(t, '/', {}, 0.1)).toBe('half');
    expect(matched(t, '/', {}, 0.49)).toBe('half');
    expect(matched(t, '/', {}, 0.5)).toBe('rest');
    let draws = 0;
    const r = t.match(input({}, () => (draws++, 0.7)));
    expect(r?.name).toBe('rest');
    expect(draws).toBe(1);
    // No fraction to evaluate: no draw at all.
    draws = 0;
    table(route()).match(input({}, () => (draws++, 0.7)));
    expect(draws).toBe(0);
  });

  it('does not keep the last request alive after a match', () => {
    const t = table(route({ name: 'q', match: { queryParameters: [{ name: 'a', presentMatch: true }] } }));
    const i = input({ path: '/?a' });
    expect(t.match(i)?.name).toBe('q');
    // The next match sees its own request, not a cached query of the previous one.
    expect(t.match(input({ path: '/?b' }))).toBeNull();
  });
});

describe('match() is pure', () => {
  it('changes nothing in the request it matches, and tables of one config are independent', () => {
    const config = routeConfig({
      virtualHosts: [
        vhost({
          routes: [
            route({
              name: 'q',
              match: { prefix: '/a', queryParameters: [{ name: 'x', presentMatch: true }] },
            }),
          ],
        }),
      ],
    });
    const a = compileRouteTable(config);
    const b = compileRouteTable(config);
    const i = input({ path: '/a?x=1', authority: 'Example.COM:80', headers: { 'x-y': ['1', '2'] } });
    const before = JSON.stringify(i.request);
    expect(a.match(i)?.name).toBe('q');
    expect(b.match(i)).not.toBe(a.match(i));
    expect(JSON.stringify(i.request)).toBe(before);
  });
});

describe('route actions are exclusive', () => {
  it('a route forwards, redirects or answers', () => {
    const t = table(
      route({ name: 'fwd', match: { prefix: '/f' }, route: action({ cluster: 'c' }) }),
      route({ name: 'dr', match: { prefix: '/d' }, directResponse: { status: 204 } }),
      route({
        name: 'rd',
        match: { prefix: '/r' },
        redirect: { httpsRedirect: true, responseCode: 301, stripQuery: false },
      }),
    );
    const f = t.match(input({ path: '/f' }));
    expect(f?.action).toBeDefined();
    expect(f?.redirect).toBeUndefined();
    expect(f?.directResponse).toBeUndefined();
    const d = t.match(input({ path: '/d' }));
    expect(d?.action).toBeUndefined();
    expect(d?.directResponse).toEqual({ status: 204, body: undefined });
    const r = t.match(input({ path: '/r' }));
    expect(r?.action).toBeUndefined();
    expect(r?.redirect?.(input({ path: '/r' }).request)).toEqual({
      status: 301,
      location: 'https://example.com/r',
    });
  });
});

describe('regex literal prefix (a prefilter before the regex runs)', () => {
  it.each([
    ['/api/v[0-9]+', '/api/v'],
    ['^/users/\\d+', '/users/'],
    ['/a\\.b/c', '/a.b/c'],
    ['/ab*c', '/a'],
    ['/ab+c', '/ab'],
    ['/x{2}', '/'],
    ['/a|/b', ''],
    ['(/a|/b)/c', ''],
    ['/(a|b)/c', '/'],
    ['/[|]x', '/'],
    ['(?i)/api', ''],
    ['.*', ''],
    ['/😀?x', '/'],
  ])('%s → %s', (pattern, prefix) => {
    expect(literalPrefix(pattern)).toBe(prefix);
  });

  it('is sound: every path the regex matches starts with it (property)', () => {
    const atom = fc.constantFrom(
      '/',
      'a',
      'b',
      '\\.',
      '.',
      '[ab]',
      '(a|b)',
      'a*',
      'b?',
      'a+',
      '|',
      '\\d',
      '😀',
      '😀?',
      'x{0,2}',
    );
    fc.assert(
      fc.property(
        fc.array(atom, { minLength: 1, maxLength: 6 }),
        fc.stringMatching(/^[/ab.1😀x]{0,8}$/u),
        (atoms, path) => {
          const pattern = atoms.join('');
          const compiled = compileRegex(pattern);
          if (typeof compiled === 'string') return;
          if (compiled.testExact(path)) expect(path.startsWith(literalPrefix(pattern))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('route index (long route lists)', () => {
  const seg = fc.stringMatching(/^[aAbB/]{0,4}$/);
  const matcher = fc.oneof(
    seg.map((s) => ({ prefix: `/${s}` })),
    seg.map((s) => ({ path: `/${s}` })),
    fc.stringMatching(/^[ab]{1,3}$/).map((s) => ({ pathSeparatedPrefix: `/${s}` })),
    fc
      .array(fc.constantFrom('/', 'a', 'B', '[ab]', 'a*', '(a|b)', '.*', '\\d', 'b+'), {
        minLength: 1,
        maxLength: 5,
      })
      .map((atoms) => ({ safeRegex: atoms.join('') })),
  );
  const routeArb = fc.record({
    m: matcher,
    caseSensitive: fc.boolean(),
    header: fc.boolean(),
  });

  it('takes the same route as trying every route in order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(routeArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.stringMatching(/^[aAbB/1]{0,8}$/), fc.boolean(), fc.boolean()), {
          minLength: 1,
          maxLength: 10,
        }),
        (specs, requests) => {
          const routes = specs.map((s, i) =>
            route({
              name: String(i),
              match: {
                ...s.m,
                caseSensitive: s.caseSensitive,
                headers: s.header ? [headerMatcher({ name: 'x-h', presentMatch: true })] : [],
              },
            }),
          );
          const config = routeConfig({ virtualHosts: [vhost({ routes })] });
          const indexed = compileRouteTable(config, { indexMinRoutes: 0 });
          const linear = compileRouteTable(config, { indexMinRoutes: Infinity });
          for (const [p, query, h] of requests) {
            const x = input({ path: `/${p}${query ? '?q=/a' : ''}`, headers: h ? { 'x-h': '1' } : {} });
            expect(indexed.match(x)?.name).toBe(linear.match(x)?.name);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('falls back to trying every route when too many are candidates', () => {
    const routes = Array.from({ length: 100 }, (_, i) =>
      route({
        name: String(i),
        match: {
          prefix: '/',
          headers: [headerMatcher({ name: 'x-n', stringMatch: { exact: String(i), ignoreCase: false } })],
        },
      }),
    );
    const t = compileRouteTable(routeConfig({ virtualHosts: [vhost({ routes })] }));
    expect(t.match(input({ headers: { 'x-n': '99' } }))?.name).toBe('99');
    expect(t.match(input({ headers: { 'x-n': '100' } }))).toBeNull();
  });

  it('indexes 1000 prefix routes', () => {
    const routes = Array.from({ length: 1000 }, (_, i) =>
      route({ name: String(i), match: { prefix: `/svc${i}/` } }),
    );
    const t = compileRouteTable(routeConfig({ virtualHosts: [vhost({ routes })] }));
    expect(t.match(input({ path: '/svc999/x' }))?.name).toBe('999');
    expect(t.match(input({ path: '/svc10/x' }))?.name).toBe('10');
    expect(t.match(input({ path: '/svc1000/x' }))).toBeNull();
  });
});
