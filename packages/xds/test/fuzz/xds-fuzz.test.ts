// Fuzzing what a control plane or a config file can hand to meshlet. Seeds: the feature-complete
// fixtures of this package (shop.yaml, more-features.yaml, bootstrap.yaml). Edits: a value at a
// random path replaced by a hostile one (wrong type, huge count, deep nesting, catastrophic
// regex, lone surrogate, out-of-range number, prototype keys), the same resources mutated as
// protobuf bytes, bootstrap files mutated as bytes (invalid UTF-8 included), and RE2 patterns
// from a grammar. Invariant: a result or a typed MeshletError naming the problem; never another
// exception, never a hang; translated models pass `validate` without throwing.
// Long run: MESHLET_FUZZ_RUNS=5000 pnpm exec vitest run packages/xds/test/fuzz (see test/support/fuzz.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isMeshletError } from '@meshlet/errors';
import {
  TYPE_URLS,
  compileRegex,
  encodeResource,
  formatIssue,
  loadBootstrap,
  parseBootstrap,
  translate,
  translateResource,
  validate,
} from '@meshlet/xds';
import { fuzzParams, fuzzTimeout, mutate, mutation } from '../../../../test/support/fuzz.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const corpus = [parseYaml(fixture('shop.yaml')) as Json, parseYaml(fixture('more-features.yaml')) as Json];
const bootstrapText = fixture('bootstrap.yaml');

/**
 * Slowest input allowed, in ms: generous (2 cores shared by other jobs: 20,000 list items take
 * 0.2 to 3 s here, linearly), yet far below what a hang or a quadratic blow-up looks like.
 */
const SLOW_MS = 10_000;

/**
 * Paths to values in `tree` (keys and indexes), walked without recursion: down to `MAX_PATH_DEPTH`
 * and at most `MAX_PATHS` of them. An earlier edit may have put a 2,000-deep or 20,000-wide value
 * in the tree; listing every path into it overflowed this harness's stack, or, with both, its heap
 * (4 GB in one CI run), while the code under test was fine. Edits land in the real resources, and
 * in the first levels of what earlier edits put there.
 */
const MAX_PATH_DEPTH = 64;
const MAX_PATHS = 20_000;
function pathsOf(tree: Json): (string | number)[][] {
  const out: (string | number)[][] = [];
  const stack: { value: Json; path: (string | number)[] }[] = [{ value: tree, path: [] }];
  while (stack.length > 0 && out.length < MAX_PATHS) {
    const { value, path } = stack.pop() as { value: Json; path: (string | number)[] };
    out.push(path);
    if (path.length >= MAX_PATH_DEPTH || value === null || typeof value !== 'object') continue;
    const entries: [string | number, Json][] = Array.isArray(value)
      ? value.map((v, i): [number, Json] => [i, v])
      : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i] as [string | number, Json];
      stack.push({ value: v, path: [...path, k] });
    }
  }
  return out;
}

function deep(depth: number, leaf: Json, wrap: (inner: Json) => Json): Json {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

const evilRegexes = [
  '(a+)+$',
  '^(a|aa)*b',
  '(x+x+)+y',
  '(.*){1,1000}',
  'a{1000}{1000}',
  '(?=x)',
  '(a)\\1',
  '[',
  '\\p{Bogus}',
];

/** Values a broken or hostile control plane may put anywhere. */
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, '', 'x', [], {}),
  fc.constantFrom<Json>('1e400s', '-1s', '99999999999999999s', '0.0000000001s', 'NaN', 'Infinity', '0x10'),
  fc.constantFrom<Json>('\ud800', 'a\udc00b', '\u0000', 'caf\u00e9', '\u202e', '../../etc/passwd'),
  fc.constantFrom<Json>(...evilRegexes),
  fc.constantFrom<Json>(
    { safe_regex: { regex: '(a+)+$' } },
    { regex: '(.*){1,1000}' },
    { exact: 'x', prefix: 'y' },
  ),
  fc.constantFrom<Json>({ __proto__: { polluted: 1 } } as Json, { constructor: { prototype: { x: 1 } } }),
  fc.integer({ min: 65, max: 2000 }).map((n) => deep(n, {}, (inner) => ({ a: inner }))),
  fc.integer({ min: 65, max: 2000 }).map((n) => deep(n, 1, (inner) => [inner])),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => Array.from({ length: n }, () => ({}))),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

