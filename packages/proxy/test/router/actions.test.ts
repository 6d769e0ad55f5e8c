import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRequestHasher } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import { compileRouteTable } from '../../src/router/index.js';
import type { ClusterChoice, MatchInput, ResponseHead, RouteEntry } from '../../src/types.js';
import { action, connection, header, input, request, route, routeConfig, vhost } from './helpers.js';

function only(
  r: model.Route,
  v: Partial<model.VirtualHost> = {},
  c: Partial<model.RouteConfiguration> = {},
): RouteEntry {
  const t = compileRouteTable(routeConfig({ ...c, virtualHosts: [vhost({ ...v, routes: [r] })] }));
  const entry = t.match(input({ path: '/' }));
  if (!entry) throw new Error('no route');
  return entry;
}

function forward(a: Partial<model.RouteAction>, r: Partial<model.Route> = {}) {
  const targets = a.cluster ?? a.weightedClusters ?? a.clusterHeader;
  const entry = only(route({ ...r, route: action(targets === undefined ? { cluster: 'c', ...a } : a) }));
  if (!entry.action) throw new Error('no action');
  return entry.action;
}

describe('cluster selection', () => {
  it('chooses the one cluster, with the route metadata match for subsets', () => {
    const a = forward({
      cluster: 'reviews',
      metadataMatch: { 'envoy.lb': { version: 'v2', canary: true }, other: { x: 1 } },
    });
    const choice = a.selectCluster(input());
    expect(choice?.name).toBe('reviews');
    expect(choice?.metadataMatch).toEqual({ version: 'v2', canary: true });
    expect(choice?.headerChanges).toBeUndefined();
    // The same object each time: no allocation per request.
    expect(a.selectCluster(input())).toBe(a.selectCluster(input()));
  });

  it('draws weighted clusters with random(), in proportion to their weights', () => {
    const a = forward({
      weightedClusters: {
        clusters: [
          {
            name: 'v1',
            weight: 90,
            typedPerFilterConfig: {},
            requestHeadersToAdd: [],
            requestHeadersToRemove: [],
            responseHeadersToAdd: [],
            responseHeadersToRemove: [],
          },
          {
            name: 'zero',
            weight: 0,
            typedPerFilterConfig: {},
            requestHeadersToAdd: [],
            requestHeadersToRemove: [],
            responseHeadersToAdd: [],
            responseHeadersToRemove: [],
          },
          {
            name: 'v2',
            weight: 10,
            metadataMatch: { 'envoy.lb': { version: 'v2' } },
            typedPerFilterConfig: {},
            requestHeadersToAdd: [header('x-canary', '1')],
            requestHeadersToRemove: [],
            responseHeadersToAdd: [],
            responseHeadersToRemove: [],
          },
        ],
        totalWeight: 100,
      },
      metadataMatch: { 'envoy.lb': { stage: 'prod', version: 'v1' } },
    });
    const at = (r: number) => a.selectCluster(input({}, r));
    expect(at(0)?.name).toBe('v1');
    expect(at(0.899)?.name).toBe('v1');
    expect(at(0.9)?.name).toBe('v2');
    expect(at(0.9999)?.name).toBe('v2');
    // The weighted cluster's subset keys override the route's.
    expect(at(0)?.metadataMatch).toEqual({ stage: 'prod', version: 'v1' });
    expect(at(0.95)?.metadataMatch).toEqual({ stage: 'prod', version: 'v2' });
    expect(at(0.95)?.headerChanges?.requestHeadersToAdd).toHaveLength(1);
    expect(at(0)?.headerChanges).toBeUndefined();
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const name = at(i / 1000)?.name ?? '';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ v1: 900, v2: 100 });
  });

  it('takes the cluster a request header names; none when the header is missing or empty', () => {
    const a = forward({ clusterHeader: 'X-Cluster' });
    expect(a.selectCluster(input({ headers: { 'x-cluster': 'orders' } }))?.name).toBe('orders');
    expect(a.selectCluster(input({ headers: { 'x-cluster': ['a', 'b'] } }))?.name).toBe('a');
    expect(a.selectCluster(input({ headers: {} }))).toBeNull();
    expect(a.selectCluster(input({ headers: { 'x-cluster': '' } }))).toBeNull();
    // Many distinct names (the header is untrusted) still work, cached or not.
    for (let i = 0; i < 200; i++)
      expect(a.selectCluster(input({ headers: { 'x-cluster': `c${i}` } }))?.name).toBe(`c${i}`);
  });
});

