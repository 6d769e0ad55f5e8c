// Time per RouteTable.match() with 10, 100 and 1000 routes in one virtual host, matched by
// prefix, by exact path, by RE2 regex, and by prefix plus a header. The request takes the LAST
// route: the worst case of Envoy's in-order matching. From 16 routes on, a virtual host matches
// through an index of the routes' literal path prefixes; the "(no index)" rows try every route in
// order, and "prefix + header" (every route is `/` plus a header) defeats the index by design.
// Each timed call makes 100 matches (cycling through 64 requests), so the harness's own per-call
// cost is not billed to them; the table shows the time per match. Virtual host selection is
// timed apart, among 1000 exact domains and 100 wildcards.
import type * as model from '@meshlet/xds';
import { compileRouteTable } from '@meshlet/proxy';
import type { MatchInput, RouteTable } from '@meshlet/proxy';
import { consume, fmt, gcCost, measure, smoke, table } from '../../../bench/harness.ts';

const PER_CALL = 100;
const sizes = smoke ? [10, 100] : [10, 100, 1000];

const NO_CHANGES = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
} as const;

type Kind = 'prefix' | 'path' | 'regex' | 'prefix + header';

function route(kind: Kind, i: number): model.Route {
  const match: model.RouteMatch = {
    caseSensitive: true,
    headers:
      kind === 'prefix + header'
        ? [
            {
              name: 'x-tenant',
              stringMatch: { exact: `t${i}`, ignoreCase: false },
              invertMatch: false,
              treatMissingHeaderAsEmpty: false,
            },
          ]
        : [],
    queryParameters: [],
    grpc: false,
    ...(kind === 'regex'
      ? { safeRegex: `/svc${i}/v[0-9]+/items/[0-9]+` }
      : kind === 'path'
        ? { path: `/svc${i}/v1/items` }
        : { prefix: kind === 'prefix' ? `/svc${i}/` : '/' }),
  };
  return {
    name: `r${i}`,
    match,
    route: {
      cluster: `c${i}`,
      autoHostRewrite: false,
      timeoutMs: 15_000,
      hashPolicy: [],
      requestMirrorPolicies: [],
      priority: 'DEFAULT',
      upgradeConfigs: [],
    },
    metadata: {},
    typedPerFilterConfig: {},
    ...NO_CHANGES,
  };
}

function config(kind: Kind, n: number, domains: string[] = ['*']): model.RouteConfiguration {
  return {
    name: 'bench',
    virtualHosts: [
      {
        name: 'vh',
        domains,
        routes: Array.from({ length: n }, (_, i) => route(kind, i)),
        requireTls: 'NONE',
        typedPerFilterConfig: {},
        ...NO_CHANGES,
      },
    ],
    typedPerFilterConfig: {},
    ...NO_CHANGES,
  };
}

const connection = {
  id: 1,
  listenerName: 'bench',
  remoteAddress: '10.0.0.2',
  remotePort: 50000,
  localAddress: '10.0.0.1',
  localPort: 8080,
  tls: false,
  serverName: undefined,
  alpnProtocol: undefined,
};

/** 64 requests for the last route (path, query and headers vary; the route taken does not). */
function inputs(kind: Kind, n: number): MatchInput[] {
  const last = n - 1;
  return Array.from({ length: 64 }, (_, j) => ({
    request: {
      method: 'GET',
      scheme: 'http',
      authority: 'api.example.com',
      path:
        kind === 'path'
          ? `/svc${last}/v1/items?page=${j}`
          : `/svc${last}/v${1 + (j % 3)}/items/${j}?page=${j}`,
      headers: { 'x-tenant': `t${last}`, 'user-agent': 'bench', accept: '*/*' },
    },
    connection,
    random: () => 0.5,
  }));
}

function matches(t: RouteTable, list: readonly MatchInput[], expected: string): () => void {
  if (t.match(list[0] as MatchInput)?.name !== expected) throw new Error(`bench setup: expected ${expected}`);
  let i = 0;
  return () => {
    for (let k = 0; k < PER_CALL; k++) consume(t.match(list[i++ & 63] as MatchInput));
  };
}

const cases: { kind: Kind; index: boolean }[] = [
  { kind: 'prefix', index: true },
  { kind: 'prefix', index: false },
  { kind: 'path', index: true },
  { kind: 'regex', index: true },
  { kind: 'regex', index: false },
  { kind: 'prefix + header', index: true },
];
const rows = [];
for (const { kind, index } of cases) {
  const options = index ? {} : { indexMinRoutes: Infinity };
  const results = await measure(
    sizes.map((n) => ({
      name: `${kind} ${n}`,
      fn: matches(compileRouteTable(config(kind, n), options), inputs(kind, n), `r${n - 1}`),
    })),
  );
  const row: Record<string, string> = { 'route match': index ? kind : `${kind} (no index)` };
  sizes.forEach((n, i) => {
    const r = results[i];
    if (r) row[`${n} routes`] = `${fmt(r.meanNs / PER_CALL, 0)} ns`;
  });
  rows.push(row);
}
table('RouteTable.match(), last route of N (time per match, lower is better)', rows);

