// The HTTP filter chain: composed once per config version and connection manager from the
// model's `httpFilters`, run per request by `runRequestHooks` / `runResponseHooks` /
// `runCompleteHooks`.
//
// Configured filter instances are cached across config versions by (filter, instance name,
// config JSON): a filter whose config did not change keeps its compiled state (a rate limiter's
// token buckets) across `update()`. Instances no version uses any more are destroyed.
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { Scope } from '@meshlet/stats';
import type { FilterEnvironment, HttpContext, HttpFilter, RouteEntry } from '../types.js';

/** The marker of a filter skipped for one request (disabled, or disabled on its route). */
export const SKIP: unique symbol = Symbol('meshlet.filter.skip');

/** One filter of a chain, configured. */
export class ChainLink {
  readonly filter: HttpFilter;
  /** The instance name in config (`HttpFilter.name` of the model): the key of per-route overrides. */
  readonly instanceName: string;
  readonly config: unknown;
  /** Off unless a route's per-filter config enables it (`disabled: true` in the chain). */
  readonly disabled: boolean;
  /** Some route of the served route tables overrides this filter's config. */
  hasOverrides = false;
  /** Configured per-route overrides, by the model's override object. */
  readonly overrides: WeakMap<model.FilterConfigOverride, unknown> = new WeakMap<
    model.FilterConfigOverride,
    unknown
  >();

  constructor(filter: HttpFilter, instanceName: string, config: unknown, disabled: boolean) {
    this.filter = filter;
    this.instanceName = instanceName;
    this.config = config;
    this.disabled = disabled;
  }
}

/** What a configured instance needs to be found again and destroyed. */
interface CachedInstance {
  readonly filter: HttpFilter;
  readonly config: unknown;
}

/**
 * Configured filter instances shared by config versions. A `FilterConfigTransaction` configures
 * what a new version needs, reusing instances with the same key; `commit` retires the rest,
 * `abort` destroys what the failed version created.
 */
export class FilterConfigCache {
  private entries = new Map<string, CachedInstance>();
  readonly env: { readonly now: () => number; readonly random: () => number; readonly stats?: Scope };
  /** Called with errors thrown by `destroy`. */
  readonly onError: (error: unknown) => void;

  constructor(
    env: { readonly now: () => number; readonly random: () => number; readonly stats?: Scope },
    onError: (error: unknown) => void,
  ) {
    this.env = env;
    this.onError = onError;
  }

  /** Starts configuring a new config version. */
  begin(): FilterConfigTransaction {
    return new FilterConfigTransaction(this, this.entries);
  }

  /** Adopts a transaction's instances and destroys those it no longer uses. */
  commit(tx: FilterConfigTransaction): void {
    const previous = this.entries;
    this.entries = tx.used;
    for (const [key, instance] of previous) if (!tx.used.has(key)) this.destroy(instance);
  }

  /** Drops the instances a failed transaction created. */
  abort(tx: FilterConfigTransaction): void {
    for (const [key, instance] of tx.used) if (!this.entries.has(key)) this.destroy(instance);
  }

  /** Destroys every cached instance (the proxy closes). */
  clear(): void {
    const previous = this.entries;
    this.entries = new Map();
    for (const instance of previous.values()) this.destroy(instance);
  }

  /** The number of live configured instances. */
  get size(): number {
    return this.entries.size;
  }

  private destroy(instance: CachedInstance): void {
    if (!instance.filter.destroy) return;
    try {
      instance.filter.destroy(instance.config);
    } catch (error) {
      this.onError(error);
    }
  }
}

/** The configuration of one config version, in progress. */
export class FilterConfigTransaction {
  readonly used: Map<string, CachedInstance> = new Map<string, CachedInstance>();
  private readonly cache: FilterConfigCache;
  private readonly previous: ReadonlyMap<string, CachedInstance>;

  constructor(cache: FilterConfigCache, previous: ReadonlyMap<string, CachedInstance>) {
    this.cache = cache;
    this.previous = previous;
  }

  /** The configured instance of `filter` for `config`: reused when unchanged, else configured now. */
  configure(filter: HttpFilter, instanceName: string, config: unknown, where: string): unknown {
    const key = `${filter.name}\u0000${instanceName}\u0000${JSON.stringify(config)}`;
    const known = this.used.get(key) ?? this.previous.get(key);
    if (known?.filter === filter) {
      this.used.set(key, known);
      return known.config;
    }
    const env: FilterEnvironment = {
      now: this.cache.env.now,
      random: this.cache.env.random,
      filterName: instanceName,
      ...(this.cache.env.stats !== undefined ? { stats: this.cache.env.stats } : {}),
    };
    let configured: unknown;
    try {
      configured = filter.configure(config, env);
    } catch (error) {
      if (error instanceof ConfigError) {
        throw new ConfigError(`${where}: filter "${instanceName}": ${error.message}`, { cause: error });
      }
      throw new ConfigError(`${where}: filter "${instanceName}" rejected its config: ${String(error)}`, {
        cause: error,
      });
    }
    this.used.set(key, { filter, config: configured });
    return configured;
  }
}