describe('rewrites', () => {
  function rewritten(
    a: Partial<model.RouteAction>,
    m: Partial<model.RouteMatch>,
    path: string,
    headers = {},
  ) {
    const t = compileRouteTable(
      routeConfig({
        virtualHosts: [vhost({ routes: [route({ match: m, route: action({ cluster: 'c', ...a }) })] })],
      }),
    );
    const req = request({ path, headers: { ...headers } });
    const entry = t.match({ request: req, connection, random: () => 0 });
    if (!entry?.action) throw new Error(`no route for ${path}`);
    entry.action.rewrite(req);
    return req;
  }

  it('replaces the matched prefix, keeping the original path in x-envoy-original-path', () => {
    const r = rewritten({ prefixRewrite: '/v2/' }, { prefix: '/api/' }, '/api/users?id=1');
    expect(r.path).toBe('/v2/users?id=1');
    expect(r.headers['x-envoy-original-path']).toBe('/api/users?id=1');
    expect(rewritten({ prefixRewrite: '/' }, { prefix: '/static' }, '/static/app.js').path).toBe('//app.js');
    expect(rewritten({ prefixRewrite: '/' }, { prefix: '/static/' }, '/static/app.js').path).toBe('/app.js');
    // Case-insensitive routes replace what matched, whatever its case.
    expect(
      rewritten({ prefixRewrite: '/x/' }, { prefix: '/api/', caseSensitive: false }, '/API/a').path,
    ).toBe('/x/a');
    // An exact path route replaces the path, keeping the query.
    expect(rewritten({ prefixRewrite: '/new' }, { path: '/old' }, '/old?q=1').path).toBe('/new?q=1');
    expect(rewritten({ prefixRewrite: '/v1' }, { pathSeparatedPrefix: '/api' }, '/api/x').path).toBe('/v1/x');
    // A regex route replaces the whole path.
    expect(rewritten({ prefixRewrite: '/all' }, { safeRegex: '/[a-z]+' }, '/abc?z').path).toBe('/all?z');
  });

  it('applies a regex rewrite with \\1 groups to the path without its query', () => {
    const r = rewritten(
      { regexRewrite: { pattern: '^/service/([^/]+)(/.*)$', substitution: '\\2/instance/\\1' } },
      { prefix: '/service' },
      '/service/foo/v1/api?x=1',
    );
    expect(r.path).toBe('/v1/api/instance/foo?x=1');
    expect(r.headers['x-envoy-original-path']).toBe('/service/foo/v1/api?x=1');
    // Every match is replaced (RE2::GlobalReplace), and \\ is a backslash.
    expect(rewritten({ regexRewrite: { pattern: 'o', substitution: '0' } }, {}, '/foo/boo').path).toBe(
      '/f00/b00',
    );
    expect(rewritten({ regexRewrite: { pattern: '/', substitution: '\\\\' } }, {}, '/a/b').path).toBe(
      '\\a\\b',
    );
    // Empty matches as RE2 finds them: not right after the previous match.
    expect(rewritten({ regexRewrite: { pattern: 'x*', substitution: '-' } }, {}, '/ab').path).toBe('-/-a-b-');
    expect(rewritten({ regexRewrite: { pattern: 'a*', substitution: '-' } }, {}, '/baaac').path).toBe(
      '-/-b-c-',
    );
    // No match: the path is unchanged (Envoy still records the original).
    expect(rewritten({ regexRewrite: { pattern: 'zzz', substitution: 'y' } }, {}, '/a').path).toBe('/a');
  });

  it('leaves the path alone without a rewrite', () => {
    const r = rewritten({}, {}, '/a');
    expect(r.path).toBe('/a');
    expect(r.headers['x-envoy-original-path']).toBeUndefined();
  });

  it('rewrites the host from a literal or a header, and flags auto_host_rewrite for the router filter', () => {
    expect(rewritten({ hostRewriteLiteral: 'internal.svc' }, {}, '/').authority).toBe('internal.svc');
    expect(rewritten({ hostRewriteHeader: 'X-Host' }, {}, '/', { 'x-host': 'from.header' }).authority).toBe(
      'from.header',
    );
    expect(rewritten({ hostRewriteHeader: 'x-host' }, {}, '/').authority).toBe('example.com');
    expect(
      rewritten({ hostRewriteHeader: 'x-host' }, {}, '/', { 'x-host': ['first', 'second'] }).authority,
    ).toBe('first');
    expect(forward({ autoHostRewrite: true }).autoHostRewrite).toBe(true);
    expect(forward({}).autoHostRewrite).toBe(false);
  });
});