// Allocation: a million matches of the 100-route prefix table, and the collections they cause.
const gcTable = compileRouteTable(config('prefix', 100));
const gcInputs = inputs('prefix', 100);
const gcRuns = smoke ? 1000 : 1_000_000;
const gc = await gcCost(() => {
  for (let k = 0; k < gcRuns; k++) consume(gcTable.match(gcInputs[k & 63] as MatchInput));
});
table('Garbage of match() (prefix, 100 routes)', [
  { matches: fmt(gcRuns), 'GC runs': gc.count, 'GC ms': fmt(gc.ms, 1), 'wall ms': fmt(gc.wallMs, 0) },
]);

// Virtual host selection among many domains: exact hit, suffix wildcard, fallback.
const many: model.RouteConfiguration = {
  ...config('prefix', 1),
  virtualHosts: [
    ...Array.from({ length: 1000 }, (_, i) => ({
      ...(config('prefix', 1).virtualHosts[0] as model.VirtualHost),
      name: `h${i}`,
      domains: [`svc${i}.example.com`, `svc${i}.example.com:8080`],
    })),
    ...Array.from({ length: 100 }, (_, i) => ({
      ...(config('prefix', 1).virtualHosts[0] as model.VirtualHost),
      name: `w${i}`,
      domains: [`*.zone${i}.example.net`],
    })),
    { ...(config('prefix', 1).virtualHosts[0] as model.VirtualHost), name: 'any', domains: ['*'] },
  ],
};
const hostTable = compileRouteTable(many);
const hostCases = [
  ['exact', 'svc512.example.com'],
  ['exact, port stripped', 'svc512.example.com:9999'],
  ['*.suffix (100 wildcards)', 'a.zone50.example.net'],
  ['fallback *', 'unknown.org'],
] as const;
const hostResults = await measure(
  hostCases.map(([name, authority]) => {
    const list = inputs('prefix', 1).map((x) => ({
      ...x,
      request: { ...x.request, authority, path: '/svc0/' },
    }));
    return { name, fn: matches(hostTable, list, 'r0') };
  }),
);
table(
  'Virtual host selection + one route, 1100 virtual hosts (time per match)',
  hostCases.map(([name], i) => ({
    authority: name,
    time: `${fmt((hostResults[i]?.meanNs ?? 0) / PER_CALL, 0)} ns`,
  })),
);

// Compile time: what a config update costs per route table (core swaps tables on update()).
const compileSizes = smoke ? [100] : [100, 1000];
// Each pattern is new to the regex cache on every call (a fresh prefix per call), as on a first
// config; "regex, cached" recompiles the same table, as an update that keeps its routes does.
let generation = 0;
function fresh(n: number): model.RouteConfiguration {
  const c = config('regex', n);
  const g = generation++;
  return {
    ...c,
    virtualHosts: c.virtualHosts.map((vh) => ({
      ...vh,
      routes: vh.routes.map((r) => ({
        ...r,
        match: { ...r.match, safeRegex: `/g${g}${r.match.safeRegex ?? ''}` },
      })),
    })),
  };
}
const compileResults = await measure(
  compileSizes.flatMap((n) => {
    const prefixConfig = config('prefix', n);
    const regexConfig = config('regex', n);
    return [
      {
        name: `prefix ${n}`,
        fn: () => {
          consume(compileRouteTable(prefixConfig));
        },
      },
      {
        name: `regex ${n}`,
        fn: () => {
          consume(compileRouteTable(fresh(n)));
        },
      },
      {
        name: `regex cached ${n}`,
        fn: () => {
          consume(compileRouteTable(regexConfig));
        },
      },
    ];
  }),
  1500,
);
table(
  'compileRouteTable() (time per table, lower is better)',
  compileSizes.map((n, i) => ({
    routes: fmt(n),
    'prefix routes': `${fmt((compileResults[3 * i]?.meanNs ?? 0) / 1e6, 2)} ms`,
    'regex routes, new patterns': `${fmt((compileResults[3 * i + 1]?.meanNs ?? 0) / 1e6, 2)} ms`,
    'regex routes, cached patterns': `${fmt((compileResults[3 * i + 2]?.meanNs ?? 0) / 1e6, 2)} ms`,
  })),
);
