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
 * `ROUND_ROBIN`, `LEAST_REQUEST` and `RANDOM`: choose a priority level (and healthy, degraded or,
 * in panic, all of its hosts) with a random draw against the priority load, then let that hosts
 * source's picker choose. Pickers are built on first use and kept until their level changes.
 * @internal
 */
export class SchedulingBalancer extends HostSetBalancer {
  /** pickers[level * 3 + source] */
  private pickers: (SourcePicker | null | undefined)[] = [];

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

  private build(priority: number, source: number): SourcePicker | null {
    const level = this.levels[priority];
    if (!level) return null;
    const hosts = source === HEALTHY ? level.healthy : source === DEGRADED ? level.degraded : level.all;
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
    for (const h of level.all) s += `${h.key}/${h.weight}/${h.health}/${h.healthySince},`;
    return s;
  }

  protected levelChanged(priority: number): void {
    for (let s = 0; s < 3; s++) this.pickers[priority * 3 + s] = undefined;
  }
}

export type { ResolvedOptions };