describe('redirects', () => {
  function location(
    redirect: Partial<model.RedirectAction>,
    req: Parameters<typeof request>[0],
    m: Partial<model.RouteMatch> = {},
  ) {
    const t = compileRouteTable(
      routeConfig({
        virtualHosts: [
          vhost({
            routes: [
              route({
                match: m,
                redirect: { httpsRedirect: false, responseCode: 301, stripQuery: false, ...redirect },
              }),
            ],
          }),
        ],
      }),
    );
    const r = request(req);
    const entry = t.match({ request: r, connection, random: () => 0 });
    if (!entry?.redirect) throw new Error('no redirect');
    return entry.redirect(r);
  }

  it.each<[string, Partial<model.RedirectAction>, Parameters<typeof request>[0], string]>([
    [
      'https, default port dropped',
      { httpsRedirect: true },
      { authority: 'a.com:80', path: '/x?y=1' },
      'https://a.com/x?y=1',
    ],
    [
      'https, other port kept',
      { httpsRedirect: true },
      { authority: 'a.com:8080', path: '/x' },
      'https://a.com:8080/x',
    ],
    [
      'https from https keeps :443',
      { httpsRedirect: true },
      { scheme: 'https', authority: 'a.com:443', path: '/' },
      'https://a.com:443/',
    ],
    [
      'scheme http from https drops :443',
      { schemeRedirect: 'http' },
      { scheme: 'https', authority: 'a.com:443', path: '/' },
      'http://a.com/',
    ],
    ['host', { hostRedirect: 'b.com' }, { authority: 'a.com:8080', path: '/p' }, 'http://b.com/p'],
    ['port', { portRedirect: 8443 }, { authority: 'a.com:8080', path: '/p' }, 'http://a.com:8443/p'],
    [
      'port that is the default',
      { httpsRedirect: true, portRedirect: 443 },
      { authority: 'a.com:8080', path: '/p' },
      'https://a.com/p',
    ],
    [
      'port replaces host_redirect port',
      { hostRedirect: 'b.com:1', portRedirect: 2 },
      { path: '/' },
      'http://b.com:2/',
    ],
    [
      'IPv6 host, port dropped',
      { httpsRedirect: true },
      { authority: '[::1]:80', path: '/' },
      'https://[::1]/',
    ],
    ['path keeps the query', { pathRedirect: '/new' }, { path: '/old?a=1' }, 'http://example.com/new?a=1'],
    [
      'path with its own query wins',
      { pathRedirect: '/new?b=2', stripQuery: true },
      { path: '/old?a=1' },
      'http://example.com/new?b=2',
    ],
    ['path gets a leading /', { pathRedirect: 'new' }, { path: '/old' }, 'http://example.com/new'],
    ['strip query', { stripQuery: true }, { path: '/a?b=1' }, 'http://example.com/a'],
    ['prefix rewrite', { prefixRewrite: '/v2/' }, { path: '/v1/x?q' }, 'http://example.com/v2/x?q'],
    [
      'regex rewrite',
      { regexRewrite: { pattern: '^/(\\w+)/(\\w+)$', substitution: '/\\2/\\1' } },
      { path: '/a/b?q' },
      'http://example.com/b/a?q',
    ],
  ])('%s', (_, redirect, req, expected) => {
    const m = redirect.prefixRewrite ? { prefix: '/v1/' } : {};
    expect(location(redirect, req, m).location).toBe(expected);
  });

  it('answers with the configured status', () => {
    expect(location({ responseCode: 308 }, {}).status).toBe(308);
  });

  it('redirects plain-text requests to a virtual host with require_tls', () => {
    const t = compileRouteTable(
      routeConfig({
        virtualHosts: [
          vhost({ name: 'all', domains: ['secure.com'], requireTls: 'ALL' }),
          vhost({ name: 'ext', domains: ['ext.com'], requireTls: 'EXTERNAL_ONLY' }),
        ],
      }),
    );
    const plain = t.match(input({ authority: 'secure.com', path: '/a?b' }));
    expect(plain?.redirect?.(request({ authority: 'secure.com', path: '/a?b' }))).toEqual({
      status: 301,
      location: 'https://secure.com/a?b',
    });
    expect(t.match(input({ authority: 'secure.com', scheme: 'https' }))?.action).toBeDefined();
    expect(t.match(input({ authority: 'ext.com' }))?.redirect).toBeDefined();
    expect(
      t.match(input({ authority: 'ext.com', headers: { 'x-envoy-internal': 'true' } }))?.action,
    ).toBeDefined();
  });
});

