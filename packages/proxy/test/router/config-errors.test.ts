import { describe, expect, it } from 'vitest';
import { ConfigError, isMeshletError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import { compileRouteTable } from '../../src/router/index.js';
import { action, header, headerMatcher, route, routeConfig, vhost } from './helpers.js';

const R = 'route_config "main" › virtual_hosts[0] ("vh") › routes[0]';

function withRoute(r: model.Route) {
  return () => compileRouteTable(routeConfig({ virtualHosts: [vhost({ routes: [r] })] }));
}

describe('config errors', () => {
  it('throws a ConfigError (MESHLET_ERR_CONFIG) naming route config, virtual host and route', () => {
    let error: unknown;
    try {
      withRoute(route({ name: 'bad', match: { safeRegex: '(' } }))();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(isMeshletError(error, 'MESHLET_ERR_CONFIG')).toBe(true);
    expect((error as Error).message).toMatch(
      /^route_config "main" › virtual_hosts\[0\] \("vh"\) › routes\[0\] \("bad"\) › match\.safe_regex: invalid RE2 regex "\("/,
    );
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'a domain in two virtual hosts (case-insensitively)',
      () =>
        compileRouteTable(
          routeConfig({
            virtualHosts: [
              vhost({ name: 'a', domains: ['x.com'] }),
              vhost({ name: 'b', domains: ['X.com'] }),
            ],
          }),
        ),
      /virtual_hosts\[1\] \("b"\) › domains\[0\]: domain "X.com" is also in virtual_hosts\[0\]/,
    ],
    [
      'two * virtual hosts',
      () => compileRouteTable(routeConfig({ virtualHosts: [vhost({ name: 'a' }), vhost({ name: 'b' })] })),
      /domain "\*" is also in virtual_hosts\[0\]/,
    ],
    [
      'a wildcard in the middle',
      () => compileRouteTable(routeConfig({ virtualHosts: [vhost({ domains: ['a.*.com'] })] })),
      /a wildcard goes first/,
    ],
    [
      'two wildcards',
      () => compileRouteTable(routeConfig({ virtualHosts: [vhost({ domains: ['*.a.*'] })] })),
      /more than one wildcard/,
    ],
    [
      'an empty domain',
      () => compileRouteTable(routeConfig({ virtualHosts: [vhost({ domains: [''] })] })),
      /domains\[0\]: a domain must not be empty/,
    ],
    [
      'no domains',
      () => compileRouteTable(routeConfig({ virtualHosts: [vhost({ domains: [] })] })),
      /domains: a virtual host needs at least one domain/,
    ],
    [
      'two virtual hosts with one name',
      () =>
        compileRouteTable(
          routeConfig({
            virtualHosts: [vhost({ name: 'a', domains: ['a'] }), vhost({ name: 'a', domains: ['b'] })],
          }),
        ),
      /virtual host name "a" is also used/,
    ],
    [
      'no path matcher',
      withRoute({
        ...route(),
        match: { caseSensitive: true, headers: [], queryParameters: [], grpc: false },
      }),
      /match: a route match needs exactly one of prefix/,
    ],
    [
      'two path matchers',
      withRoute(route({ match: { prefix: '/', path: '/a' } })),
      /exactly one of prefix, path/,
    ],
    [
      'a bad path_separated_prefix',
      withRoute(route({ match: { pathSeparatedPrefix: '/a/' } })),
      /match\.path_separated_prefix: "\/a\/" must be/,
    ],
    [
      'no action',
      withRoute({ ...route(), route: undefined } as unknown as model.Route),
      /needs exactly one of route, redirect, direct_response/,
    ],
    [
      'two actions',
      withRoute(
        route({
          directResponse: { status: 200 },
          redirect: { httpsRedirect: true, responseCode: 301, stripQuery: false },
        }),
      ),
      /exactly one of route, redirect/,
    ],
    [
      'no cluster',
      withRoute(route({ route: action({}) })),
      /route: a route action needs exactly one of cluster, weighted_clusters, cluster_header/,
    ],
    [
      'weights that sum to 0',
      withRoute(route({ route: action({ weightedClusters: { clusters: [], totalWeight: 0 } }) })),
      /weighted_clusters › clusters: weighted clusters need a total weight above 0/,
    ],
    [
      'a total_weight that is not the sum',
      withRoute(
        route({
          route: action({
            weightedClusters: {
              clusters: [
                {
                  name: 'a',
                  weight: 1,
                  typedPerFilterConfig: {},
                  requestHeadersToAdd: [],
                  requestHeadersToRemove: [],
                  responseHeadersToAdd: [],
                  responseHeadersToRemove: [],
                },
              ],
              totalWeight: 100,
            },
          }),
        }),
      ),
      /total_weight: 100 is not the sum of the clusters' weights \(1\)/,
    ],
    [
      'prefix and regex rewrite',
      withRoute(
        route({
          route: action({
            cluster: 'c',
            prefixRewrite: '/',
            regexRewrite: { pattern: 'a', substitution: 'b' },
          }),
        }),
      ),
      /prefix_rewrite and regex_rewrite cannot both be set/,
    ],
    [
      'a substitution naming a missing group',
      withRoute(
        route({ route: action({ cluster: 'c', regexRewrite: { pattern: '(a)', substitution: '\\2' } }) }),
      ),
      /regex_rewrite › substitution: \\2 refers to a capture group/,
    ],
    [
      'a bad substitution escape',
      withRoute(
        route({ route: action({ cluster: 'c', regexRewrite: { pattern: 'a', substitution: '\\x' } }) }),
      ),
      /invalid rewrite escape/,
    ],
    [
      'two host rewrites',
      withRoute(route({ route: action({ cluster: 'c', hostRewriteLiteral: 'a', autoHostRewrite: true }) })),
      /only one of host_rewrite_literal/,
    ],
    [
      'a negative timeout',
      withRoute(route({ route: action({ cluster: 'c', timeoutMs: -1 }) })),
      /route › timeout: -1 must not be negative/,
    ],
    [
      'a filter_state hash policy',
      withRoute(
        route({
          route: action({ cluster: 'c', hashPolicy: [{ filterState: { key: 'k' }, terminal: false }] }),
        }),
      ),
      /hash_policy\[0\] › filter_state: filter state hash policies are not supported/,
    ],
    [
      'non-scalar subset metadata',
      withRoute(
        route({ route: action({ cluster: 'c', metadataMatch: { 'envoy.lb': { v: { nested: 1 } } } }) }),
      ),
      /metadata_match\.filter_metadata\["envoy.lb"\]\.v/,
    ],
    [
      'a bad runtime fraction',
      withRoute(route({ match: { runtimeFraction: { numerator: 1, denominator: 7 as 100 } } })),
      /match\.runtime_fraction: denominator 7/,
    ],
    [
      'a bad mirror fraction',
      withRoute(
        route({
          route: action({
            cluster: 'c',
            requestMirrorPolicies: [{ cluster: 's', runtimeFraction: { numerator: -1, denominator: 100 } }],
          }),
        }),
      ),
      /request_mirror_policies\[0\] \("s"\) › runtime_fraction: numerator -1/,
    ],
    [
      'a bad header regex',
      withRoute(
        route({
          match: {
            headers: [headerMatcher({ name: 'x', stringMatch: { safeRegex: '[', ignoreCase: false } })],
          },
        }),
      ),
      /match\.headers\[0\] \("x"\)\.string_match\.safe_regex/,
    ],
    [
      'an empty range',
      withRoute(
        route({ match: { headers: [headerMatcher({ name: 'x', rangeMatch: { start: 5, end: 5 } })] } }),
      ),
      /match\.headers\[0\] \("x"\)\.range_match: \[5, 5\) is not a range/,
    ],
    [
      'two header specifiers',
      withRoute(
        route({
          match: {
            headers: [headerMatcher({ name: 'x', presentMatch: true, rangeMatch: { start: 0, end: 1 } })],
          },
        }),
      ),
      /match\.headers\[0\] \("x"\): takes only one of string_match, present_match, range_match/,
    ],
    [
      'a string matcher with two kinds',
      withRoute(
        route({
          match: {
            headers: [
              headerMatcher({ name: 'x', stringMatch: { exact: 'a', prefix: 'b', ignoreCase: false } }),
            ],
          },
        }),
      ),
      /exactly one of exact, prefix/,
    ],
    [
      'an empty prefix matcher',
      withRoute(
        route({
          match: { queryParameters: [{ name: 'q', stringMatch: { prefix: '', ignoreCase: false } }] },
        }),
      ),
      /query_parameters\[0\] \("q"\)\.string_match\.prefix: must not be empty/,
    ],
    [
      'a redirect with two path rewrites',
      withRoute(
        route({
          redirect: {
            httpsRedirect: false,
            pathRedirect: '/a',
            prefixRewrite: '/b',
            responseCode: 301,
            stripQuery: false,
          },
        }),
      ),
      /redirect: only one of path_redirect, prefix_rewrite, regex_rewrite/,
    ],
    [
      'a redirect status',
      withRoute(route({ redirect: { httpsRedirect: false, responseCode: 200 as 301, stripQuery: false } })),
      /redirect › response_code: 200/,
    ],
    [
      'https and scheme redirect',
      withRoute(
        route({
          redirect: { httpsRedirect: true, schemeRedirect: 'http', responseCode: 301, stripQuery: false },
        }),
      ),
      /https_redirect and scheme_redirect/,
    ],
    [
      'a bad port redirect',
      withRoute(
        route({
          redirect: { httpsRedirect: false, portRedirect: 70_000, responseCode: 301, stripQuery: false },
        }),
      ),
      /port_redirect: 70000 is not a port/,
    ],
    [
      'a direct response status',
      withRoute(route({ directResponse: { status: 99 } })),
      /direct_response › status: 99 is outside 200-599/,
    ],
    [
      'a missing body file',
      withRoute(route({ directResponse: { status: 200, body: { filename: '/nonexistent/meshlet/body' } } })),
      /direct_response › body › filename: cannot read "\/nonexistent\/meshlet\/body"/,
    ],
    [
      'a body over the limit',
      withRoute(route({ directResponse: { status: 200, body: { inlineString: 'x'.repeat(4097) } } })),
      /4097 bytes exceed the direct response body limit of 4096/,
    ],
    [
      'an unknown formatter',
      withRoute(route({ requestHeadersToAdd: [header('x', '%UPSTREAM_HOST%')] })),
      /request_headers_to_add\[0\]: unsupported formatter command %UPSTREAM_HOST%/,
    ],
    [
      'an unterminated formatter',
      withRoute(route({ requestHeadersToAdd: [header('x', '100%')] })),
      /unterminated formatter command/,
    ],
    [
      'adding :authority',
      withRoute(route({ requestHeadersToAdd: [header(':authority', 'x')] })),
      /header ":authority" cannot be added or removed/,
    ],
    [
      'removing host',
      withRoute(route({ requestHeadersToRemove: ['Host'] })),
      /request_headers_to_remove\[0\]: header "host" cannot be added/,
    ],
    [
      'an unknown append action',
      withRoute(
        route({
          requestHeadersToAdd: [
            {
              header: { key: 'x', value: 'y' },
              appendAction: 'SOMETIMES' as 'ADD_IF_ABSENT',
              keepEmptyValue: false,
            },
          ],
        }),
      ),
      /unknown append_action "SOMETIMES"/,
    ],
  ])('rejects %s', (_, compile, message) => {
    expect(compile).toThrow(ConfigError);
    expect(compile).toThrow(message);
  });

  it('reports a config that is not the model shape as a ConfigError', () => {
    const broken = {
      name: 'hand-written',
      virtualHosts: [{ name: 'v', domains: ['*'] }],
    } as unknown as model.RouteConfiguration;
    expect(() => compileRouteTable(broken)).toThrow(ConfigError);
    expect(() => compileRouteTable(broken)).toThrow(
      /^route_config "hand-written": not a valid RouteConfiguration/,
    );
    expect(() => compileRouteTable(null as unknown as model.RouteConfiguration)).toThrow(ConfigError);
  });

  it('applies the body limit and file reader from the options', () => {
    const config = routeConfig({
      virtualHosts: [
        vhost({ routes: [route({ directResponse: { status: 200, body: { filename: 'page' } } })] }),
      ],
    });
    const table = compileRouteTable(config, {
      readFile: (p) => Buffer.from(`read ${p}`),
      maxDirectResponseBodyBytes: 100,
    });
    expect(
      table
        .match({
          request: { method: 'GET', scheme: 'http', authority: 'a', path: '/', headers: {} },
          connection: undefined as never,
          random: () => 0,
        })
        ?.directResponse?.body?.toString(),
    ).toBe('read page');
    expect(() =>
      compileRouteTable(config, { readFile: () => Buffer.alloc(101), maxDirectResponseBodyBytes: 100 }),
    ).toThrow(/101 bytes exceed/);
  });

  it('names the route config, virtual host and route in the message prefix', () => {
    expect(withRoute(route({ route: action({ cluster: 'c', timeoutMs: -5 }) }))).toThrow(
      `${R} › route › timeout`,
    );
  });
});
