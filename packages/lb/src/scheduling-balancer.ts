import { EdfScheduler, type Weigher } from './edf-scheduler.js';
import type { Host } from './host.js';
import { HostSetBalancer, type Level, type ResolvedOptions } from './host-set-balancer.js';
import { LeastRequestPicker } from './least-request.js';
import { choosePriority } from './priority-load.js';
import { RandomPicker } from './random.js';
import { RoundRobinPicker } from './round-robin.js';
import type { SourcePicker } from './source-picker.js';
import type { PickContext } from './types.js';

// Hosts sources of a level, as Envoy's HostsSource::SourceType.
const HEALTHY = 0;
const DEGRADED = 1;
const ALL = 2;

/**
 * Chooses a locality of one hosts source, by EDF over effective locality weights: the locality's
 * weight times `min(1, overprovisioningFactor * eligible hosts / hosts)` (Envoy's
 * HostSetImpl::effectiveLocalityWeight).
 */
class LocalityChooser implements Weigher<number> {
  private readonly weights: readonly number[];
  private readonly edf: EdfScheduler<number>;

  constructor(indexes: readonly number[], weights: readonly number[], initialPicks: number) {
    this.weights = weights;
    this.edf = new EdfScheduler(indexes, this, initialPicks);
  }

  pick(): number {
    return this.edf.pick(this);
  }

  weightOf(index: number): number {
    return this.weights[index] as number;
  }
}

/**
 * `ROUND_ROBIN`, `LEAST_REQUEST` and `RANDOM`: choose a priority level (and healthy, degraded or,
 * in panic, all of its hosts) with a random draw against the priority load, then let that hosts
 * source's picker choose. Pickers are built on first use and kept until their level changes.
 * @internal
 */
export class SchedulingBalancer extends HostSetBalancer {
  /** pickers[level * 3 + source] */
  private pickers: (SourcePicker | null | undefined)[] = [];
  /** With locality-weighted balancing: localityChoosers[level * 3 + source], and a picker per locality. */
  private localityChoosers: (LocalityChooser | null | undefined)[] = [];
  private localityPickers: (SourcePicker | null | undefined)[][] = [];

  pick(ctx: PickContext | undefined): Host | null {
    let host = this.chooseOnce();
    const reject = ctx?.shouldSelectAnotherHost;
    if (host === null || typeof reject !== 'function') return host;
    const retries = HostSetBalancer.retries(ctx as PickContext);
    for (let i = 0; i < retries && reject(host); i++) {
      const next = this.chooseOnce();
      if (next === null) break;
      host = next;
    }
    return host;
  }

  private chooseOnce(): Host | null {
    if (this.size === 0) return null;
    let level = this.only;
    let source = HEALTHY;
    if (level < 0) {
      const choice = choosePriority(Math.floor(this.options.random() * 100) + 1, this.load);
      level = choice >> 1;
      source = this.load.panic[level] === true ? ALL : choice & 1 ? DEGRADED : HEALTHY;
    }
    const slot = level * 3 + source;
    if (this.options.localityWeighted && source !== ALL) {
      const host = this.chooseInLocality(level, source, slot);
      if (host !== null) return host;
    }
    let picker = this.pickers[slot];
    if (
      picker === undefined ||
      (picker !== null && picker.expiresAt !== Infinity && this.options.clock() >= picker.expiresAt)
    ) {
      picker = this.build(level, source);
      this.pickers[slot] = picker;
    }
    return picker === null ? null : picker.pick();
  }

  /** Locality-weighted: a locality by effective weight, then a host of it; null when no locality is eligible. */
  private chooseInLocality(priority: number, source: number, slot: number): Host | null {
    let chooser = this.localityChoosers[slot];
    if (chooser === undefined) {
      chooser = this.buildChooser(priority, source);
      this.localityChoosers[slot] = chooser;
    }
    if (chooser === null) return null;
    const locality = chooser.pick();
    const pickers = (this.localityPickers[slot] ??= []);
    let picker = pickers[locality];
    if (
      picker === undefined ||
      (picker !== null && picker.expiresAt !== Infinity && this.options.clock() >= picker.expiresAt)
    ) {
      const group = this.levels[priority]?.localities[locality];
      picker = group ? this.create(source === HEALTHY ? group.healthy : group.degraded) : null;
      pickers[locality] = picker;
    }
    return picker === null ? null : picker.pick();
  }

  private buildChooser(priority: number, source: number): LocalityChooser | null {
    const level = this.levels[priority];
    if (!level) return null;
    const factor = this.options.overprovisioningFactor / 100;
    const weights: number[] = [];
    const eligible: number[] = [];
    level.localities.forEach((group, i) => {
      const available = source === HEALTHY ? group.healthy.length : group.degraded.length;
      const weight =
        group.all.length === 0 ? 0 : group.weight * Math.min(1, (factor * available) / group.all.length);
      weights.push(weight);
      if (weight > 0) eligible.push(i);
    });
    if (eligible.length === 0) return null;
    return new LocalityChooser(eligible, weights, Math.floor(this.options.random() * eligible.length));
  }

  private build(priority: number, source: number): SourcePicker | null {
    const level = this.levels[priority];
    if (!level) return null;
    return this.create(source === HEALTHY ? level.healthy : source === DEGRADED ? level.degraded : level.all);
  }

  private create(hosts: readonly Host[]): SourcePicker | null {
    if (hosts.length === 0) return null;
    switch (this.options.policy) {
      case 'LEAST_REQUEST':
        return new LeastRequestPicker(hosts, this.options);
      case 'RANDOM':
        return new RandomPicker(hosts, this.options);
      default:
        return new RoundRobinPicker(hosts, this.options);
    }
  }

  protected signatureOf(level: Level): string {
    let s = '';
    for (const h of level.all) s += `${h.key}/${h.weight}/${h.health}/${h.healthySince}/${h.localityWeight},`;
    for (const g of level.localities) s += `|${g.key}:${g.all.length}`;
    return s;
  }

  protected levelChanged(priority: number): void {
    for (let s = 0; s < 3; s++) {
      this.pickers[priority * 3 + s] = undefined;
      this.localityChoosers[priority * 3 + s] = undefined;
      this.localityPickers[priority * 3 + s] = [];
    }
  }
}

export type { ResolvedOptions };