describe('direct responses', () => {
  it('answers with an inline string, inline bytes (base64) or a file read at compile time', () => {
    expect(
      only(route({ directResponse: { status: 200, body: { inlineString: 'héllo' } } })).directResponse,
    ).toEqual({
      status: 200,
      body: Buffer.from('héllo'),
    });
    expect(
      only(
        route({
          directResponse: { status: 503, body: { inlineBytes: Buffer.from([0, 1, 2]).toString('base64') } },
        }),
      ).directResponse?.body,
    ).toEqual(Buffer.from([0, 1, 2]));
    const dir = mkdtempSync(join(tmpdir(), 'meshlet-router-'));
    const file = join(dir, 'maintenance.html');
    writeFileSync(file, '<h1>down</h1>');
    const entry = only(route({ directResponse: { status: 503, body: { filename: file } } }));
    // Changing the file later changes nothing: it was read once.
    writeFileSync(file, 'changed');
    expect(entry.directResponse?.body?.toString()).toBe('<h1>down</h1>');
  });
});

describe('header changes', () => {
  const vhostChanges: Partial<model.VirtualHost> = {
    requestHeadersToAdd: [header('x-level', 'vhost'), header('x-vhost', 'v', 'OVERWRITE_IF_EXISTS_OR_ADD')],
    requestHeadersToRemove: ['x-remove-vhost'],
    responseHeadersToAdd: [header('x-level', 'vhost')],
    responseHeadersToRemove: ['server'],
  };
  const configChanges: Partial<model.RouteConfiguration> = {
    requestHeadersToAdd: [
      header('x-level', 'global'),
      header('x-final', 'global', 'OVERWRITE_IF_EXISTS_OR_ADD'),
    ],
    responseHeadersToAdd: [header('x-level', 'global')],
  };

  it('applies route, then virtual host, then route configuration (Envoy default: the least specific overwrite wins)', () => {
    const entry = only(
      route({
        requestHeadersToAdd: [
          header('x-level', 'route'),
          header('x-final', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD'),
        ],
        requestHeadersToRemove: ['X-Remove-Route'],
        responseHeadersToAdd: [header('x-level', 'route')],
      }),
      vhostChanges,
      configChanges,
    );
    const req = request({ headers: { 'x-remove-route': '1', 'x-remove-vhost': '1', 'x-keep': 'k' } });
    entry.applyRequestHeaders(req, null);
    expect(req.headers).toEqual({
      'x-keep': 'k',
      'x-level': ['route', 'vhost', 'global'],
      'x-vhost': 'v',
      'x-final': 'global',
    });
    const res: ResponseHead = { status: 200, headers: { server: 'upstream' } };
    entry.applyResponseHeaders(res, null);
    expect(res.headers).toEqual({ 'x-level': ['route', 'vhost', 'global'] });
  });

  it('applies the chosen weighted cluster before the route', () => {
    const wc = (name: string, weight: number, value: string): model.WeightedCluster => ({
      name,
      weight,
      typedPerFilterConfig: {},
      requestHeadersToAdd: [header('x-level', value)],
      requestHeadersToRemove: [],
      responseHeadersToAdd: [header('x-served-by', value)],
      responseHeadersToRemove: [],
    });
    const entry = only(
      route({
        route: action({ weightedClusters: { clusters: [wc('a', 1, 'a'), wc('b', 1, 'b')], totalWeight: 2 } }),
        requestHeadersToAdd: [header('x-level', 'route')],
      }),
    );
    const choice = entry.action?.selectCluster(input({}, 0.9)) as ClusterChoice;
    const req = request();
    entry.applyRequestHeaders(req, choice);
    expect(req.headers['x-level']).toEqual(['b', 'route']);
    const res: ResponseHead = { status: 200, headers: {} };
    entry.applyResponseHeaders(res, choice);
    expect(res.headers['x-served-by']).toBe('b');
    // A choice built elsewhere with header changes is honoured too.
    const foreign: ClusterChoice = {
      name: 'x',
      metadataMatch: undefined,
      headerChanges: wc('x', 1, 'foreign'),
    };
    const req2 = request();
    entry.applyRequestHeaders(req2, foreign);
    expect(req2.headers['x-level']).toEqual(['foreign', 'route']);
  });

  it('follows each append action and keep_empty_value', () => {
    const entry = only(
      route({
        requestHeadersToAdd: [
          header('append', 'new'),
          header('absent', 'new', 'ADD_IF_ABSENT'),
          header('present', 'new', 'ADD_IF_ABSENT'),
          header('overwrite', 'new', 'OVERWRITE_IF_EXISTS_OR_ADD'),
          header('overwrite-missing', 'new', 'OVERWRITE_IF_EXISTS_OR_ADD'),
          header('if-exists', 'new', 'OVERWRITE_IF_EXISTS'),
          header('if-exists-missing', 'new', 'OVERWRITE_IF_EXISTS'),
          header('empty-dropped', ''),
          header('empty-kept', '', 'APPEND_IF_EXISTS_OR_ADD', true),
          header('append-many', 'c'),
        ],
      }),
    );
    const req = request({
      headers: {
        append: 'old',
        present: 'old',
        overwrite: 'old',
        'if-exists': 'old',
        'append-many': ['a', 'b'],
      },
    });
    entry.applyRequestHeaders(req, null);
    expect(req.headers).toEqual({
      append: ['old', 'new'],
      absent: 'new',
      present: 'old',
      overwrite: 'new',
      'overwrite-missing': 'new',
      'if-exists': 'new',
      'empty-kept': '',
      'append-many': ['a', 'b', 'c'],
    });
  });

  it('formats %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %REQ(x)% and %%', () => {
    const entry = only(
      route({
        requestHeadersToAdd: [
          header('x-client', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'),
          header('x-peer', '%DOWNSTREAM_REMOTE_ADDRESS%'),
          header('x-local', '%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%:%DOWNSTREAM_LOCAL_PORT%'),
          header('x-ua', 'ua=%REQ(User-Agent)%'),
          header('x-host', '%REQ(x-missing?:authority)%'),
          header('x-short', '%REQ(user-agent):4%'),
          header('x-missing', '%REQ(x-nope)%'),
          header('x-percent', '100%%'),
        ],
        responseHeadersToAdd: [header('x-echo-method', '%REQ(:method)%')],
      }),
    );
    const req = request({ headers: { 'user-agent': 'curl/8.0' } });
    entry.applyRequestHeaders(req, null, connection);
    expect(req.headers).toEqual({
      'user-agent': 'curl/8.0',
      'x-client': '10.1.2.3',
      'x-peer': '10.1.2.3:54321',
      'x-local': '10.0.0.1:8080',
      'x-ua': 'ua=curl/8.0',
      'x-host': 'example.com',
      'x-short': 'curl',
      'x-percent': '100%',
    });
    const res: ResponseHead = { status: 200, headers: {} };
    entry.applyResponseHeaders(res, null, req, connection);
    expect(res.headers).toEqual({ 'x-echo-method': 'GET' });
    // Without a connection, connection values are empty and the header is not added.
    const bare = request();
    entry.applyRequestHeaders(bare, null);
    expect(bare.headers['x-client']).toBeUndefined();
  });
});

describe('hash policies', () => {
  it('hashes as @meshlet/lb createRequestHasher does, from the request and its connection', () => {
    const policies: model.HashPolicy[] = [
      { header: { headerName: 'X-User' }, terminal: false },
      { cookie: { name: 'session', path: '/' }, terminal: false },
      { queryParameter: { name: 'tenant' }, terminal: false },
      { connectionProperties: { sourceIp: true }, terminal: false },
    ];
    const a = forward({ hashPolicy: policies });
    const reference = createRequestHasher([
      { header: { headerName: 'x-user' } },
      { cookie: { name: 'session' } },
      { queryParameter: { name: 'tenant' } },
      { connectionProperties: { sourceIp: true } },
    ]);
    const req = request({ path: '/?tenant=t1', headers: { 'x-user': 'u', cookie: 'session=abc' } });
    const hash = a.hash(req, connection);
    expect(typeof hash).toBe('bigint');
    expect(hash).toBe(
      reference({ headers: req.headers, path: req.path, sourceIp: connection.remoteAddress }),
    );
    // Deterministic, and different inputs hash differently.
    expect(a.hash(req, connection)).toBe(hash);
    expect(a.hash(request({ headers: { 'x-user': 'v' } }), connection)).not.toBe(hash);
  });

  it('stops at a terminal policy that produced a hash; null without policies', () => {
    const a = forward({
      hashPolicy: [
        { header: { headerName: 'x-user' }, terminal: true },
        { connectionProperties: { sourceIp: true }, terminal: false },
      ],
    });
    const withUser = a.hash(request({ headers: { 'x-user': 'u' } }), connection);
    expect(withUser).toBe(
      createRequestHasher([{ header: { headerName: 'x-user' } }])({ headers: { 'x-user': 'u' } }),
    );
    expect(a.hash(request(), connection)).toBe(
      createRequestHasher([{ connectionProperties: { sourceIp: true } }])({
        sourceIp: connection.remoteAddress,
      }),
    );
    expect(forward({}).hash(request(), connection)).toBeNull();
    // source_ip: false hashes nothing.
    expect(
      forward({ hashPolicy: [{ connectionProperties: { sourceIp: false }, terminal: false }] }).hash(
        request(),
        connection,
      ),
    ).toBeNull();
  });
});

describe('timeouts, retries, mirrors, priority, upgrades', () => {
  it('carries the timeouts and priority', () => {
    const a = forward({ timeoutMs: 0, idleTimeoutMs: 300_000, grpcTimeoutHeaderMaxMs: 0, priority: 'HIGH' });
    expect(a.timeoutMs).toBe(0);
    expect(a.idleTimeoutMs).toBe(300_000);
    expect(a.grpcTimeoutHeaderMaxMs).toBe(0);
    expect(a.priority).toBe('high');
    const d = forward({});
    expect(d.timeoutMs).toBe(15_000);
    expect(d.idleTimeoutMs).toBeUndefined();
    expect(d.grpcTimeoutHeaderMaxMs).toBeUndefined();
    expect(d.priority).toBe('default');
  });

  it("takes the route's retry policy, else the virtual host's", () => {
    const vhostPolicy: model.RetryPolicy = {
      retryOn: ['5xx'],
      numRetries: 3,
      retriableStatusCodes: [],
      retriableHeaders: [],
      hostSelectionRetryMaxAttempts: 1,
      retryHostPredicates: [],
    };
    const t = compileRouteTable(
      routeConfig({
        virtualHosts: [
          vhost({
            retryPolicy: vhostPolicy,
            routes: [
              route({
                name: 'own',
                match: { prefix: '/own' },
                route: action({ cluster: 'c', retryPolicy: { ...vhostPolicy, numRetries: 7 } }),
              }),
              route({ name: 'inherited' }),
            ],
          }),
        ],
      }),
    );
    expect(t.match(input({ path: '/own' }))?.action?.retryPolicy?.numRetries).toBe(7);
    expect(t.match(input({ path: '/x' }))?.action?.retryPolicy?.numRetries).toBe(3);
    expect(forward({}).retryPolicy).toBeUndefined();
  });

  it('mirrors a fraction of requests (100% by default)', () => {
    const a = forward({
      requestMirrorPolicies: [
        { cluster: 'shadow' },
        { cluster: 'sampled', runtimeFraction: { numerator: 25, denominator: 100 } },
        { cluster: 'capped', runtimeFraction: { numerator: 200, denominator: 100 } },
      ],
    });
    expect(a.mirrors).toEqual([
      { cluster: 'shadow', fraction: 1 },
      { cluster: 'sampled', fraction: 0.25 },
      { cluster: 'capped', fraction: 1 },
    ]);
  });

  it('maps upgrade configs by lower-case type', () => {
    const a = forward({
      upgradeConfigs: [
        { upgradeType: 'WebSocket', enabled: true },
        { upgradeType: 'h2c', enabled: false },
      ],
    });
    expect([...a.upgrades]).toEqual([
      ['websocket', true],
      ['h2c', false],
    ]);
  });
});

describe('per-filter config and CORS', () => {
  const cors = (origin: string): model.CorsPolicy => ({
    allowOriginStringMatch: [{ exact: origin, ignoreCase: false }],
    allowMethods: 'GET',
    allowHeaders: '',
    exposeHeaders: '',
    maxAge: '',
    allowCredentials: false,
    allowPrivateNetworkAccess: false,
    forwardNotMatchingPreflights: false,
  });

  it('merges per-filter overrides: route › virtual host › route configuration', () => {
    const entry = only(
      route({ typedPerFilterConfig: { 'envoy.filters.http.fault': { type: 'disabled' } } }),
      {
        typedPerFilterConfig: {
          'envoy.filters.http.fault': { type: 'custom', typeUrl: 'x', value: { from: 'vhost' } },
          'acme.auth': { type: 'custom', typeUrl: 'acme.auth', value: { from: 'vhost' } },
        },
      },
      {
        typedPerFilterConfig: {
          'acme.auth': { type: 'custom', typeUrl: 'acme.auth', value: { from: 'global' } },
          'acme.log': { type: 'custom', typeUrl: 'acme.log', value: { from: 'global' } },
        },
      },
    );
    expect(Object.fromEntries(entry.perFilterConfig)).toEqual({
      'envoy.filters.http.fault': { type: 'disabled' },
      'acme.auth': { type: 'custom', typeUrl: 'acme.auth', value: { from: 'vhost' } },
      'acme.log': { type: 'custom', typeUrl: 'acme.log', value: { from: 'global' } },
    });
  });

  it("takes the route's CORS policy, else the virtual host's (per-filter, then its cors field)", () => {
    const routeCors = { 'envoy.filters.http.cors': { type: 'cors' as const, policy: cors('https://route') } };
    const vhostCors = {
      'envoy.filters.http.cors': { type: 'cors' as const, policy: cors('https://vhost-filter') },
    };
    expect(only(route({ typedPerFilterConfig: routeCors }), { cors: cors('https://vhost') }).cors).toEqual(
      cors('https://route'),
    );
    expect(only(route(), { cors: cors('https://vhost'), typedPerFilterConfig: vhostCors }).cors).toEqual(
      cors('https://vhost-filter'),
    );
    expect(only(route(), { cors: cors('https://vhost') }).cors).toEqual(cors('https://vhost'));
    expect(only(route(), {}, { typedPerFilterConfig: routeCors }).cors).toEqual(cors('https://route'));
    expect(only(route()).cors).toBeUndefined();
  });

  it('exposes the source route and names', () => {
    const r = route({ name: 'r1' });
    const entry = only(r, { name: 'web' });
    expect(entry.name).toBe('r1');
    expect(entry.virtualHostName).toBe('web');
    expect(entry.source).toBe(r);
  });
});

// Keep the MatchInput type in use for readers of this file: what forward passes to selectCluster.
export type { MatchInput };
