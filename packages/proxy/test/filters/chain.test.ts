import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { ConfigError, defineHttpFilter } from '../../src/index.js';
import { FilterChainPlan, FilterConfigCache, SKIP, type ChainLink } from '../../src/filters/chain.js';
import type { RouteEntry } from '../../src/types.js';
import { customFilter, hcm, route, routeConfig, virtualHost } from '../e2e/helpers.js';

function counter() {
  const made: string[] = [];
  const destroyed: string[] = [];
  const filter = defineHttpFilter<{ n: number }>({
    name: 'acme.count',
    configure(config) {
      const n = (config as { n?: unknown }).n;
      if (typeof n !== 'number') throw new ConfigError('n must be a number');
      made.push(String(n));
      return { n };
    },
    onRequest: () => undefined,
    destroy(cfg) {
      destroyed.push(String(cfg.n));
    },
  });
  return { filter, made, destroyed };
}

const rc = (routes: model.Route[] = []) => [routeConfig('rc', [virtualHost('vh', ['*'], routes)])];

describe('defineHttpFilter', () => {
  it('returns a frozen filter with only the hooks given', () => {
    const f = defineHttpFilter({ name: 'a.b', configure: () => 1, onRequest: () => undefined });
    expect(Object.isFrozen(f)).toBe(true);
    expect(typeof f.onRequest).toBe('function');
    expect('onResponse' in f).toBe(false);
  });

  it('rejects a bad name or a hook that is not a function', () => {
    expect(() => defineHttpFilter({ name: '', configure: () => 1 })).toThrow(ConfigError);
    expect(() => defineHttpFilter({ name: 'bad name', configure: () => 1 })).toThrow(/name/);
    expect(() =>
      defineHttpFilter({ name: 'x', configure: () => 1, onRequest: 'no' as unknown as () => void }),
    ).toThrow(/onRequest must be a function/);
    expect(() => defineHttpFilter({ name: 'x' } as never)).toThrow(/configure must be a function/);
  });
});

