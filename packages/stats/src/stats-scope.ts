import { InvalidArgumentError } from '@meshlet/errors';
import { StatsCounter } from './counter.js';
import { StatsGauge } from './gauge.js';
import { StatsHistogram } from './histogram.js';
import { checkName, checkTags, joinName, keyOf, mergeTags } from './names.js';
import type { Counter, Gauge, Histogram, HistogramUnit, Scope, Tags } from './types.js';

const kUnits: ReadonlySet<string> = new Set([
  'unspecified',
  'bytes',
  'microseconds',
  'milliseconds',
  'percent',
]);

type Kind = 'counter' | 'gauge' | 'histogram';

/** What every scope of one store shares. */
export class Registry {
  /** Tag-extracted name → its kind and how many stats use it: a family has one type. */
  readonly families: Map<string, { kind: Kind; stats: number }> = new Map<
    string,
    { kind: Kind; stats: number }
  >();
  readonly digits: 1 | 2 | 3 | 4 | 5;

  constructor(digits: 1 | 2 | 3 | 4 | 5) {
    this.digits = digits;
  }

  claim(extractedName: string, kind: Kind, flatName: string): void {
    const family = this.families.get(extractedName);
    if (family === undefined) this.families.set(extractedName, { kind, stats: 1 });
    else if (family.kind === kind) family.stats++;
    else {
      throw new InvalidArgumentError(
        `stat ${flatName}: ${extractedName} is already a ${family.kind}, it cannot also be a ${kind}`,
      );
    }
  }

  release(extractedName: string): void {
    const family = this.families.get(extractedName);
    if (family !== undefined && --family.stats === 0) this.families.delete(extractedName);
  }
}

/**
 * A scope: its own stats, keyed by name and tags when they are created, and its child scopes.
 * The store is the root of this tree; removing a scope detaches its subtree.
 */
export class StatsScope implements Scope {
  readonly prefix: string;
  readonly tags: Tags;
  /** Prefix of the tag-extracted names of this scope's stats. */
  readonly extractedPrefix: string;
  /** @internal */
  readonly registry: Registry;
  /** @internal */
  parent: StatsScope | null;
  /** @internal */
  readonly children: Map<string, StatsScope> = new Map<string, StatsScope>();
  /** @internal */
  readonly counterMap: Map<string, StatsCounter> = new Map<string, StatsCounter>();
  /** @internal */
  readonly gaugeMap: Map<string, StatsGauge> = new Map<string, StatsGauge>();
  /** @internal */
  readonly histogramMap: Map<string, StatsHistogram> = new Map<string, StatsHistogram>();
  /** @internal Key of this scope among its parent's children. */
  readonly key: string;
  /** @internal Removed from its store: its stats are not exported and claim no family name. */
  detached = false;

  constructor(
    registry: Registry,
    parent: StatsScope | null,
    prefix: string,
    extractedPrefix: string,
    tags: Tags,
    key: string,
  ) {
    this.registry = registry;
    this.parent = parent;
    this.prefix = prefix;
    this.extractedPrefix = extractedPrefix;
    this.tags = tags;
    this.key = key;
  }

  counter(name: string, tags?: Tags, flatName?: string): Counter {
    const [flat, extracted, merged, key] = this.identify(name, tags, 'counter name', flatName);
    let counter = this.counterMap.get(key);
    if (counter === undefined) {
      if (!this.detached) this.registry.claim(extracted, 'counter', flat);
      counter = new StatsCounter(flat, extracted, merged);
      this.counterMap.set(key, counter);
    }
    return counter;
  }

  gauge(name: string, tags?: Tags): Gauge {
    const [flat, extracted, merged, key] = this.identify(name, tags, 'gauge name');
    let gauge = this.gaugeMap.get(key);
    if (gauge === undefined) {
      if (!this.detached) this.registry.claim(extracted, 'gauge', flat);
      gauge = new StatsGauge(flat, extracted, merged);
      this.gaugeMap.set(key, gauge);
    }
    return gauge;
  }

  histogram(name: string, unit: HistogramUnit = 'unspecified', tags?: Tags): Histogram {
    if (!kUnits.has(unit)) {
      throw new InvalidArgumentError(
        `histogram unit must be one of ${[...kUnits].join(', ')}, got ${JSON.stringify(unit)}`,
      );
    }
    const [flat, extracted, merged, key] = this.identify(name, tags, 'histogram name');
    let histogram = this.histogramMap.get(key);
    if (histogram === undefined) {
      if (!this.detached) this.registry.claim(extracted, 'histogram', flat);
      histogram = new StatsHistogram(flat, extracted, merged, unit, this.registry.digits);
      this.histogramMap.set(key, histogram);
    } else if (histogram.unit !== unit) {
      throw new InvalidArgumentError(`histogram ${flat} already exists in ${histogram.unit}, not ${unit}`);
    }
    return histogram;
  }

  scope(flatPrefix: string, tags?: Tags, extractedPrefix?: string): Scope {
    checkName(flatPrefix, 'scope prefix');
    if (extractedPrefix !== undefined && extractedPrefix !== '')
      checkName(extractedPrefix, 'scope extracted prefix');
    const merged = mergeTags(this.tags, checkTags(tags));
    const flat = joinName(this.prefix, flatPrefix);
    const extracted = joinName(this.extractedPrefix, extractedPrefix ?? flatPrefix);
    const key = keyOf(`${flat}\u0002${extracted}`, merged);
    let child = this.children.get(key);
    if (child === undefined) {
      child = new StatsScope(this.registry, this, flat, extracted, merged, key);
      child.detached = this.detached;
      this.children.set(key, child);
    }
    return child;
  }

  /** Flat name, tag-extracted name, all tags and map key of a stat of this scope. */
  private identify(
    name: string,
    tags: Tags | undefined,
    what: string,
    flatLeaf?: string,
  ): [string, string, Tags, string] {
    checkName(name, what);
    const own = checkTags(tags);
    // A stat's own tags are folded into its flat name as Envoy does (`name.tag.value`), so that
    // two stats told apart only by them keep distinct flat names in `/stats` — unless the caller
    // spells the flat name itself (`upstream_rq_2xx`).
    let flatName = name;
    if (flatLeaf !== undefined) {
      checkName(flatLeaf, `${what} (flat)`);
      flatName = flatLeaf;
    } else for (const tag in own) flatName += `.${tag}.${own[tag] as string}`;
    const merged = mergeTags(this.tags, own);
    const flat = joinName(this.prefix, flatName);
    return [flat, joinName(this.extractedPrefix, name), merged, keyOf(flat, merged)];
  }

  /** @internal Forgets this scope's stats and subtree (their families no longer count them). */
  clear(): void {
    if (this.detached) return;
    for (const c of this.counterMap.values()) this.registry.release(c.tagExtractedName);
    for (const g of this.gaugeMap.values()) this.registry.release(g.tagExtractedName);
    for (const h of this.histogramMap.values()) this.registry.release(h.tagExtractedName);
    this.counterMap.clear();
    this.gaugeMap.clear();
    this.histogramMap.clear();
    for (const child of this.children.values()) {
      child.clear();
      child.parent = null;
      child.detached = true;
    }
    this.children.clear();
  }
}