const edit = fc.record({
  at: fc.nat(),
  value: hostileValue,
  renameTo: fc.option(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'x-unknown', '@type', 'typedConfig'),
    { nil: undefined },
  ),
});
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

/** `tree` with each edit applied at a path picked among its current paths. */
function applyEdits(tree: Json, edits: readonly Edit[]): Json {
  let root = structuredClone(tree);
  for (const e of edits) {
    const paths = pathsOf(root);
    const target = paths[e.at % paths.length] ?? [];
    if (target.length === 0) {
      root = e.value;
      continue;
    }
    let parent: Json = root;
    for (const k of target.slice(0, -1)) parent = (parent as Record<string | number, Json>)[k] as Json;
    const key = target[target.length - 1] as string | number;
    const holder = parent as Record<string | number, Json>;
    if (e.renameTo !== undefined && typeof key === 'string') {
      const v = holder[key] as Json;
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a fuzz edit: renaming a field
      delete holder[key];
      Object.defineProperty(holder, e.renameTo, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      holder[key] = e.value;
    }
  }
  return root;
}

/** Runs `f`, checking it only ever throws typed errors and takes no longer than SLOW_MS. */
function bounded<T>(f: () => T): T | Error {
  const started = performance.now();
  try {
    return f();
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
    return err;
  } finally {
    expect(performance.now() - started).toBeLessThan(SLOW_MS);
  }
}

describe('fuzz: xDS resources and bootstrap files', () => {
  it(
    'hostile values at random paths of real resources: a model or errors with a path, never a throw',
    () => {
      const seen = { ok: 0, errors: 0 };
      fc.assert(
        fc.property(
          fc.constantFrom(...corpus),
          fc.array(edit, { minLength: 1, maxLength: 3 }),
          (seed, edits) => {
            const input = applyEdits(seed, edits);
            const result = bounded(() => translate(input));
            if (result instanceof Error) return;
            for (const e of result.errors) expect(formatIssue(e).length).toBeGreaterThan(0);
            if (result.errors.length > 0) seen.errors++;
            else seen.ok++;
            // What translated is a model the validator can read, whatever it says of it.
            bounded(() =>
              validate({
                listeners: result.listeners,
                routeConfigurations: result.routeConfigurations,
                clusters: result.clusters,
                endpoints: result.endpoints,
              }),
            );
            // Nothing leaked onto Object.prototype.
            expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          },
        ),
        fuzzParams(80),
      );
      expect(seen.errors).toBeGreaterThan(0);
    },
    fuzzTimeout(25_000),
  );

  it(
    'the same resources as mutated protobuf bytes: a resource or errors, never a throw',
    () => {
      const shop = corpus[0] as Record<string, Json[]>;
      const anys = [
        ...(shop.listeners ?? []).map((r) => encodeResource(r as object, TYPE_URLS.listener)),
        ...(shop.routes ?? []).map((r) => encodeResource(r as object, TYPE_URLS.routeConfiguration)),
        ...(shop.clusters ?? []).map((r) => encodeResource(r as object, TYPE_URLS.cluster)),
        ...(shop.endpoints ?? []).map((r) => encodeResource(r as object, TYPE_URLS.clusterLoadAssignment)),
      ];
      fc.assert(
        fc.property(
          fc.constantFrom(...anys),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          (any, edits) => {
            const out = bounded(() =>
              translateResource({ typeUrl: any.typeUrl, value: mutate(any.value, edits) }),
            );
            if (out instanceof Error) return;
            if (!out.ok) for (const e of out.errors) expect(e.message.length).toBeGreaterThan(0);
          },
        ),
        fuzzParams(400),
      );
    },
    fuzzTimeout(20_000),
  );

  const dir = mkdtempSync(path.join(tmpdir(), 'meshlet-fuzz-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'bootstrap files mutated as bytes (invalid UTF-8 included): a bootstrap or a typed error',
    () => {
      const file = path.join(dir, 'bootstrap.yaml');
      const seen = new Set<string>();
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (edits) => {
          const bytes = mutate(Buffer.from(bootstrapText), edits);
          writeFileSync(file, bytes);
          const out = bounded(() => loadBootstrap(file));
          seen.add(out instanceof Error ? (out as Error & { code: string }).code : 'ok');
        }),
        fuzzParams(150),
      );
      expect(seen.has('ok')).toBe(true);
      expect(seen.has('MESHLET_ERR_XDS_BOOTSTRAP')).toBe(true);
    },
    fuzzTimeout(20_000),
  );

  it(
    'bootstrap objects with hostile values at random paths: a bootstrap or a typed error',
    () => {
      const seed = parseYaml(bootstrapText) as Json;
      fc.assert(
        fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.boolean(), (edits, asText) => {
          const input = applyEdits(seed, edits);
          // As a parsed object, and as the text of a file (JSON, which YAML includes).
          bounded(() => parseBootstrap(asText ? JSON.stringify(input) : (input as object)));
        }),
        fuzzParams(80),
      );
    },
    fuzzTimeout(25_000),
  );
});