describe('FilterChainPlan', () => {
  it('finds user filters by the TypedStruct type URL and keeps the router last', () => {
    const { filter } = counter();
    const cache = new FilterConfigCache({ now: () => 0, random: () => 0 }, () => undefined);
    const tx = cache.begin();
    const plan = FilterChainPlan.compile(
      hcm({ httpFilters: [customFilter('count', 'acme.count', { n: 1 })] }).httpFilters,
      new Map([[filter.name, filter]]),
      rc(),
      tx,
      'listener "l"',
    );
    expect(plan.links.map((l) => l.instanceName)).toEqual(['count']);
    expect(plan.router.type).toBe('router');
  });

  it('throws a ConfigError naming the listener and filter for an unknown filter; skips an optional one', () => {
    const cache = new FilterConfigCache({ now: () => 0, random: () => 0 }, () => undefined);
    const filters = hcm({ httpFilters: [customFilter('mystery', 'acme.mystery')] }).httpFilters;
    expect(() => FilterChainPlan.compile(filters, new Map(), rc(), cache.begin(), 'listener "l"')).toThrow(
      /listener "l": http filter "mystery" names "acme.mystery"/,
    );
    const optional = hcm({
      httpFilters: [customFilter('mystery', 'acme.mystery', {}, { isOptional: true })],
    });
    expect(FilterChainPlan.compile(optional.httpFilters, new Map(), rc(), cache.begin(), 'l').links).toEqual(
      [],
    );
  });

  it('requires the router, last', () => {
    const cache = new FilterConfigCache({ now: () => 0, random: () => 0 }, () => undefined);
    const { filter } = counter();
    const registry = new Map([[filter.name, filter]]);
    const noRouter = [customFilter('count', 'acme.count', { n: 1 })];
    expect(() => FilterChainPlan.compile(noRouter, registry, rc(), cache.begin(), 'l')).toThrow(
      /without the router/,
    );
    const [router] = hcm().httpFilters;
    const routerFirst = [router as model.HttpFilter, customFilter('count', 'acme.count', { n: 1 })];
    expect(() => FilterChainPlan.compile(routerFirst, registry, rc(), cache.begin(), 'l')).toThrow(
      /must be the last/,
    );
  });

  it('reuses configured instances across versions and destroys retired ones', () => {
    const { filter, made, destroyed } = counter();
    const registry = new Map([[filter.name, filter]]);
    const cache = new FilterConfigCache({ now: () => 0, random: () => 0 }, () => undefined);
    const build = (n: number) => {
      const tx = cache.begin();
      const plan = FilterChainPlan.compile(
        hcm({ httpFilters: [customFilter('count', 'acme.count', { n })] }).httpFilters,
        registry,
        rc(),
        tx,
        'l',
      );
      cache.commit(tx);
      return plan;
    };
    const v1 = build(1);
    const v2 = build(1);
    expect(v2.links[0]?.config).toBe(v1.links[0]?.config);
    expect(made).toEqual(['1']);
    build(2);
    expect(made).toEqual(['1', '2']);
    expect(destroyed).toEqual(['1']);
    cache.clear();
    expect(destroyed).toEqual(['1', '2']);
  });

  it('destroys what a failed version configured and keeps the previous one', () => {
    const { filter, destroyed } = counter();
    const registry = new Map([[filter.name, filter]]);
    const cache = new FilterConfigCache({ now: () => 0, random: () => 0 }, () => undefined);
    const ok = cache.begin();
    FilterChainPlan.compile(
      hcm({ httpFilters: [customFilter('count', 'acme.count', { n: 1 })] }).httpFilters,
      registry,
      rc(),
      ok,
      'l',
    );
    cache.commit(ok);
    const bad = cache.begin();
    const filters = hcm({
      httpFilters: [
        customFilter('count', 'acme.count', { n: 3 }),
        customFilter('c2', 'acme.count', { n: 'x' }),
      ],
    }).httpFilters;
    expect(() => FilterChainPlan.compile(filters, registry, rc(), bad, 'listener "l"')).toThrow(
      /listener "l": filter "c2": n must be a number/,
    );
    cache.abort(bad);
    expect(destroyed).toEqual(['3']);
    expect(cache.size).toBe(1);
  });

  it('applies per-route overrides, disabled-by-default filters and route-level disabling', () => {
    const { filter, made } = counter();
    const registry = new Map([[filter.name, filter]]);
    const cache = new FilterConfigCache({ now: () => 0, random: () => 0 }, () => undefined);
    const override: model.FilterConfigOverride = {
      type: 'custom',
      typeUrl: 'type.googleapis.com/acme.count',
      value: { n: 9 },
    };
    const off: model.FilterConfigOverride = { type: 'disabled' };
    const routes = [
      route('on', { typedPerFilterConfig: { count: override, late: override } }),
      route('off', { typedPerFilterConfig: { count: off } }),
    ];
    const plan = FilterChainPlan.compile(
      hcm({
        httpFilters: [
          customFilter('count', 'acme.count', { n: 1 }),
          customFilter('late', 'acme.count', { n: 2 }, { disabled: true }),
        ],
      }).httpFilters,
      registry,
      rc(routes),
      cache.begin(),
      'l',
    );
    expect(made).toEqual(['1', '2', '9', '9']);
    const entry = (perFilterConfig: Map<string, model.FilterConfigOverride>) =>
      ({ perFilterConfig }) as unknown as RouteEntry;
    const [count, late] = plan.links;
    expect(plan.resolve(count as ChainLink, null)).toEqual({ n: 1 });
    expect(plan.resolve(late as ChainLink, null)).toBe(SKIP);
    const on = entry(
      new Map([
        ['count', override],
        ['late', override],
      ]),
    );
    expect(plan.resolve(count as ChainLink, on)).toEqual({ n: 9 });
    expect(plan.resolve(late as ChainLink, on)).toEqual({ n: 9 });
    expect(plan.resolve(count as ChainLink, entry(new Map([['count', off]])))).toBe(SKIP);
    expect(plan.resolve(late as ChainLink, entry(new Map()))).toBe(SKIP);
  });
});