/** The filter name a model filter config refers to (`router` for the router). */
export function filterNameOf(config: model.HttpFilterConfig): string {
  if (config.type !== 'custom') return config.type;
  const slash = config.typeUrl.lastIndexOf('/');
  return slash === -1 ? config.typeUrl : config.typeUrl.slice(slash + 1);
}

/** The config a filter's `configure` receives: the typed config, or a TypedStruct's `value`. */
function configOf(config: model.HttpFilterConfig | model.FilterConfigOverride): unknown {
  return config.type === 'custom' ? config.value : config;
}

/** The per-filter overrides of the route configurations a chain serves. */
function* overridesOf(
  routeConfig: model.RouteConfiguration,
): Generator<[string, model.FilterConfigOverride, string]> {
  const rc = `route_config "${routeConfig.name}"`;
  for (const [name, o] of Object.entries(routeConfig.typedPerFilterConfig)) yield [name, o, rc];
  for (const vh of routeConfig.virtualHosts) {
    const where = `${rc} virtual_host "${vh.name}"`;
    for (const [name, o] of Object.entries(vh.typedPerFilterConfig)) yield [name, o, where];
    for (const route of vh.routes) {
      const at = `${where} route "${route.name}"`;
      for (const [name, o] of Object.entries(route.typedPerFilterConfig)) yield [name, o, at];
      for (const wc of route.route?.weightedClusters?.clusters ?? []) {
        for (const [name, o] of Object.entries(wc.typedPerFilterConfig))
          yield [name, o, `${at} cluster "${wc.name}"`];
      }
    }
  }
}

/**
 * A connection manager's filter chain for one config version: the filters before the router,
 * configured, and the per-route overrides configured once.
 */
export class FilterChainPlan {
  readonly links: readonly ChainLink[];
  readonly router: model.RouterConfig;
  private readonly tx: FilterConfigTransaction;
  private readonly where: string;

  private constructor(
    links: readonly ChainLink[],
    router: model.RouterConfig,
    tx: FilterConfigTransaction,
    where: string,
  ) {
    this.links = links;
    this.router = router;
    this.tx = tx;
    this.where = where;
  }

  /**
   * Composes the chain of `filters` (a connection manager's `httpFilters`). Built-ins and user
   * filters are found in `registry` by name; an unknown filter is a `ConfigError` unless it is
   * optional; the router must be last. `routeConfigs` are the route tables the chain serves:
   * their per-filter overrides are configured now, so a bad one fails the config version.
   */
  static compile(
    filters: readonly model.HttpFilter[],
    registry: ReadonlyMap<string, HttpFilter>,
    routeConfigs: readonly model.RouteConfiguration[],
    tx: FilterConfigTransaction,
    where: string,
  ): FilterChainPlan {
    const links: ChainLink[] = [];
    const byInstance = new Map<string, ChainLink>();
    let router: model.RouterConfig | undefined;
    filters.forEach((f, i) => {
      if (router !== undefined) {
        throw new ConfigError(`${where}: http filter "${f.name}" comes after the router, which must be last`);
      }
      if (f.config.type === 'router') {
        if (i !== filters.length - 1) {
          throw new ConfigError(`${where}: the router filter "${f.name}" must be the last http filter`);
        }
        router = f.config;
        return;
      }
      const name = filterNameOf(f.config);
      const filter = registry.get(name);
      if (filter === undefined) {
        if (f.isOptional) return;
        throw new ConfigError(
          `${where}: http filter "${f.name}" names "${name}", which is neither a built-in filter nor one passed in \`filters\``,
        );
      }
      if (byInstance.has(f.name))
        throw new ConfigError(`${where}: http filter name "${f.name}" is used twice`);
      const config = tx.configure(filter, f.name, configOf(f.config), where);
      const link = new ChainLink(filter, f.name, config, f.disabled);
      byInstance.set(f.name, link);
      links.push(link);
    });
    if (router === undefined) {
      throw new ConfigError(
        `${where}: the http filters end without the router filter ("envoy.filters.http.router")`,
      );
    }
    for (const rc of routeConfigs) {
      for (const [instance, override, at] of overridesOf(rc)) {
        const link = byInstance.get(instance);
        // Overrides for filters this chain lacks belong to other connection managers sharing
        // the route table (RDS); Envoy ignores them too.
        if (link === undefined) continue;
        link.hasOverrides = true;
        if (override.type === 'disabled' || link.overrides.has(override)) continue;
        link.overrides.set(
          override,
          tx.configure(link.filter, instance, configOf(override), `${where} ${at}`),
        );
      }
    }
    return new FilterChainPlan(links, router, tx, where);
  }