describe('fuzz: safe_regex (RE2 semantics, linear time)', () => {
  // RE2 syntax and the constructs RE2 refuses (backreferences, lookarounds), nested freely.
  const atom = fc.constantFrom(
    'a',
    'b',
    '.',
    '\\w',
    '\\s',
    '\\d',
    '[a-z]',
    '[^a]',
    '\\p{L}',
    '(?i:a)',
    '\\1',
    '(?=a)',
    '(?<=a)',
    '\\b',
    '^',
    '$',
    '\\Q.*\\E',
  );
  const regex: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
    re: fc.oneof(
      { maxDepth: 4, depthIdentifier: 're' },
      atom,
      fc
        .tuple(tie('re'), fc.constantFrom('*', '+', '?', '{2,5}', '{0,200}', '{50}', '*?', '{1000}'))
        .map(([r, q]) => `(?:${r})${q}`),
      fc.tuple(tie('re'), tie('re')).map(([x, y]) => `${x}${y}`),
      fc.tuple(tie('re'), tie('re')).map(([x, y]) => `(${x}|${y})`),
    ),
  })).re;
  const input = fc.oneof(
    fc.integer({ min: 1, max: 16_384 }).map((n) => `${'a'.repeat(n)}!`),
    fc.integer({ min: 1, max: 4096 }).map((n) => 'ab '.repeat(n)),
    fc.string({ maxLength: 256 }),
  );

  it(
    'every pattern compiles or is refused with a reason; a compiled one matches 16 KiB in linear time',
    () => {
      const seen = { compiled: 0, refused: 0 };
      fc.assert(
        fc.property(regex, input, (pattern, text) => {
          const compiled = bounded(() => compileRegex(pattern));
          if (typeof compiled === 'string') {
            seen.refused++;
            expect(compiled.length).toBeGreaterThan(0);
            return;
          }
          if (compiled instanceof Error) return;
          seen.compiled++;
          const started = performance.now();
          compiled.matches(text);
          compiled.test(text);
          expect(performance.now() - started).toBeLessThan(SLOW_MS);
        }),
        fuzzParams(300),
      );
      expect(seen.compiled).toBeGreaterThan(0);
      expect(seen.refused).toBeGreaterThan(0);
    },
    fuzzTimeout(25_000),
  );

  it(
    'a route with any such pattern translates or is refused at the field, never thrown',
    () => {
      fc.assert(
        fc.property(regex, (pattern) => {
          const out = bounded(() =>
            translateResource({
              '@type': TYPE_URLS.routeConfiguration,
              name: 'r',
              virtual_hosts: [
                {
                  name: 'v',
                  domains: ['*'],
                  routes: [
                    {
                      match: {
                        safe_regex: { regex: pattern },
                        headers: [{ name: 'x', string_match: { safe_regex: { regex: pattern } } }],
                      },
                      route: {
                        cluster: 'c',
                        regex_rewrite: { pattern: { regex: pattern }, substitution: '\\1' },
                      },
                    },
                  ],
                },
              ],
            }),
          );
          if (out instanceof Error || out.ok) return;
          for (const e of out.errors)
            expect(formatIssue(e)).toMatch(/^route_config "r" › virtual_hosts\[0\] › routes\[0\] › /);
        }),
        fuzzParams(200),
      );
    },
    fuzzTimeout(20_000),
  );
});