  /** The config of `link` for a request on `route`, or `SKIP`. */
  resolve(link: ChainLink, route: RouteEntry | null): unknown {
    if (!link.hasOverrides || route === null) return link.disabled ? SKIP : link.config;
    const override = route.perFilterConfig.get(link.instanceName);
    if (override === undefined) return link.disabled ? SKIP : link.config;
    if (override.type === 'disabled') return SKIP;
    let config = link.overrides.get(override);
    if (config === undefined) {
      // A route table that copied its overrides: configure this one once, now.
      config = this.tx.configure(link.filter, link.instanceName, configOf(override), this.where);
      link.overrides.set(override, config);
    }
    return config;
  }
}

// ── running a chain ────────────────────────────────────────────────────────────────────────────

/** What the runner needs of a stream (the connection manager's `HttpStream`). */
export interface ChainStream extends HttpContext {
  readonly plan: FilterChainPlan;
  /** The config each link ran with, or `SKIP`; filled as request hooks run. */
  readonly filterConfigs: unknown[];
  /** How many links the request hooks reached (their `onRequest` ran or was absent). */
  requestIndex: number;
  /** The link whose response hook runs next (counting down), -1 when done. */
  responseIndex: number;
  /** The request hooks are done and nothing replied: forward the request. */
  forward(): void;
  /** The response hooks are done: send the head (upstream or local). */
  sendResponse(): void;
  /** A hook threw or rejected: reply 500 (or reset after the head) and report it. */
  hookFailed(error: unknown, link: ChainLink): void;
  /** Whether the stream may go on (not aborted, not reset). */
  readonly live: boolean;
}

function isThenable(value: unknown): value is PromiseLike<void> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** Runs request hooks from link `from`; forwards when all ran and nothing replied. */
export function runRequestHooks(stream: ChainStream, from: number): void {
  const links = stream.plan.links;
  for (let i = from; i < links.length; i++) {
    if (stream.replied || !stream.live) return;
    const link = links[i] as ChainLink;
    const config = stream.plan.resolve(link, stream.route);
    stream.filterConfigs[i] = config;
    stream.requestIndex = i + 1;
    if (config === SKIP || link.filter.onRequest === undefined) continue;
    let result: unknown;
    try {
      result = link.filter.onRequest(stream, config);
    } catch (error) {
      stream.hookFailed(error, link);
      return;
    }
    if (isThenable(result)) {
      const next = i + 1;
      result.then(
        () => {
          runRequestHooks(stream, next);
        },
        (error: unknown) => {
          stream.hookFailed(error, link);
        },
      );
      return;
    }
  }
  if (stream.replied || !stream.live) return;
  stream.forward();
}

/** Runs response hooks downwards from `stream.responseIndex`, then sends the response. */
export function runResponseHooks(stream: ChainStream): void {
  const links = stream.plan.links;
  while (stream.responseIndex >= 0) {
    if (!stream.live) return;
    const i = stream.responseIndex--;
    const link = links[i] as ChainLink;
    const config = stream.filterConfigs[i];
    if (config === SKIP || link.filter.onResponse === undefined) continue;
    let result: unknown;
    try {
      result = link.filter.onResponse(stream, config);
    } catch (error) {
      stream.hookFailed(error, link);
      continue;
    }
    if (isThenable(result)) {
      result.then(
        () => {
          runResponseHooks(stream);
        },
        (error: unknown) => {
          stream.hookFailed(error, link);
          runResponseHooks(stream);
        },
      );
      return;
    }
  }
  if (stream.live) stream.sendResponse();
}

/** Runs `onComplete` of every link the request hooks reached, once. */
export function runCompleteHooks(
  stream: ChainStream,
  onError: (error: unknown, link: ChainLink) => void,
): void {
  const links = stream.plan.links;
  for (let i = 0; i < stream.requestIndex; i++) {
    const link = links[i] as ChainLink;
    const config = stream.filterConfigs[i];
    if (config === SKIP || link.filter.onComplete === undefined) continue;
    try {
      link.filter.onComplete(stream, config);
    } catch (error) {
      onError(error, link);
    }
  }
}
